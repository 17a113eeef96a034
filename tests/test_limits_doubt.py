"""Doubtful limits results (harness.limits.doubt): stored curves like issue 15's 2-vCPU
Zen 4 VM (no single LLC knee) against a clean single-knee curve, and `run` refusing to
size tables from a doubtful one unless asked."""

import json

import pytest

from cli import assert_usage_error, run_harness

from harness.commands.limits import summary
from harness.limits.analysis import analyse
from harness.limits.doubt import doubts, steps

MiB = 2**20
LLC = 32 * MiB
MACHINE = {"llc_bytes": LLC, "caches": [
    {"level": 1, "type": "Data", "size_bytes": 32 * 1024},
    {"level": 2, "type": "Unified", "size_bytes": MiB},
    {"level": 3, "type": "Unified", "size_bytes": LLC}]}
SIZES = [MiB // 2, 8 * MiB, 32 * MiB, 128 * MiB, 512 * MiB, 2048 * MiB]
# Issue 15, item 7: the 512-byte demand curve of `limits --quick` on the quiet VM.
VM_CURVE = [12.6, 44, 59, 69, 89, 191]
CLEAN_CURVE = [5, 6.5, 30, 75, 80, 85]


def _rows(dim, ns_list, kernel="gather", threads=1, gbytes=None):
    return [{"kernel": kernel, "status": "ok", "dim": str(dim), "threads": str(threads),
             "table_bytes": str(ws), "ns_per_lookup": str(ns),
             "gbytes_per_s": str(gbytes[i] if gbytes else 0.0),
             "params": json.dumps({"prefetch": 0})}
            for i, (ws, ns) in enumerate(zip(SIZES, ns_list))]


def test_issue_curve_is_doubtful_with_its_numbers():
    limits = analyse(_rows(128, VM_CURVE), MACHINE)
    assert limits["effective_llc_bytes"] > 4 * LLC  # the midpoint lands far past the LLC
    assert limits["doubtful"]
    text = "\n".join(limits["doubtful_reasons"])
    assert "no clear LLC knee" in text and "keeps rising past 8x" in text
    assert "89 ns at 512 MiB, 191 ns at 2 GiB" in text
    assert "x the 32 MiB LLC sysfs reports" in text
    printed = summary(limits)
    assert "DOUBTFUL" in printed and "doubtful: no clear LLC knee" in printed


def test_clean_single_knee_is_not_doubtful():
    limits = analyse(_rows(16, CLEAN_CURVE) + _rows(128, CLEAN_CURVE), MACHINE)
    assert 16 * MiB < limits["effective_llc_bytes"] < 32 * MiB
    assert limits["doubtful_reasons"] == [] and limits["doubtful"] is False
    assert "DOUBTFUL" not in summary(limits)


def test_several_steps():
    two = [(2 * MiB, 10), (8 * MiB, 10), (32 * MiB, 40), (128 * MiB, 42), (512 * MiB, 160)]
    found = steps(two, above=2 * MiB)
    assert [(a, b) for a, b, _ in found] == [(8 * MiB, 32 * MiB), (128 * MiB, 512 * MiB)]
    one = [(2 * MiB, 10), (8 * MiB, 20), (16 * MiB, 40), (128 * MiB, 42)]
    assert len(steps(one, above=2 * MiB)) == 1  # neighbouring rises are one step
    limits = analyse(_rows(16, [5, 10, 40, 42, 160, 165]), MACHINE)
    assert any("rises in 2 steps" in r for r in limits["doubtful_reasons"])


def test_row_sizes_disagree_and_llc_slower_than_dram():
    late = [5, 6, 7, 8, 60, 62]        # knee near 256 MiB
    early = [5, 6.5, 30, 75, 80, 85]   # knee near 25 MiB
    stream = [{"kernel": "stream", "status": "ok", "dim": "16", "threads": "2",
               "table_bytes": str(ws), "ns_per_lookup": "1", "gbytes_per_s": str(gb)}
              for ws, gb in ((8 * MiB, 11.0), (512 * MiB, 24.1))]
    limits = analyse(_rows(16, late) + _rows(128, early) + stream, MACHINE)
    text = "\n".join(limits["doubtful_reasons"])
    assert "the row sizes disagree on the effective LLC (64-byte rows" in text
    assert "streaming reads 11.0 GB/s from the LLC, 24.1 GB/s from DRAM" in text
    latency = {"latency_ns_by_level": {"LLC": {"ns": 90.0}, "DRAM": {"ns": 80.0}},
               "sysfs_llc_bytes": LLC}
    assert doubts(latency) == ["the LLC is slower than DRAM: load latency 90.0 ns in the "
                               "LLC, 80.0 ns in DRAM"]


SCENARIO = ("name: e\nthreads: [1]\nbatch_sizes: [8]\n"
            "tables: {sizes: ['0.5x effective-LLC'], dim: 16%s}\n"
            "kernels: [{kernel: baseline}]\n")


def _doubtful_limits_dir(tmp_path):
    from harness.machine.detect import describe_machine

    machine = describe_machine()
    limits = analyse(_rows(128, VM_CURVE), MACHINE | {"llc_bytes": machine.llc_bytes})
    limits |= {"machine_identity": machine.identity(), "effective_llc_bytes": 16 * MiB}
    assert limits["doubtful"]
    lim = tmp_path / "lim"
    lim.mkdir()
    (lim / "limits.json").write_text(json.dumps(limits))
    return lim, limits


def test_run_refuses_doubtful_limits_unless_asked(tmp_path):
    lim, _ = _doubtful_limits_dir(tmp_path)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO % "")
    proc = run_harness("run", scenario, "--limits", lim, "--dry-run")
    assert_usage_error(proc, "doubtful", "no clear LLC knee", "--use-doubtful-limits",
                       "trust_doubtful_limits")
    proc = run_harness("run", scenario, "--limits", lim, "--dry-run", "--use-doubtful-limits")
    assert proc.returncode == 0, proc.stderr
    assert f"rows{8 * MiB // 64}." in proc.stdout and "warning: sizing tables" in proc.stderr
    scenario.write_text(SCENARIO % ", trust_doubtful_limits: true")
    proc = run_harness("run", scenario, "--limits", lim, "--dry-run")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_a_run_sized_from_doubtful_limits_says_so_in_its_manifest(tmp_path):
    lim, limits = _doubtful_limits_dir(tmp_path)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO % "" + "measure: {warmups: 1, batches: 2, repeats: 1}\n")
    out = tmp_path / "res"
    proc = run_harness("run", scenario, "--limits", lim, "--use-doubtful-limits", "--out", out)
    assert proc.returncode == 0, proc.stderr
    effective = json.loads((out / "manifest.json").read_text())["effective"]
    assert effective["effective_llc_doubtful"] == limits["doubtful_reasons"]

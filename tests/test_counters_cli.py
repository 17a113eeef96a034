"""Counters from the command line: the scenario section, and whole runs with a fake perf
that counts nothing in hardware (as on CI), and with the real perf and valgrind."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.scenario.schema import load_scenario

from cli import run_harness

HERE = Path(__file__).resolve().parent
FAKE_PERF = str(HERE / "fake_perf.py")

BASE = """\
name: counters
threads: [1]
tables: {sizes: ["0.25x LLC", "2x LLC"], dim: 64}
batch_sizes: [128]
kernels:
  - {kernel: baseline, backend: numpy}
  - {kernel: memrec, token_rows: 4096, k: 2, weight_rows: 512, k_weight: 1, backend: numpy}
measure: {warmups: 2, batches: 10, repeats: 1}
"""


def write(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("section, message", [
    ("counters: {backend: [perf]}", "counters.backend: unknown key (did you mean 'backends'?)"),
    ("counters: {backends: [papi]}", "counters.backends[0]"),
    ("counters: {backends: [perf, perf]}", "each backend may be listed once"),
    ("counters: {event_set: skylake}", "unknown event set 'skylake'"),
    ("counters: {events: []}", "list at least one event"),
    ("counters: {simulated_llc: {size: 2x LLC}}", "in bytes"),
])
def test_bad_counters_section(tmp_path, section, message):
    with pytest.raises(UsageError) as err:
        load_scenario(write(tmp_path, BASE + section + "\n"))
    assert any(message in p for p in err.value.problems), err.value.problems


def test_good_counters_section(tmp_path):
    s = load_scenario(write(tmp_path, BASE + "counters: {backends: [model], event_set: zen4, "
                            "events: [cycles, r412e], simulated_llc: {size: 38.5MiB, ways: 11}}\n"))
    c = s.scenario.counters
    assert c.backends == ["model"] and c.event_set == "zen4" and c.simulated_llc.ways == 11
    assert load_scenario(write(tmp_path, BASE)).scenario.counters.backends == ["perf", "model"]


def harness(*args, env=None):
    return run_harness(*args, env=env, timeout=900)


def rows(out):
    return {r["point_id"]: r for r in csv.DictReader(open(out / "points.csv"))}


@pytest.mark.slow
def test_run_where_hardware_counts_nothing(tmp_path):
    """As on CI: hardware events <not supported>, software ones counted, LLC from the model."""
    hw = ["cycles", "instructions", "l1d_fills_beyond_l2", "l1d_fills_beyond_l3", "dram_loads"]
    fake = {name: "not-supported" for name in hw} | {"task-clock": 3.5, "page-faults": 0}
    fake |= {f"dram_channel_{i}": "unknown" for i in range(8)}  # no amd_df PMU in a VM
    env = {"HARNESS_PERF": FAKE_PERF, "FAKE_PERF_EVENTS": json.dumps(fake)}
    out = tmp_path / "res"
    proc = harness("run", write(tmp_path, BASE + "counters: {event_set: zen3}\n"), "--out", out,
                   env=env)
    assert proc.returncode == 0, proc.stderr
    points = rows(out)
    assert len(points) == 4
    for p in points.values():
        assert p["status"] == "ok"
        assert p["llc_misses_per_lookup_source"] == "model"
        assert p["dram_bytes_per_lookup_source"] == "model"
        assert p["ipc"] == "" and p["ipc_source"] == "not-supported"  # empty, never 0
        assert p["task_clock_ms"] == "3.5" and p["task_clock_ms_source"] == "perf"
    small = [p for p in points.values() if p["llc_ratio"] == "0.25"]
    big = {p["kernel"]: p for p in points.values() if p["llc_ratio"] == "2"}
    assert all(float(p["llc_misses_per_lookup"]) < 0.05 for p in small)
    # 256 B rows are 4 lines; half the table fits: ~2 misses per lookup.
    assert 1.6 < float(big["baseline"]["llc_misses_per_lookup"]) < 2.4
    assert float(big["memrec"]["llc_misses_per_lookup"]) < 0.05  # its tables fit
    manifest = json.loads((out / "manifest.json").read_text())
    events = manifest["counters"]["perf"]["events"]
    assert events["cycles"]["status"] == "not-supported"
    raw = json.loads(next((out / "raw").glob("baseline*/r0.json")).read_text())
    assert raw["counters"]["perf"]["events"]["cycles"]["value"] is None
    assert raw["counters"]["region"]["error"] is None
    import pyperf

    md = pyperf.BenchmarkSuite.load(str(out / "pyperf.json")).get_benchmarks()[0].get_metadata()
    assert md["counter_cycles"] == "not-supported" and md["counter_task_clock"] == 3.5
    assert md["llc_misses_per_lookup_source"] == "model"


@pytest.mark.slow
def test_counters_none_and_perf_missing(tmp_path):
    path = write(tmp_path, BASE.replace('"2x LLC"', '"0.5x LLC"'))
    proc = harness("run", path, "--out", tmp_path / "a", "--counters", "none")
    assert proc.returncode == 0, proc.stderr
    p = next(iter(rows(tmp_path / "a").values()))
    assert p["llc_misses_per_lookup"] == "" and p["llc_misses_per_lookup_source"] == "not-counted"
    proc = harness("run", path, "--out", tmp_path / "b", env={"HARNESS_PERF": "no-such-perf"})
    assert proc.returncode == 0, proc.stderr
    assert "perf backend off" in proc.stderr
    p = next(iter(rows(tmp_path / "b").values()))
    assert p["llc_misses_per_lookup_source"] == "model"
    assert p["task_clock_ms"] == "" and p["task_clock_ms_source"] == "not-counted"
    assert harness("run", path, "--counters", "papi").returncode == 2


CAN_SIMULATE = shutil.which("valgrind") and (shutil.which("cc") or shutil.which("gcc"))


@pytest.mark.slow
@pytest.mark.skipif(not CAN_SIMULATE, reason="needs valgrind and a C compiler")
def test_cachegrind_backend(tmp_path):
    text = BASE.replace('["0.25x LLC", "2x LLC"]', '["0.25x LLC"]').replace(
        "  - {kernel: memrec, token_rows: 4096, k: 2, weight_rows: 512, k_weight: 1, "
        "backend: numpy}\n", "")
    out = tmp_path / "res"
    proc = harness("run", write(tmp_path, text + "counters: {backends: [cachegrind], "
                                "simulated_batches: 3, simulated_warmups: 1}\n"), "--out", out)
    assert proc.returncode == 0, proc.stderr
    (p,) = rows(out).values()
    assert p["llc_misses_per_lookup_source"] == "cachegrind"
    assert float(p["llc_misses_per_lookup"]) < 0.5  # 0.25x LLC: the table stays cached
    raw = json.loads(next((out / "raw").glob("*/r0.json")).read_text())
    cg = raw["counters"]["cachegrind"]
    assert cg["batches"] == 3 and cg["lookups"] == 3 * 128 and cg["totals"]["Ir"] > 0
    assert len(raw["values_ns"]) == 10  # the timed run itself kept all its batches


def _hardware_reason():
    from harness.counters.support import counter_support
    from harness.machine.detect import describe_machine

    support = counter_support(describe_machine())
    cycles = support["events"]["cycles"]
    llc = support["events"].get("llc_misses") or support["events"].get("l1d_fills_beyond_l3")
    if cycles["status"] != "counted" or not llc or llc["status"] != "counted":
        return f"no hardware counters here: cycles {cycles['status']} ({cycles['detail']})"
    return None


@pytest.mark.hardware
@pytest.mark.slow
def test_hardware_counts_when_the_machine_has_them(tmp_path):
    reason = _hardware_reason()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "res"
    proc = harness("run", write(tmp_path, BASE), "--out", out)
    assert proc.returncode == 0, proc.stderr
    for p in rows(out).values():
        # Intel counts LLC misses; AMD Zen counts L1D fills from beyond the L3 (its own
        # column), and its LLC-miss column then holds the model's figure.
        metric = ("llc_misses_per_lookup" if p["llc_misses_per_lookup_source"] == "perf"
                  else "l1d_fills_beyond_l3_per_lookup")
        assert p[f"{metric}_source"] == "perf" and float(p[metric]) >= 0
        assert 0 < float(p["ipc"]) < 10 and p["ipc_source"] == "perf"
        assert float(p["llc_misses_per_lookup_model"]) >= 0  # the model runs alongside


@pytest.mark.slow
def test_no_counting_runs_where_no_hardware_event_counts(tmp_path):
    """Grouped timing workers run without perf; a counting run per point is spent only
    where a hardware event counts. Here none does: software events say why, never 0."""
    hw = ["cycles", "instructions", "l1d_fills_beyond_l2", "l1d_fills_beyond_l3", "dram_loads",
          "dtlb_walks"]
    fake = {name: "not-supported" for name in hw} | {"task-clock": 3.5, "page-faults": 0}
    fake |= {f"dram_channel_{i}": "unknown" for i in range(8)}
    env = {"HARNESS_PERF": FAKE_PERF, "FAKE_PERF_EVENTS": json.dumps(fake)}
    out = tmp_path / "res"
    proc = harness("run", write(tmp_path, BASE + "counters: {event_set: zen3}\n"), "--out", out,
                   env=env)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    probed = manifest["counters"]["perf"]["events"]
    if any(p["status"] == "counted" and name not in ("task_clock", "page_faults")
           and p["scope"] == "task" for name, p in probed.items()):
        pytest.skip(f"the fake perf counted a hardware event: {probed}")
    for p in rows(out).values():
        assert p["status"] == "ok"
        assert p["task_clock_ms"] == "" and p["task_clock_ms_source"] == "not-counted"
        assert p["llc_misses_per_lookup_source"] == "model"
    raw = json.loads(next((out / "raw").glob("baseline*/r0.json")).read_text())
    assert "counting_run" not in raw
    assert "no hardware event counts" in raw["counters"]["perf"]["problem"]
    assert raw["counters"]["perf"]["events"]["cycles"]["status"] == "not-supported"
    assert manifest["time_breakdown"]["seconds"]["counting_runs"] == 0

"""The result store: format versions (older upgraded on read, newer refused), manifests
checked on read (issue 18.7), files that disagree (18.5), the scenario stored once and
the summary files written at checkpoints (18.10), and one reader for every command.

``fixtures/results/v1-ci`` is `harness run scenarios/ci.yaml --quick` written by the
harness before format 2 (manifest with scenario.given, raw records without
format_version), kept to prove such results still load.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import RESULT_FORMAT_VERSION
from harness.errors import UsageError
from harness.store.reader import (read_limits, read_manifest, read_result,
                                  read_run_records, stored_plan)
from harness.store.results import ResultStore

FIXTURES = Path(__file__).parent / "fixtures" / "results"
V1 = FIXTURES / "v1-ci"


def harness(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def one_clear_line(proc, words):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert re.search(words, lines[0]), lines[0]


@pytest.fixture
def v1(tmp_path):
    d = tmp_path / "v1"
    shutil.copytree(V1, d)
    return d


# -- versions ---------------------------------------------------------------------------
def test_a_format_1_directory_is_upgraded_on_read(v1):
    on_disk = json.loads((v1 / "manifest.json").read_text())
    assert on_disk["format_version"] == 1 and "given" in on_disk["scenario"]
    stored = read_result(v1)
    assert stored.manifest["format_version"] == RESULT_FORMAT_VERSION
    assert "given" not in stored.manifest["scenario"]
    assert stored.manifest["scenario"]["text"] and stored.manifest["scenario"]["effective"]
    assert len(stored.rows) == 4 and {r["status"] for r in stored.rows} == {"ok"}
    assert all(len(runs) == 1 and len(runs[0]) == 20 for runs in stored.samples_ns.values())
    records = read_run_records(v1, {p.point_id for p in stored.points})
    assert all(r[0]["format_version"] == RESULT_FORMAT_VERSION for r in records.values())


def test_a_format_1_directory_is_rewritten_in_the_current_format(v1):
    manifest = read_manifest(v1)
    store = ResultStore(v1, stored_plan(manifest, v1), manifest)
    assert store.load_recorded() == 4
    store.write("complete")
    again = json.loads((v1 / "manifest.json").read_text())
    assert again["format_version"] == RESULT_FORMAT_VERSION and again["complete"]
    assert "given" not in again["scenario"]
    assert read_result(v1).samples_ns.keys() == read_result(V1).samples_ns.keys()


def test_format_1_results_compare_and_report(v1, tmp_path, capsys):
    from harness.__main__ import main
    from harness.report.load import load_results

    assert main(["compare", str(V1), str(v1)]) == 0
    assert "no regression" in capsys.readouterr().out
    assert len(load_results([v1]).points) == 4


def test_newer_formats_are_refused(v1):
    point = next((v1 / "raw").iterdir())
    record = json.loads((point / "r0.json").read_text())
    (point / "r0.json").write_text(json.dumps(record | {"format_version": 99}))
    with pytest.raises(UsageError, match="r0.json: result format 99 is newer"):
        read_run_records(v1, {point.name})
    limits = json.loads((FIXTURES / "vm-limits" / "limits.json").read_text())
    (v1 / "limits.json").write_text(json.dumps(limits | {"format_version": 99}))
    with pytest.raises(UsageError, match="limits.json: result format 99 is newer"):
        read_limits(v1)
    (v1 / "limits.json").write_text(json.dumps(limits))  # format 1: upgraded
    assert read_limits(v1)["format_version"] == RESULT_FORMAT_VERSION


def test_limits_results_are_written_versioned_and_checked(tmp_path):
    from harness.store.results import write_limits

    limits = json.loads((FIXTURES / "vm-limits" / "limits.json").read_text())
    write_limits(tmp_path, limits)
    assert read_limits(tmp_path) == {"format_version": RESULT_FORMAT_VERSION} | limits
    (tmp_path / "limits.json").write_text(json.dumps({"effective_llc_bytes": 1}))
    with pytest.raises(UsageError, match="not a limits result \\(missing sysfs_llc_bytes"):
        read_limits(tmp_path)


# -- manifests checked on read (18.7) ---------------------------------------------------
def _no_kernel(m):
    del m["plan"][1]["kernel"]


def _no_machine(m):
    m["machine"] = {}


def _no_plan_meta(m):
    del m["plan_meta"]


def _broken_plan_meta(m):
    del m["plan_meta"]["pinning"]


DAMAGE = {"plan entry without kernel": (_no_kernel, r"plan\[1\] .* lacks kernel"),
          "plan_meta without pinning": (_broken_plan_meta, "plan_meta is not one"),
          "machine: {}": (_no_machine, "machine: not a machine record"),
          "no plan_meta": (_no_plan_meta, "no plan_meta|no stored plan")}


def _damage(directory, case):
    manifest = json.loads((directory / "manifest.json").read_text())
    DAMAGE[case][0](manifest)
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_merge_refuses_a_foreign_manifest_in_one_line(case, v1, tmp_path, repo):
    _damage(v1, case)
    one_clear_line(harness("merge", v1, "-o", tmp_path / "out", cwd=repo), DAMAGE[case][1])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_resume_refuses_a_foreign_manifest(case, v1, repo):
    _damage(v1, case)
    before = {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()}
    proc = harness("run", "scenarios/ci.yaml", "--quick", "--resume", v1, cwd=repo)
    if case == "no plan_meta":  # a list of problems; another machine adds its own line
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert re.search(DAMAGE[case][1], proc.stderr), proc.stderr
    else:
        one_clear_line(proc, DAMAGE[case][1])
    assert {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("case", ["plan entry without kernel", "machine: {}"])
def test_compare_and_report_refuse_a_foreign_manifest(case, v1, tmp_path, capsys):
    from harness.__main__ import main

    _damage(v1, case)
    assert main(["compare", str(V1), str(v1)]) == 2
    assert re.search(DAMAGE[case][1], capsys.readouterr().err)
    assert main(["report", str(v1), "-o", str(tmp_path / "r.pdf")]) == 2
    assert re.search(DAMAGE[case][1], capsys.readouterr().err)


# -- files that disagree (18.5) ---------------------------------------------------------
def test_an_emptied_pyperf_file_is_unusable_input_not_a_regression(v1, tmp_path, capsys):
    from harness.__main__ import main

    (v1 / "pyperf.json").write_text('{"benchmarks": []}')
    assert main(["compare", str(V1), str(v1)]) == 2
    out, err = capsys.readouterr()
    assert "now failing" not in out + err and "REGRESSION" not in out + err
    assert "the files disagree" in err and "pyperf.json" in err
    assert main(["report", str(v1), "-o", str(tmp_path / "r.pdf")]) == 2
    assert "the files disagree" in capsys.readouterr().err


def test_a_run_missing_from_pyperf_disagrees_with_points_csv(v1):
    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(v1 / "pyperf.json"))
    kept = suite.get_benchmarks()[1:]
    (v1 / "pyperf.json").unlink()
    pyperf.BenchmarkSuite(kept).dump(str(v1 / "pyperf.json"))
    gone = suite.get_benchmarks()[0].get_name()
    with pytest.raises(UsageError, match=f"0 runs of {re.escape(gone)} where points.csv "
                                         f"says 1 runs"):
        read_result(v1).samples_ns


# -- what is written, and when (18.10) --------------------------------------------------
def test_the_scenario_is_stored_once(repo, tmp_path, zen3_vm):
    from harness.execute.manifest import run_manifest as _manifest
    from harness.execute.plan import make_plan
    from harness.scenario.schema import load_scenario

    padding = "# " + "x" * 78 + "\n"
    text = (repo / "scenarios/ci.yaml").read_text() + padding * 2000  # 160 kB of comment
    path = tmp_path / "big.yaml"
    path.write_text(text)
    loaded = load_scenario(path)
    args = type("Args", (), {"memory_limit": None})()
    manifest = _manifest(args, loaded, zen3_vm, make_plan(loaded, zen3_vm))
    size = len(json.dumps(manifest))
    assert "given" not in manifest["scenario"] and manifest["scenario"]["text"] == text
    assert len(text) < size < len(text) * 1.5


class FakeClock:
    def __init__(self):
        self.ns = 0

    def __call__(self):
        return self.ns

    def advance(self, seconds):
        self.ns += int(seconds * 1e9)


def test_summary_files_are_written_at_checkpoints_raw_records_at_once(tmp_path, v1):
    from synthetic_results import outcome

    manifest = read_manifest(v1)
    plan = stored_plan(manifest, v1)
    clock = FakeClock()
    store = ResultStore(tmp_path, plan, manifest, clock=clock, checkpoint_s=30)
    first, second = plan.runnable[:2]

    store.write("running")  # the first write always happens: the directory is a result
    stamp = (tmp_path / "manifest.json").read_text()
    assert json.loads(stamp)["state"] == "running"

    clock.advance(10)
    store.record(first, 0, outcome(first, 0, [1000] * 20))
    store.write("running")
    assert (tmp_path / "raw" / first.point_id / "r0.json").exists()  # crash-safe at once
    assert (tmp_path / "manifest.json").read_text() == stamp  # no checkpoint yet
    assert ",ok," not in (tmp_path / "points.csv").read_text()

    clock.advance(25)  # 35 s after the first write
    store.record(second, 0, outcome(second, 0, [2000] * 20))
    store.write("running")
    assert (tmp_path / "points.csv").read_text().count(",ok,") == 2
    stamp = (tmp_path / "manifest.json").read_text()

    clock.advance(1)
    store.write("running")
    assert (tmp_path / "manifest.json").read_text() == stamp
    store.write("interrupted")  # the end is written whenever it comes
    assert json.loads((tmp_path / "manifest.json").read_text())["state"] == "interrupted"


# -- one reader -------------------------------------------------------------------------
def test_only_the_store_reader_parses_result_files(repo):
    """No other module parses points.csv or pyperf.json, and report, compare, merge and
    resume/limits read through harness.store.reader."""
    parsers = re.compile(r"csv\.(reader|DictReader)\(|BenchmarkSuite\.load|pd\.read_csv")
    offenders = [str(p.relative_to(repo)) for top in ("harness", "benchmarks", "reports")
                 for p in (repo / top).rglob("*.py")
                 if parsers.search(p.read_text()) and p != repo / "harness/store/reader.py"]
    assert offenders == []
    for module in ("report/load.py", "compare/inputs.py", "commands/merge.py",
                   "commands/run.py", "commands/limits.py", "store/results.py"):
        assert "from harness.store.reader import" in (repo / "harness" / module).read_text()

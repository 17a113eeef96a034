import csv
import json
import signal

import pyperf
import pytest

from harness import RESULT_FORMAT_VERSION
from harness.execute.plan import make_plan
from harness.store.results import POINT_COLUMNS, ResultStore
from harness.execute.runner import interpret_outcome, run_plan
from harness.scenario.schema import load_scenario


def _ok(point, repeat, values=(1000, 2000, 3000)):
    return {"status": "ok", "point_id": point.point_id, "repeat": repeat, "pid": 123,
            "started": 1.7e9, "finished": 1.7e9 + 1, "values_ns": list(values),
            "warmups_ns": [5000], "timer_overhead_ns": 40, "verified": {"bags": 4},
            "affinity": {"after_pin": "0", "cpus_run_on": "0"}, "effective_threads": 1,
            "table_alignment_bytes": 4096, "memory": {"anonhugepages_bytes": 0},
            "versions": {"python": "3.11.7", "numpy": "2.0"}}


class FakeLauncher:
    def __init__(self, fail=()):
        self.calls, self.fail = [], set(fail)

    def run(self, point, repeat):
        self.calls.append((point.point_id, repeat))
        if point.point_id in self.fail:
            return {"status": "failed", "reason": "worker killed by SIGKILL", "returncode": -9}
        return _ok(point, repeat)


@pytest.fixture
def plan(repo, zen3_vm, tmp_path):
    text = (repo / "scenarios/ci.yaml").read_text().replace("repeats: 1", "repeats: 2")
    path = tmp_path / "ci.yaml"
    path.write_text(text.replace("threads: [1, 2]", "threads: [1, 2, 64]"))
    return make_plan(load_scenario(path), zen3_vm)


def test_round_robin_and_files(plan, tmp_path, zen3_vm):
    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    failing = plan.runnable[1].point_id
    launcher = FakeLauncher(fail={failing})
    run_plan(plan, store, launcher)
    store.write("complete")
    n = len(plan.runnable)
    # every point once, then every point again
    assert [r for _, r in launcher.calls] == [0] * n + [1] * n
    assert launcher.calls[:n] == [(p.point_id, 0) for p in plan.runnable]

    rows = list(csv.DictReader(open(tmp_path / "out/points.csv")))
    assert list(rows[0].keys()) == POINT_COLUMNS
    by_id = {r["point_id"]: r for r in rows}
    assert len(rows) == len(plan.points)
    ok = by_id[plan.runnable[0].point_id]
    assert ok["status"] == "ok" and float(ok["latency_p50_ns"]) == 2000 and ok["runs"] == "2"
    assert by_id[failing]["status"] == "failed" and "SIGKILL" in by_id[failing]["reason"]
    assert by_id[failing]["latency_p50_ns"] == ""  # no number for what was not measured
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert skipped and all("needs 64 cores" in r["reason"] for r in skipped)

    suite = pyperf.BenchmarkSuite.load(str(tmp_path / "out/pyperf.json"))
    assert len(suite) == n - 1
    bench = suite.get_benchmark(plan.runnable[0].point_id)
    assert bench.get_nrun() == 2 and bench.get_values() == (1e-6, 2e-6, 3e-6) * 2
    assert bench.get_metadata()["kernel"] == plan.runnable[0].kernel

    manifest = json.load(open(tmp_path / "out/manifest.json"))
    assert manifest["complete"] and manifest["format_version"] == RESULT_FORMAT_VERSION
    statuses = {p["point_id"]: p["status"] for p in manifest["point_status"]}
    assert statuses[failing] == "failed"
    assert (tmp_path / f"out/raw/{failing}/r0.json").exists()
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_rerun_skips_recorded_runs(plan, tmp_path, zen3_vm):
    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    first = plan.runnable[0]
    store.record(first, 0, _ok(first, 0))
    launcher = FakeLauncher()
    run_plan(plan, store, launcher)
    assert (first.point_id, 0) not in launcher.calls


def test_interpret_outcomes(tmp_path):
    result, stderr = tmp_path / "r.json", tmp_path / "e.txt"
    stderr.write_text("\n".join(f"line {i}" for i in range(40)))
    killed = interpret_outcome(-signal.SIGKILL, False, 10, result, stderr, 1.0)
    assert killed["status"] == "failed" and "SIGKILL" in killed["reason"]
    assert "OOM" in killed["reason"] and killed["stderr_tail"].endswith("line 39")
    assert "line 10" not in killed["stderr_tail"]
    timeout = interpret_outcome(-9, True, 10, result, stderr, 10.0)
    assert "timed out after 10 s" in timeout["reason"]
    result.write_text(json.dumps({"status": "error", "error": "ValueError: boom",
                                  "traceback": "tb"}))
    err = interpret_outcome(1, False, 10, result, stderr, 1.0)
    assert err["reason"] == "ValueError: boom"
    result.unlink()
    odd = interpret_outcome(3, False, 10, result, stderr, 1.0)
    assert "status 3 and no result" in odd["reason"]
    result.write_text("{truncated")
    assert interpret_outcome(0, False, 10, result, stderr, 1.0)["status"] == "failed"


def test_signal_reported_by_perf():
    from harness.execute.runner import signal_reported_by_perf

    python = "/venv/bin/python"
    assert signal_reported_by_perf(f"warming up\n{python}: Killed", python) == signal.SIGKILL
    assert signal_reported_by_perf(f"{python}: Segmentation fault\n", python) == signal.SIGSEGV
    assert signal_reported_by_perf(f"{python}: Aborted", python) == signal.SIGABRT
    # Another program's line, an unknown text, or nothing: no signal.
    assert signal_reported_by_perf("sh: Killed", python) is None
    assert signal_reported_by_perf(f"{python}: no such file", python) is None
    assert signal_reported_by_perf("", python) is None



def test_run_finished_before_an_interrupt_is_kept(plan, tmp_path, zen3_vm):
    """Ctrl-C in a run's counting pass (cachegrind) keeps the timed run it belongs to."""
    from harness.execute.signals import Interrupted

    class InterruptedWhileCounting(FakeLauncher):
        def run(self, point, repeat):
            outcome = super().run(point, repeat)
            if len(self.calls) == 2:
                exc = Interrupted(signal.SIGINT)
                exc.outcome = outcome
                raise exc
            return outcome

    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    with pytest.raises(Interrupted):
        run_plan(plan, store, InterruptedWhileCounting())
    second = plan.runnable[1]
    assert store.runs[second.point_id][0]["status"] == "ok"
    assert (tmp_path / f"out/raw/{second.point_id}/r0.json").exists()


def test_memory_refusal_at_run_time_is_retried_not_final(plan, tmp_path, zen3_vm):
    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    first = plan.runnable[0]
    refused = []

    def short_once(point):  # memory is short only at the first check of the first point
        if point is first and not refused:
            refused.append(point)
            return "needs ~600 MiB of memory, 100 MiB available now"
        return None

    run_plan(plan, store, FakeLauncher(), memory_check=short_once)
    store.write("complete")
    status, reason = store.point_status(first)
    assert status == "pending" and "1 of 2 runs done" in reason and "600 MiB" in reason
    again = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    assert again.load_recorded() == 2 * len(plan.runnable) - 1  # the refusal is not "done"
    launcher = FakeLauncher()
    run_plan(plan, again, launcher)
    assert launcher.calls == [(first.point_id, 0)]
    assert again.point_status(first)[0] == "ok"


def test_multiline_error_text_in_metadata_does_not_break_pyperf(plan, tmp_path, zen3_vm):
    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    first = plan.runnable[0]
    run = _ok(first, 0)
    run["counters"] = {"cachegrind": {"error": "valgrind run exited with status 1: "
                                               "valgrind: Unknown option\nvalgrind: Use --help"}}
    store.record(first, 0, run)
    store.write("complete")
    bench = pyperf.BenchmarkSuite.load(str(tmp_path / "out/pyperf.json")).get_benchmark(
        first.point_id)
    assert bench.get_metadata()["cachegrind_error"].endswith("Unknown option valgrind: Use --help")

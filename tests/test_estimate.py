"""The cost model behind `run --dry-run`'s estimate and the progress bar's ETA: its
arithmetic on a small plan with given rates, where its rates come from, and the ETA's
scaling (a fake clock; no timing assertions)."""

import json
from dataclasses import replace

import pytest

from cli import run_harness
from harness.execute import estimate as E
from harness.execute.calibrate import parse_calibration
from harness.execute.groups import group_key, group_points
from harness.execute.plan import make_plan
from harness.execute.session import Progress
from harness.machine.detect import describe_machine
from harness.scenario.schema import load_scenario
from harness.store.results import ResultStore

SCENARIO = """\
name: est
threads: [1]
tables: {sizes: ["1000 rows", "4000 rows"], dim: 16}
batch_sizes: [64, 256]
kernels:
  - kernel: baseline
  - {kernel: memrec, token_rows: 100, k: 2, weight_rows: 50, k_weight: 1, backend: fused}
measure: {warmups: 2, batches: 10, repeats: 2}
"""

RATES = dict(worker_start_s=1.0, torch_import_s=1.5, build_bytes_per_s=1e6,
             index_ns_per_id=10.0, gather_ns_per_byte=1.0, call_ns=1000.0,
             point_overhead_s=0.1, model_point_s=0.5, cachegrind_slowdown=50.0)


@pytest.fixture
def plan(tmp_path, skylake):
    path = tmp_path / "est.yaml"
    path.write_text(SCENARIO)
    return make_plan(load_scenario(path), skylake)


def rates(**changes) -> E.Rates:
    return E.Rates(source="given", **(RATES | changes))


def by_hand(point, counting=E.Counting()) -> tuple[float, float]:
    """(worker seconds, point seconds) written out from the docstring's recipe."""
    worker = 1.0 + point.kernel_bytes / 1e6 + (1.5 if point.params.get("backend") == "torch"
                                                else 0.0)
    batch = 1000.0 + point.lookups_per_batch * point.bytes_per_lookup * 1.0
    ids = point.lookups_per_batch * point.distinct_batches
    seconds = (ids * 10.0 + (point.warmups + point.batches) * batch) / 1e9 + 0.1
    if "model" in counting.backends:
        seconds += 0.5
    return worker, seconds


def test_groups_share_a_table_across_batch_sizes(plan):
    groups = group_points(plan.runnable)
    # baseline: one per size; memrec builds the same tables at both sizes: one
    assert len(groups) == 3
    for group in groups:
        sizes = 2 if group[0].kernel == "memrec" else 1
        assert sorted(p.batch_size for p in group) == sorted([64, 256] * sizes)
        assert len({group_key(p) for p in group}) == 1


def test_cost_model_arithmetic(plan):
    est = E.estimate_plan(plan, rates())
    want = 0.0
    for group in group_points(plan.runnable):
        worker, _ = by_hand(group[0])
        want += 2 * (worker + sum(by_hand(p)[1] for p in group))  # 2 repeats
    assert est.total_s == pytest.approx(want)
    assert est.workers == 6 and est.runs == 16  # 3 groups x 2 repeats
    assert sum(n for _, n in est.by_kernel.values()) == 16
    assert sum(s for s, _ in est.by_kernel.values()) == pytest.approx(want)


def test_threads_torch_and_known_timings(plan):
    point = plan.runnable[0]
    r = rates()
    two = replace(point, threads=2)
    assert E.batch_ns(two, r) - 1000 == pytest.approx((E.batch_ns(point, r) - 1000) / 2)
    torch = replace(point, params={**point.params, "backend": "torch"})
    fused = replace(point, params={**point.params, "backend": "fused"})
    assert E.worker_s(torch, r) - E.worker_s(fused, r) == pytest.approx(1.5)
    assert E.batch_ns(point, rates(known_batch_ns={point.point_id: 12345.0})) == 12345.0


def test_auto_batches_are_modelled_by_min_batches_min_time_and_budget(plan):
    point = replace(plan.runnable[0], warmups=0, batches=1000)
    r = rates(known_batch_ns={point.point_id: 1e6})  # 1 ms a batch
    fixed = E.timed_s(point, r)
    assert fixed == pytest.approx(1.0)  # 1000 batches
    auto = {"min_batches": 20, "precision": 0.02, "budget_s": 3.0}
    assert E.timed_s(replace(point, sampling=auto), r) == pytest.approx(0.02)
    assert E.timed_s(replace(point, sampling={**auto, "min_time_s": 0.25}), r) \
        == pytest.approx(0.25)
    assert E.timed_s(replace(point, sampling={**auto, "min_time_s": 0.25, "budget_s": 0.1}),
                     r) == pytest.approx(0.1)


def test_counting_costs(plan):
    point = replace(plan.runnable[0], batches=500)
    counting = E.Counting(("model", "cachegrind"), simulated_batches=10,
                          simulated_warmups=1)
    r = rates()
    assert E.point_s(point, r, counting) == pytest.approx(by_hand(point, counting)[1])
    one = replace(point, batches=10, warmups=1)
    assert E.cachegrind_s(point, r, counting) == pytest.approx(
        50 * (sum(by_hand(one)[:1]) + by_hand(one)[1]))
    costs = E.run_costs(plan, r, counting)
    plain = E.run_costs(plan, r, E.Counting(("model",)))
    p = plan.runnable[0]
    # the cachegrind pass re-runs a point once, at repeat 0
    assert costs[(p.point_id, 0)] - plain[(p.point_id, 0)] == pytest.approx(
        E.cachegrind_s(p, r, counting))
    assert costs[(p.point_id, 1)] == pytest.approx(plain[(p.point_id, 1)])
    # the model replays once per point, in repeat 0
    none = E.run_costs(plan, r, E.Counting(()))
    assert plain[(p.point_id, 0)] - none[(p.point_id, 0)] == pytest.approx(r.model_point_s)
    assert plain[(p.point_id, 1)] == pytest.approx(none[(p.point_id, 1)])


def test_eta_scales_the_model_by_the_runs_done():
    now = [100.0]
    eta = E.EtaModel({"a": 10.0, "b": 10.0, "c": 20.0}, clock=lambda: now[0])
    assert eta.remaining_s() == 40.0  # nothing ran: the model as it is
    now[0] += 20.0  # "a" took twice what the model said
    eta.finished("a")
    assert eta.remaining_s() == pytest.approx(60.0)
    now[0] += 5.0  # counts down while "b" runs
    assert eta.remaining_s() == pytest.approx(55.0)
    eta.finished("b")  # 25 s for 20 modelled: 1.25x
    assert eta.remaining_s() == pytest.approx(25.0)
    eta.finished("c")
    assert eta.remaining_s() == 0.0


def test_progress_line_carries_the_model_eta(plan, capsys):
    point = plan.runnable[0]
    eta = E.EtaModel({("", point.point_id, 0): 1.0, ("", point.point_id, 1): 3.0},
                     clock=lambda: 0.0)
    progress = Progress(2, eta=eta)
    side = type("Side", (), {"name": ""})()
    progress(side, point, 0, {"status": "failed", "reason": "x"})
    assert ("", point.point_id, 0) not in eta.pending
    assert "(eta " in capsys.readouterr().err


def test_parse_calibration():
    line = json.dumps({"work_s": 1.0, "torch_s": None, "build_ns": 1e8, "index_ns": 2e6,
                       "gather_ns": 4e6, "table_bytes": 10**8, "ids": 10**6, "row_bytes": 4})
    r = parse_calibration("noise\n" + line + "\n", wall_s=1.5)
    assert r.worker_start_s == pytest.approx(0.5)
    assert r.build_bytes_per_s == pytest.approx(1e9)
    assert r.index_ns_per_id == pytest.approx(2.0)
    assert r.gather_ns_per_byte == pytest.approx(1.0)
    assert "torch_import_s" in r.assumed and "build_bytes_per_s" not in r.assumed
    with pytest.raises(ValueError, match="not understood"):
        parse_calibration("Traceback: no numpy", 1.0)


def _store_run(directory, plan, machine_dict, elapsed_s=2.0, torch_extra_s=0.0):
    manifest = {"kind": "run", "machine": machine_dict, "scenario": {"name": plan.scenario},
                "git": {"commit": "0" * 40, "dirty": False},
                "plan": [p.to_dict() for p in plan.points]}
    store = ResultStore(directory, plan, manifest)
    for point in plan.runnable:
        values = [50_000 + point.lookups_per_batch] * point.batches
        store.record(point, 0, {
            "status": "ok", "point_id": point.point_id, "repeat": 0, "pid": 1,
            "started": 1.7e9, "finished": 1.7e9 + 1, "values_ns": values,
            "warmups_ns": [60_000] * point.warmups, "timer_overhead_ns": 30,
            "verified": {"bags": 4}, "affinity": {"after_pin": "0", "cpus_run_on": "0"},
            "effective_threads": 1, "table_alignment_bytes": 4096,
            "memory": {"anonhugepages_bytes": 0}, "versions": {"python": "3.11.7"},
            "build_ns": 2_000_000, "indices_ns": 1_000_000, "kernel_nbytes": 4_000_000,
            "elapsed_s": elapsed_s,
            "counters": {"cachegrind": {"elapsed_s": 30.0, "batches": 2, "warmups": 1},
                         "model": {"model_ns": 100_000_000}}})
    store.write("complete")


def test_rates_from_this_machines_newest_run(tmp_path, plan, skylake):
    mine = skylake.to_dict()
    other = mine | {"hostname": "another-host"}
    _store_run(tmp_path / "results/est/old", plan, mine, elapsed_s=9.0)
    _store_run(tmp_path / "results/est/new", plan, mine, elapsed_s=2.0)
    _store_run(tmp_path / "results/est/foreign", plan, other, elapsed_s=99.0)
    import os
    import time
    old = time.time() - 3600
    os.utime(tmp_path / "results/est/old/manifest.json", (old, old))
    r = E.rates_from_results(tmp_path / "results", skylake.hostname)
    assert "results/est/new" in r.source and "8 run records" in r.source
    inside = (2e6 + 1e6 + 1e8) / 1e9  # build, indices, model; the batches are microseconds
    assert 1.99 - inside < r.worker_start_s < 2.0 - inside  # memrec's workers (no torch)
    assert r.torch_import_s == pytest.approx(0.0, abs=0.01)  # baseline's: torch, same time
    assert r.build_bytes_per_s == pytest.approx(2e9)
    assert r.known_batch_ns[plan.runnable[0].point_id] == 50_000 + \
        plan.runnable[0].lookups_per_batch
    assert "worker_start_s" not in r.assumed and "call_ns" in r.assumed
    assert "cachegrind_slowdown" not in r.assumed
    assert r.model_point_s == pytest.approx(0.1)
    one = replace(plan.runnable[0], batches=2, warmups=1, threads=1)
    native = E.worker_s(one, r) + E.point_s(one, r)
    assert r.cachegrind_slowdown == pytest.approx(30.0 / native, rel=0.5)  # the median point
    assert E.rates_from_results(tmp_path / "results", "nobody") is None
    assert E.machine_rates("nobody", root=tmp_path / "results").source.startswith("nominal")

    calibrated = E.Rates(source="a calibration (fake)")
    assert E.machine_rates("nobody", lambda: calibrated, tmp_path / "results") is calibrated
    assert E.machine_rates(skylake.hostname, lambda: calibrated,
                           tmp_path / "results").source == r.source  # a stored run first

    def broken():
        raise RuntimeError("calibration failed: no numba")
    assert "no numba" in E.machine_rates("nobody", broken, tmp_path / "results").source


@pytest.mark.slow
def test_dry_run_prints_an_estimate_and_its_source(repo, tmp_path):
    proc = run_harness("run", repo / "scenarios/ci.yaml", "--quick", "--dry-run",
                       cwd=tmp_path, env={"HARNESS_CALIBRATION": "off"})
    assert proc.returncode == 0, proc.stderr
    assert "estimate: " in proc.stdout and "(a model, not a measurement)" in proc.stdout
    assert "rates from nominal figures" in proc.stdout and "(assumed)" in proc.stdout
    # a stored run of this machine is used instead
    path = tmp_path / "est.yaml"
    path.write_text(SCENARIO)
    machine = describe_machine()
    small = make_plan(load_scenario(path), machine)
    _store_run(tmp_path / "results/est/host-1", small, machine.to_dict())
    proc = run_harness("run", path, "--dry-run", cwd=tmp_path,
                       env={"HARNESS_CALIBRATION": "off"})
    assert proc.returncode == 0, proc.stderr
    assert "most recent run" in proc.stdout and "results/est/host-1" in proc.stdout
    assert "batch times of 8 points from their own earlier timings" in proc.stdout


@pytest.mark.slow
def test_calibration_runs_here():
    from harness.execute.calibrate import calibrate

    r = calibrate()
    assert r.source.startswith("a calibration just now")
    assert r.worker_start_s > 0 and r.build_bytes_per_s > 0 and r.gather_ns_per_byte > 0
    assert "torch_import_s" in r.assumed and "build_bytes_per_s" not in r.assumed

"""One worker per table: grouping, the shuffled order, crashes and resumes mid-group,
the duty cycle, and partial points of a run stopped early."""

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from harness.execute.duty import DutyCycle
from harness.execute.grouprun import run_group, run_groups
from harness.execute.groups import group_key, group_order, group_points
from harness.execute.plan import make_plan
from harness.execute.runner import Side, interpret_outcome
from harness.execute.signals import Interrupted, SignalGuard
from harness.report.load import load_results, mark_partial
from harness.scenario.schema import load_scenario
from harness.store.results import ResultStore
from test_results_runner import _ok

SCENARIO = """\
name: groups
threads: [1, 2]
tables: {sizes: ["0.25x LLC", "2x LLC"], dim: 16}
batch_sizes: [16, 32, 64]
pooling: [1, 2]
kernels:
  - {kernel: baseline, backend: numpy}
  - {kernel: memrec, token_rows: 1000, k: 2, weight_rows: 100, k_weight: 1, backend: numpy}
measure: {warmups: 1, batches: 3, repeats: 2, timeout_s: 60}
"""


@pytest.fixture
def plan(tmp_path, zen3_vm):
    path = tmp_path / "g.yaml"
    path.write_text(SCENARIO)
    return make_plan(load_scenario(path), zen3_vm)


def test_groups_share_everything_but_batch_and_pooling(plan):
    groups = group_points(plan.runnable)
    # baseline: 2 sizes x 1 runnable thread count (numpy: one thread), a worker each;
    # memrec builds the same tables at both sizes: one worker
    assert len(groups) == len({group_key(p) for p in plan.runnable}) == 3
    assert sum(map(len, groups)) == len(plan.runnable)
    for group in groups:
        memrec = group[0].kernel == "memrec"
        assert len(group) == (12 if memrec else 6)  # (2 sizes x) 3 batches x 2 poolings
        assert len({(p.kernel, json.dumps(p.params), p.kernel_bytes, p.threads, p.pages)
                    for p in group}) == 1
        assert len({p.table_rows for p in group}) == (2 if memrec else 1)
        assert len({(p.table_rows, p.batch_size, p.pooling) for p in group}) == len(group)
        # plan order inside a group (stable)
        ranks = [plan.runnable.index(p) for p in group]
        assert ranks == sorted(ranks)
    # the key ignores per-point fields and sees the table
    a, b = groups[0][0], groups[0][1]
    assert group_key(a) == group_key(b) == group_key(a.to_dict())
    assert group_key(groups[0][0]) != group_key(groups[1][0])


def test_the_vocabulary_size_splits_groups_only_where_it_shapes_the_tables(plan):
    from dataclasses import replace

    base = next(p for p in plan.runnable if p.kernel == "baseline")
    memrec = next(p for p in plan.runnable if p.kernel == "memrec")
    # baseline: the vocabulary is its table
    assert group_key(replace(base, table_rows=base.table_rows * 2)) != group_key(base)
    # memrec: the vocabulary only shapes the ids; what it builds stays in the key
    assert group_key(replace(memrec, table_rows=memrec.table_rows * 2,
                             table_size="9x LLC")) == group_key(memrec)
    assert group_key(replace(memrec, kernel_bytes=memrec.kernel_bytes + 4)) \
        != group_key(memrec)
    params = dict(memrec.params, token_rows=memrec.params["token_rows"] + 1)
    assert group_key(replace(memrec, params=params)) != group_key(memrec)


def test_gather_variants_of_one_table_share_a_worker_that_retunes_each(zen3_vm):
    # The limits' gather probe: prefetch, step and bag shape the loop, not the table.
    import numpy as np

    from harness.limits.analysis import limits_scenarios, loaded_limits
    from harness.scenario.kernelspec import KERNELS, Geometry

    doc = limits_scenarios(True, [1], row_bytes=(512,))[0]
    points = make_plan(loaded_limits(doc, True), zen3_vm).runnable
    groups = group_points(points)
    assert len(groups) == len({p.table_rows for p in points}) == 7   # one per table size
    assert {len(g) for g in groups} == {2 + 6}  # 2 gathers alone, 6 gather-and-write
    assert len({p.bytes_per_lookup for p in groups[0]}) == 4  # 512, and 512 + 512/bag
    spec = KERNELS["gather"]
    kernel = spec.build(groups[0][0].params, Geometry(64, 128, 1 << 20), 0)
    ids = np.arange(40) % 64
    for point in groups[0]:
        spec.retune([kernel], point.params)
        assert (kernel.prefetch, kernel.bag) == (point.params["prefetch"],
                                                 point.params.get("bag") or 0)
        np.testing.assert_allclose(kernel.lookup(ids), kernel.reference(ids), rtol=1e-5)


def test_order_is_a_shuffle_reproducible_from_the_seed():
    ids = [f"p{i}" for i in range(8)]
    first = group_order(ids, seed=0, repeat=0)
    assert sorted(first) == list(range(8))
    assert group_order(ids, seed=0, repeat=0) == first
    others = [group_order(ids, seed=0, repeat=r) for r in range(1, 4)]
    assert any(o != first for o in others)  # differs per repeat
    assert group_order(ids, seed=1, repeat=0) != first or others[0] != first


class FakeSpawnLauncher:
    """A launcher whose worker 'writes' some points' records then ends as told."""

    def __init__(self, work_dir, finish=None, returncode=0):
        self.work_dir, self.llc_bytes, self.counters = work_dir, 2**25, None
        self.finish, self.returncode, self.groups = finish, returncode, True
        self.requested = []

    def run_group(self, points, repeat):
        return run_group(self, points, repeat)

    def command(self, spec_path, result_path):
        return ["python", str(spec_path), str(result_path)]

    def spawn(self, command, argv0, spec, spec_path, result_path, stem, timeout_s):
        ids = [p["point_id"] for p in spec["points"]]
        self.requested.append(ids)
        finish = ids if self.finish is None else self.finish(ids)
        for point, path in zip(spec["points"], spec["results"]):
            if point["point_id"] in finish:
                record = _ok(SimpleNamespace(point_id=point["point_id"]), spec["repeat"])
                Path(path).write_text(json.dumps(record | {"phases_ns": {"timed": 300},
                                                           "group": {"size": len(ids)}}))
        if self.returncode == 0:
            result_path.write_text(json.dumps({"status": "ok", "phases_ns": {"imports": 10}}))
        stderr = self.work_dir / f"{stem}.stderr"
        stderr.write_text("")
        return interpret_outcome(self.returncode, False, timeout_s, result_path, stderr, 1.0)


def test_crash_mid_group_keeps_the_finished_points(plan, tmp_path):
    group = group_points(plan.runnable)[0]
    launcher = FakeSpawnLauncher(tmp_path, finish=lambda ids: ids[:2],
                                 returncode=-signal.SIGKILL)
    outcomes = run_group(launcher, group, 0)
    assert [o["status"] for o in outcomes] == ["ok", "ok"] + ["failed"] * 4
    assert all("worker killed by SIGKILL" in o["reason"] for o in outcomes[2:])
    assert outcomes[0]["group_run"]["points"] == 6


def test_resume_reruns_only_the_missing_points_of_a_group(plan, tmp_path, zen3_vm):
    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    group = group_points(plan.runnable)[0]
    for point in group[:4]:  # a partly done group: 4 of its 6 points have repeat 0
        store.record(point, 0, _ok(point, 0))
    launcher = FakeSpawnLauncher(tmp_path)
    run_groups(plan, [Side("", launcher, store)], lambda *a: None, SignalGuard(),
               lambda p: None, repeats=2)
    first = launcher.requested[0]
    assert first == [p.point_id for p in group[4:]]
    # then every other group in full, then repeat 1 of every group in full
    assert sum(map(len, launcher.requested)) == 2 * len(plan.runnable) - 4
    assert all(len(store.runs[p.point_id]) == 2 for p in plan.runnable)


def test_interrupt_mid_group_stores_what_finished(plan, tmp_path, zen3_vm):
    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    group = group_points(plan.runnable)[0]

    class Interrupting(FakeSpawnLauncher):
        def spawn(self, command, argv0, spec, *args):
            super().spawn(command, argv0, spec, *args)
            raise Interrupted(signal.SIGINT)

    launcher = Interrupting(tmp_path, finish=lambda ids: ids[:3])
    with pytest.raises(Interrupted):
        run_groups(plan, [Side("", launcher, store)], lambda *a: None, SignalGuard(),
                   lambda p: None, repeats=1)
    assert sorted(store.runs) == sorted(p.point_id for p in group[:3])


def test_duty_cycle_sums_phases_over_workers():
    now = [100.0]
    duty = DutyCycle(clock=lambda: now[0])
    duty.add({"phases_ns": {"timed": 2e9, "warmups": 1e9, "indices": 1e9},
              "build_ns": 1e9, "kernel_nbytes": 2e9, "group": {"position": 0},
              "group_run": {"phases_ns": {"imports": 3e9, "table_build": 1e9}}})
    duty.add({"phases_ns": {"timed": 1e9, "warmups": 1e9}, "group": {"position": 1},
              "build_ns": 1e9, "kernel_nbytes": 2e9})  # the same worker's build: once
    duty.add({"status": "failed"})
    now[0] = 120.0
    summary = duty.summary()
    assert summary["duty_cycle"] == pytest.approx(5 / 20)
    seconds = summary["time_breakdown"]["seconds"]
    assert seconds["imports"] == 3 and seconds["table_build"] == 1
    assert seconds["other"] == pytest.approx(20 - 10)
    assert summary["time_breakdown"]["workers"] == 1
    assert summary["time_breakdown"]["table_build_gbytes_per_s"] == 2.0
    assert "duty cycle 25.0%" in DutyCycle.lines(summary)[0]


def test_partial_points_are_drawn_and_marked():
    points = pd.DataFrame({"point_id": ["a", "b", "c"], "status": ["pending", "pending", "ok"],
                           "reason": ["1 of 3 runs done", "0 of 3 runs done", ""],
                           "runs": [1, 0, 3]})
    marked = mark_partial(points)
    assert list(marked["status"]) == ["ok", "pending", "ok"]
    assert list(marked["partial"]) == [True, False, False]
    assert marked["reason"][0] == "partial: 1 of 3 runs done"


def test_grouped_run_end_to_end_and_report_of_a_stopped_run(tmp_path):
    """Real workers (numpy kernels, no torch; ~2 s): records per point, phases, duty
    cycle in the manifest and on stderr; then a directory with repeats missing still
    reports."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.replace('threads: [1, 2]', 'threads: [1]')
                        .replace('["0.25x LLC", "2x LLC"]', '["0.25x LLC"]')
                        .replace("pooling: [1, 2]", "pooling: 1")
                        .replace("repeats: 2", "repeats: 1")
                        # no reruns of a run the busy test machine spoiled: 2 workers
                        .replace("timeout_s: 60", "timeout_s: 60, retries: 0"))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "harness", "run", scenario, "--out", out],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "duty cycle" in proc.stderr and "where the time went" in proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert 0 < manifest["duty_cycle"] < 1
    seconds = manifest["time_breakdown"]["seconds"]
    assert seconds["table_build"] > 0 and seconds["timed"] > 0
    assert manifest["time_breakdown"]["workers"] == 2  # two kernels, one table each
    records = [json.loads(p.read_text()) for p in sorted(out.glob("raw/*/r0.json"))]
    assert len(records) == 6 and all(r["status"] == "ok" for r in records)
    assert sorted(r["group"]["position"] for r in records) == [0, 0, 1, 1, 2, 2]
    assert len({r["pid"] for r in records}) == 2
    assert all(r["build_gbytes_per_s"] > 0 for r in records)
    assert all("torch" not in r["versions"] for r in records)  # no torch backend here

    # As if stopped early: planned 3 repeats, 1 done. The report draws the points.
    manifest["point_status"] = [p | {"status": "pending"} for p in manifest["point_status"]]
    rows = list(csv.DictReader(open(out / "points.csv")))
    for row in rows:
        row.update(status="pending", reason="1 of 3 runs done", runs_planned="3")
    with open(out / "points.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    manifest.update(state="interrupted", complete=False)
    (out / "manifest.json").write_text(json.dumps(manifest))
    results = load_results([out])
    assert len(results.ok) == 6 and results.ok["partial"].all()


def test_shards_keep_a_table_s_points_together(plan):
    groups = group_points(plan.points)
    shards = [plan.sharded(i, 3) for i in range(3)]
    assert sorted(p.point_id for s in shards for p in s.points) == \
        sorted(p.point_id for p in plan.points)
    for group in groups:  # each group's points all in one shard
        owners = {i for i, s in enumerate(shards) for p in s.points if p in group}
        assert len(owners) == 1
    few = plan.sharded(0, len(groups) + 1)  # more shards than groups: by point
    assert len(few.points) == len(plan.points[::len(groups) + 1])


def test_a_noisy_point_of_a_group_runs_again_alone(plan, tmp_path, zen3_vm):
    """Reruns (issue 15): the group's worker ran it once, a fresh worker runs it again
    (with no other point: the others were clean); every attempt is kept, the clean one
    used."""
    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    group = group_points(plan.runnable)[0]
    noisy = group[1].point_id

    class Noisy(FakeSpawnLauncher):
        def run_group(self, points, repeat):
            outcomes = run_group(self, points, repeat)
            for point, outcome in zip(points, outcomes):
                share = 0.5 if point.point_id == noisy and len(points) > 1 else 0.0
                outcome["interference"] = {"assessed": True, "interference_fraction": share,
                                           "steal_fraction": 0.0,
                                           "runqueue_wait_fraction": 0.0}
            return outcomes

    launcher = Noisy(tmp_path)
    run_groups(plan, [Side("", launcher, store)], lambda *a: None, SignalGuard(),
               lambda p: None, repeats=1)
    assert launcher.requested[1] == [noisy]  # right after its group, alone
    kept = store.runs[noisy][0]
    assert kept["interference"]["interference_fraction"] == 0.0
    assert [s["attempt"] for s in kept["set_aside"]] == [0]
    assert list((tmp_path / "out/raw" / noisy / "set-aside").glob("r0.a0.json"))


def test_the_noisy_points_of_a_group_run_again_together(plan, tmp_path, zen3_vm):
    """One retry worker per group and round, not per point (issue 16): two noisy points
    run again in one worker; one stays noisy and gets its second retry alone; the duty
    cycle counts all three workers and the set-aside attempts' timed batches."""
    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    group = group_points(plan.runnable)[0]
    a, b = group[1].point_id, group[3].point_id
    stubborn = {b: 2}  # b is noisy twice: its first run and its first retry

    class Noisy(FakeSpawnLauncher):
        def run_group(self, points, repeat):
            outcomes = run_group(self, points, repeat)
            for point, outcome in zip(points, outcomes):
                share = 0.0
                if point.point_id == a and len(points) == len(group):
                    share = 0.5
                elif stubborn.get(point.point_id, 0) > 0:
                    stubborn[point.point_id] -= 1
                    share = 0.5
                outcome["interference"] = {"assessed": True, "interference_fraction": share,
                                           "steal_fraction": 0.0,
                                           "runqueue_wait_fraction": 0.0}
            return outcomes

    launcher = Noisy(tmp_path)
    duty = DutyCycle()
    run_groups(plan, [Side("", launcher, store)], lambda side, p, r, o: duty.add(o),
               SignalGuard(), lambda p: None, repeats=1)
    assert launcher.requested[1] == [a, b] and launcher.requested[2] == [b]
    assert [s["attempt"] for s in store.runs[a][0]["set_aside"]] == [0]
    assert [s["attempt"] for s in store.runs[b][0]["set_aside"]] == [0, 1]
    assert store.runs[b][0]["interference"]["interference_fraction"] == 0.0
    assert len(list((tmp_path / "out/raw" / b / "set-aside").glob("r0.a*.json"))) == 2
    first_group = len(group_points(plan.runnable))
    assert duty.workers == first_group + 2  # every group's worker, and the 2 retry rounds
    assert duty.ns["timed"] == 300 * (len(plan.runnable) + 3)  # + the 3 attempts set aside

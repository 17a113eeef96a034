"""batches: auto, run and point quality, reruns (issue 15 items 2-4): fake clocks only."""

import csv
import itertools
import json
import math

import pytest

from harness.execute.reruns import run_with_retries
from harness.execute.sampling import median_ci, relative_half_width, sample_batches
from harness.store.quality import classify_run, iqr_ratio, point_quality, quality_columns


def read_clock(steps):
    """A clock that moves on by the next step at every read (batches and checks alike)."""
    now, steps = [0], iter(steps)

    def clock():
        now[0] += next(steps)
        return now[0]
    return clock


def test_median_ci_is_the_order_statistics_interval():
    # n = 10: P(B <= 1) = 11/1024 < 2.5 % <= P(B <= 2) = 56/1024, so [x_2, x_9]
    assert median_ci(list(range(1, 11))) == (2, 9)
    assert median_ci([1, 2, 3, 4, 5]) is None  # too few for a 95 % interval
    assert median_ci([3, 1, 2, 5, 4, 6]) == (1, 6)  # n = 6: 2/64 < 5 %, the extremes
    assert relative_half_width([5.0] * 50) == 0
    assert math.isinf(relative_half_width([1.0, 2.0]))


def test_the_approximate_rank_agrees_with_the_binomial():
    from scipy.stats import binom

    from harness.execute.sampling import median_ci_rank

    for n in (6, 20, 99, 100, 101, 250, 1000, 4321):
        exact = sum(1 for j in range(n + 1) if binom.cdf(j, n, 0.5) <= 0.025)
        assert abs(median_ci_rank(n) - exact) <= (0 if n <= 100 else 1), n


def test_fixed_count_takes_exactly_that_many():
    out = sample_batches([lambda: None], 2, 7, clock=itertools.count().__next__)
    assert out["batches_taken"] == 7 and len(out["warmups_ns"]) == 2
    assert out["stopped"] == "fixed"


def test_auto_stops_when_precise_enough():
    clock = read_clock(itertools.repeat(1000))  # every batch alike: precise at the minimum
    out = sample_batches([lambda: None], 0, 1000, min_batches=20, precision=0.02,
                         budget_ns=10**12, clock=clock)
    assert out["stopped"] == "precision" and out["batches_taken"] == 20
    assert out["ci_half_width"] == 0


def test_auto_samples_for_min_time_before_precision_may_stop_it():
    # Every batch alike: precise at 20 batches, but 20 batches of ~1 us are not yet
    # min_ns of timed batches (each clock read advances 1000 ns).
    clock = read_clock(itertools.repeat(1000))
    out = sample_batches([lambda: None], 0, 100_000, min_batches=20, precision=0.02,
                         budget_ns=10**12, clock=clock, min_ns=200_000)
    assert out["stopped"] == "precision"
    assert 60 <= out["batches_taken"] <= 140, out  # ~2 clock reads per batch: ~100 batches
    # ... and the budget still ends it first when it is shorter.
    clock = read_clock(itertools.repeat(1000))
    out = sample_batches([lambda: None], 0, 100_000, min_batches=20, precision=0.02,
                         budget_ns=50_000, clock=clock, min_ns=200_000)
    assert out["stopped"] == "budget" and out["batches_taken"] < 60


def test_min_time_is_a_measure_setting_with_a_range():
    from harness.scenario.schema import Measure

    assert Measure().min_time_s == 0
    assert Measure(min_time_s=0.25).min_time_s == 0.25
    with pytest.raises(Exception):
        Measure(min_time_s=-1)


def test_auto_stops_at_the_budget_and_reports_the_interval_reached():
    spread = itertools.cycle([1000, 3000, 500, 2000, 8000, 700])  # never within 2 %
    clock = read_clock(spread)
    out = sample_batches([lambda: None], 0, 10_000, min_batches=10, precision=0.02,
                         budget_ns=100_000, clock=clock)
    assert out["stopped"] == "budget", out
    assert 10 <= out["batches_taken"] < 10_000
    assert out["ci_half_width"] > 0.02


def test_auto_stops_at_max_batches():
    clock = read_clock(itertools.cycle([1000, 3000, 500, 2000, 8000]))
    out = sample_batches([lambda: None], 0, 40, min_batches=10, precision=0.001,
                         budget_ns=None, clock=clock)
    assert out["stopped"] == "max_batches" and out["batches_taken"] == 40


def _run(values=(1000,) * 20, share=0.0, steal=0.0, wait=0.0, assessed=True):
    return {"status": "ok", "values_ns": list(values),
            "interference": {"assessed": assessed, "interference_fraction": share,
                             "steal_fraction": steal, "runqueue_wait_fraction": wait,
                             "involuntary_switches": 3, "threads_migrated": 0,
                             "reason": "" if assessed else "timed region too short"}}


def test_classify_run():
    assert classify_run(_run()) == ("ok", "")
    quality, why = classify_run(_run(share=0.30))
    assert quality == "noisy" and "30%" in why and "limit 5%" in why
    assert classify_run(_run(steal=0.1))[0] == "noisy"
    assert "waited 40%" in classify_run(_run(wait=0.4))[1]
    # a sub-millisecond wait is a wakeup, not a competitor, whatever its share
    brief = _run(wait=0.4)
    brief["interference"]["runqueue_wait_ns"] = 400_000
    assert classify_run(brief) == ("ok", "")
    brief["interference"]["runqueue_wait_ns"] = 4_000_000
    assert classify_run(brief)[0] == "noisy"
    wide = [1000, 1000, 2000, 3000] * 5
    assert iqr_ratio(wide) > 0.25
    quality, why = classify_run(_run(values=wide))
    assert quality == "unstable" and "batch IQR" in why
    # noisy names the cause, and wins
    assert classify_run(_run(values=wide, share=0.5))[0] == "noisy"
    # the limits are the scenario's
    assert classify_run(_run(share=0.30), {"max_interference": 0.5})[0] == "ok"


def test_point_quality_spread_of_repeats_and_not_assessed():
    runs = [_run([1000] * 20), _run([1700] * 20)]
    cols = point_quality(runs)
    assert cols["quality"] == "unstable" and cols["repeat_spread"] == pytest.approx(700 / 1350)
    assert "run medians differ by 52% (limit 50%)" in cols["quality_reason"]
    assert point_quality(runs[:1] + [_run([1400] * 20)])["quality"] == "ok"  # 33 % apart
    assert point_quality([_run(), _run()])["quality"] == "ok"
    short = point_quality([_run(share=None, assessed=False)])  # the wait judged it
    assert short["quality"] == "ok" and short["quality_reason"] == ""
    blind = point_quality([_run(share=None, wait=None, assessed=False)])
    assert blind["quality"] == "ok" and "not assessed" in blind["quality_reason"]
    old = point_quality([{"status": "ok", "values_ns": [1, 2, 3, 4]}])  # before the probe
    assert old["quality"] is None and old["interference_fraction"] is None
    cols = quality_columns([_run() | {"sampling": {"batches_taken": 20, "ci_half_width": 0.01},
                                      "set_aside": [{"attempt": 0}]}])
    assert cols["batches_taken"] == 20 and cols["ci_half_width"] == 0.01
    assert cols["runs_set_aside"] == 1


def test_reruns_keep_every_attempt_and_use_the_clean_one():
    attempts = iter([_run(share=0.2), _run()])
    aside = []
    kept = run_with_retries(_run(share=0.6), {"retries": 2}, lambda: next(attempts),
                            lambda i, record, why: aside.append((i, why)))
    assert kept["run_quality"] == "ok" and kept["attempt"] == 2
    assert [i for i, _ in aside] == [0, 1] and "60%" in aside[0][1]
    assert [s["attempt"] for s in kept["set_aside"]] == [0, 1]


def test_still_noisy_after_retries_keeps_the_least_shared_and_says_noisy():
    attempts = iter([_run(share=0.1), _run(share=0.4)])
    aside = []
    kept = run_with_retries(_run(share=0.3), {"retries": 2}, lambda: next(attempts),
                            lambda i, record, why: aside.append(i))
    assert kept["run_quality"] == "noisy" and kept["attempt"] == 1
    assert sorted(aside) == [0, 2]
    none = run_with_retries(_run(share=0.3), {"retries": 0}, pytest.fail, pytest.fail)
    assert none["run_quality"] == "noisy" and "set_aside" not in none


def test_an_interrupted_retry_carries_the_finished_attempt():
    class Interrupted(Exception):
        pass

    def interrupted():
        raise Interrupted()

    first = _run(share=0.9)
    with pytest.raises(Interrupted) as info:
        run_with_retries(first, None, interrupted, lambda *a: pytest.fail("nothing to set aside"))
    assert info.value.outcome["run_quality"] == "noisy" and info.value.outcome["values_ns"]
    # a retry that finished before the interruption is kept, the first set aside
    attempts = iter([_run()])
    aside = []

    def second_then_stop():
        exc = Interrupted()
        exc.outcome = next(attempts)
        raise exc

    with pytest.raises(Interrupted) as info:
        run_with_retries(first, None, second_then_stop, lambda i, r, why: aside.append(i))
    assert info.value.outcome["run_quality"] == "ok" and aside == [0]


def test_runner_reruns_a_noisy_run_and_the_store_keeps_both(repo, zen3_vm, tmp_path):
    from harness.execute.plan import make_plan
    from harness.execute.runner import run_plan
    from harness.scenario.schema import load_scenario
    from harness.store.results import ResultStore
    from test_results_runner import _ok

    plan = make_plan(load_scenario(repo / "scenarios/ci.yaml"), zen3_vm)
    first = plan.runnable[0].point_id

    class NoisyOnce:
        calls = []

        def run(self, point, repeat):
            self.calls.append(point.point_id)
            share = 0.5 if point.point_id == first and self.calls.count(first) == 1 else 0.0
            return _ok(point, repeat, values=[1000] * 20) | {
                "interference": _run(share=share)["interference"]}

    store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    run_plan(plan, store, NoisyOnce())
    store.write("complete")
    raw = tmp_path / "out/raw" / first
    assert sorted(p.name for p in raw.iterdir()) == ["r0.json", "set-aside"]
    assert list((tmp_path / "out/raw").glob("*/r*.json")) == list(
        (tmp_path / "out/raw").glob("*/r0.json"))  # a listing of runs sees the used ones
    aside = json.loads((raw / "set-aside/r0.a0.json").read_text())
    assert "50%" in aside["set_aside_reason"]
    rows = {r["point_id"]: r for r in csv.DictReader(open(tmp_path / "out/points.csv"))}
    assert rows[first]["quality"] == "ok" and rows[first]["runs_set_aside"] == "1"
    other = plan.runnable[1].point_id
    assert rows[other]["runs_set_aside"] == "0" and rows[other]["quality"] == "ok"
    # a merge copies the set-aside attempts too
    merged = ResultStore(tmp_path / "merged", plan, {"machine": zen3_vm.to_dict()})
    assert merged.copy_set_aside(tmp_path / "out") == 1
    assert (tmp_path / "merged/raw" / first / "set-aside/r0.a0.json").exists()
    # a resumed store reads the kept record only, not the set-aside attempt
    again = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
    again.load_recorded()
    assert again.runs[first][0]["run_quality"] == "ok"


def test_auto_is_the_default_and_quick_caps_its_maximum(tmp_path, zen3_vm):
    from harness.execute.plan import make_plan
    from harness.scenario.schema import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text("name: s\nthreads: [1]\ntables: {sizes: ['1 MiB'], dim: 16}\n"
                    "batch_sizes: [64]\nkernels: [{kernel: baseline}]\n"
                    "measure: {precision: 0.05, retries: 1, max_spread: 0.5}\n")
    point = make_plan(load_scenario(path), zen3_vm).points[0]
    assert point.sampling == {"min_batches": 20, "precision": 0.05, "budget_s": 3.0}
    assert point.batches == 1000 and point.quality_limits["retries"] == 1
    assert point.quality_limits["max_spread"] == 0.5
    quick = make_plan(load_scenario(path, quick=True), zen3_vm).points[0]
    assert quick.sampling is not None and quick.batches == 50
    path.write_text(path.read_text().replace("precision: 0.05", "batches: 30"))
    fixed = make_plan(load_scenario(path), zen3_vm).points[0]
    assert fixed.sampling is None and fixed.batches == 30


@pytest.mark.slow
def test_a_real_worker_samples_by_precision_and_probes(tmp_path):
    from cli import run_harness

    path = tmp_path / "s.yaml"
    path.write_text("name: s\nthreads: [1]\ntables: {sizes: ['256 KiB'], dim: 16}\n"
                    "batch_sizes: [64]\nkernels: [{kernel: baseline}]\n"
                    "measure: {warmups: 2, repeats: 1, retries: 0, min_batches: 10,"
                    " max_batches: 400, budget_s: 1}\n")
    proc = run_harness("run", path, "--out", tmp_path / "res")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(next((tmp_path / "res/raw").glob("*/r0.json")).read_text())
    sampling, probe = record["sampling"], record["interference"]
    assert sampling["stopped"] in ("precision", "budget", "max_batches")
    assert 10 <= sampling["batches_taken"] == len(record["values_ns"]) <= 400
    assert {"interference_fraction", "runqueue_wait_fraction", "involuntary_switches",
            "threads_migrated", "steal_fraction"} <= set(probe)
    row = next(csv.DictReader(open(tmp_path / "res/points.csv")))
    assert row["quality"] in ("ok", "noisy", "unstable") and row["runs_set_aside"] == "0"


def test_group_retries_run_the_spoiled_points_together_and_survive_an_interrupt():
    from harness.execute.reruns import run_group_with_retries

    rounds = []
    answers = iter([[_run(), _run(share=0.4)], [_run()]])

    def again(indices):
        rounds.append(indices)
        return next(answers)

    aside = []
    firsts = [_run(), _run(share=0.6), {"status": "failed", "reason": "x"}, _run(share=0.3)]
    kept = run_group_with_retries(firsts, [{"retries": 2}] * 4, again,
                                  lambda i, n, record, why: aside.append((i, n)))
    assert rounds == [[1, 3], [3]]
    assert [k.get("run_quality") for k in kept] == ["ok", "ok", None, "ok"]
    assert kept[2] is firsts[2] and kept[0] is firsts[0]
    assert sorted(aside) == [(1, 0), (3, 0), (3, 1)]

    class Interrupted(Exception):
        pass

    def interrupted(indices):
        exc = Interrupted()
        exc.outcomes = [(indices[0], _run())]  # finished before the signal
        raise exc

    with pytest.raises(Interrupted) as info:
        run_group_with_retries([_run(share=0.6), _run(share=0.7)], [{"retries": 2}] * 2,
                               interrupted, lambda *a: None)
    outcomes = dict(info.value.outcomes)
    assert outcomes[0]["run_quality"] == "ok" and outcomes[1]["run_quality"] == "noisy"

"""The comparison's statistics on fixed synthetic samples: no clocks, no workers."""

import math
import zlib

import pytest

from harness.compare.verdict import (METRICS, PointData, Report, compare_runs, compare_samples,
                             compare_speedups, compare_values, decide, match_points,
                             metric_named)
from harness.errors import UsageError
from synthetic_results import runs_around


# -- the verdict rule ---------------------------------------------------------------

@pytest.mark.parametrize("ratio, p, verdict, words", [
    (1.25, 0.001, "slower", "beyond +10.0%"),
    (0.80, 0.001, "faster", "beyond -9.1%"),
    (1.05, 0.0001, "same", "within the factor"),          # significant but small
    (1.30, 0.20, "same", "not significant (p=0.2"),       # large but noise
    (1.30, 0.05, "same", "not significant"),              # p must be below alpha
    (1.30, None, "slower", "factor alone"),               # one value per side
])
def test_decide_needs_factor_and_significance(ratio, p, verdict, words):
    got, why = decide(ratio, p, factor=1.10, alpha=0.05)
    assert got == verdict and words in why


def test_decide_higher_is_better():
    assert decide(0.8, 0.001, 1.1, 0.05, higher_is_better=True)[0] == "slower"
    assert decide(1.2, 0.001, 1.1, 0.05, higher_is_better=True)[0] == "faster"
    assert decide(0.95, 0.001, 1.1, 0.05, higher_is_better=True)[0] == "same"


# -- per-batch samples ------------------------------------------------------------------

def test_identical_samples_are_the_same():
    runs = runs_around(1000, runs=3, seed=1)
    got = compare_samples(runs, runs, 1.10, 0.05)
    assert got["verdict"] == "same" and got["ratio"] == 1.0
    assert got["ci_low"] <= 1.0 <= got["ci_high"]
    assert got["p_value"] == pytest.approx(1.0)
    assert got["resampled"] == "runs" and got["base_runs"] == 3


def test_consistent_30pct_slowdown_is_slower():
    base = runs_around(1000, runs=3, seed=1)
    new = runs_around(1300, runs=3, seed=2)
    got = compare_samples(base, new, 1.10, 0.05)
    assert got["verdict"] == "slower"
    assert got["ratio"] == pytest.approx(1.3, rel=0.02)
    assert 1.0 < got["ci_low"] < 1.3 < got["ci_high"] < 1.4
    assert got["mann_whitney_p"] < 1e-10 and got["p_value"] < 0.05
    assert got["test"] == "mann-whitney-u+bootstrap"


def test_faster_and_small_changes():
    base = runs_around(1000, runs=3, seed=1)
    assert compare_samples(base, runs_around(700, 3, seed=2), 1.1, 0.05)["verdict"] == "faster"
    small = compare_samples(base, runs_around(1040, 3, seed=2), 1.1, 0.05)
    assert small["verdict"] == "same" and "within the factor" in small["why"]


def test_runs_that_disagree_are_not_significant():
    # NEW's median is 30% up, but only because one of its three runs is far off and
    # BASE's own runs differ as much: Mann-Whitney on the pooled batches is certain,
    # resampling whole runs is not, and the verdict follows the runs.
    base = [runs_around(800, 1, seed=1)[0], runs_around(1000, 1, seed=2)[0],
            runs_around(1250, 1, seed=3)[0]]
    new = [runs_around(1000, 1, seed=4)[0], runs_around(1300, 1, seed=5)[0],
           runs_around(1700, 1, seed=6)[0]]
    got = compare_samples(base, new, 1.10, 0.05)
    assert got["ratio"] > 1.2 and got["mann_whitney_p"] < 1e-6
    assert got["ci_low"] < 1.0 and got["bootstrap_p"] > 0.05
    assert got["verdict"] == "same" and "not significant" in got["why"]


def test_single_run_resamples_batches():
    got = compare_samples(runs_around(1000, 1, seed=1), runs_around(1300, 1, seed=2), 1.1, 0.05)
    assert got["resampled"] == "batches" and got["verdict"] == "slower"


def test_too_few_samples_and_zero_base():
    got = compare_samples([[1000, 1001]], [[1300, 1301]], 1.1, 0.05)
    assert got["verdict"] == "incomparable" and "too few samples" in got["why"]
    zero = compare_samples([[0] * 10], [[5] * 10], 1.1, 0.05)
    assert zero["verdict"] == "incomparable" and "not positive" in zero["why"]


def test_tail_quantile_uses_the_bootstrap():
    base = runs_around(1000, 3, seed=1)
    new = [run[:-4] + [3000] * 4 for run in runs_around(1000, 3, seed=2)]  # a fat tail only
    got = compare_samples(base, new, 1.1, 0.05, quantile=99.0)
    assert got["test"] == "bootstrap" and got["mann_whitney_p"] is None
    assert got["verdict"] == "slower" and got["ratio"] > 2
    assert compare_samples(base, new, 1.1, 0.05)["verdict"] == "same"  # the median is not


def test_results_are_deterministic():
    base, new = runs_around(1000, 3, seed=1), runs_around(1100, 3, seed=2)
    assert compare_samples(base, new, 1.1, 0.05) == compare_samples(base, new, 1.1, 0.05)


def test_speedup_drop():
    bl, mr = runs_around(2000, 3, seed=1), runs_around(1000, 3, seed=2)
    mr_slow = runs_around(1400, 3, seed=3)
    got = compare_speedups(bl, mr, bl, mr_slow, 1.1, 0.05)
    assert got["base"] == pytest.approx(2.0, rel=0.02)
    assert got["new"] == pytest.approx(2 / 1.4, rel=0.02)
    assert got["verdict"] == "slower" and got["test"] == "bootstrap"
    same = compare_speedups(bl, mr, runs_around(2000, 3, seed=4), runs_around(1000, 3, seed=5),
                            1.1, 0.05)
    assert same["verdict"] == "same"


def test_values_factor_only():
    got = compare_values(2.0, 2.5, 1.1, higher_is_better=False)
    assert got["verdict"] == "slower" and "factor alone" in got["why"]
    assert compare_values(2.0, 2.1, 1.1, False)["verdict"] == "same"
    assert compare_values(0.0, 0.0, 1.1, False)["verdict"] == "same"
    assert compare_values(0.0, 1.0, 1.1, False)["verdict"] == "slower"  # a cost appeared
    assert compare_values(0.0, 1.0, 1.1, True)["verdict"] == "faster"
    assert compare_values(1.0, -1.0, 1.1, False)["verdict"] == "incomparable"
    assert metric_named("ipc").higher_is_better
    assert compare_values(10.0, 5.0, 1.1, higher_is_better=True)["verdict"] == "slower"


# -- matching and whole comparisons -------------------------------------------------------

def _point(pid, kernel="baseline", rows=1000, threads=1, level=1000.0, status="ok", **kw):
    params = {"backend": "torch"} if kernel == "baseline" else {
        "token_rows": 100, "k": 2, "weight_rows": 50, "k_weight": 1, "backend": "torch"}
    identity = {"kernel": kernel, "params": params, "table_rows": rows, "dim": 16,
                "batch_size": 64, "pooling": 1, "features": 1, "threads": threads,
                "distribution": {"name": "uniform"}}
    runs = (runs_around(level, 3, seed=zlib.crc32(pid.encode())) if status == "ok"
            else kw.pop("runs", []))
    return PointData(pid, pid, identity, status, kw.pop("reason", ""), runs, 64,
                     kw.pop("row", {}))


def test_match_by_identity_not_by_id():
    base = [_point("b-small"), _point("b-big", rows=4000), _point("b-t2", threads=2)]
    new = [_point("n-big", rows=4000), _point("n-small"), _point("n-other", rows=9)]
    pairs, only_base, only_new = match_points(base, new)
    assert [(b.point_id, n.point_id) for b, n in pairs] == [("b-big", "n-big"),
                                                           ("b-small", "n-small")]
    assert only_base == ["b-t2"] and only_new == ["n-other"]


def test_duplicate_identity_is_refused():
    with pytest.raises(UsageError, match="same identity"):
        match_points([_point("a"), _point("b")], [_point("c")])


def test_statuses_and_exit_status():
    base = [_point("ok"), _point("broken", rows=2), _point("skip", rows=3, status="skipped",
                                                            reason="needs 64 cores")]
    new = [_point("ok", level=1000), _point("broken", rows=2, status="failed",
                                            reason="worker killed by SIGKILL"),
           _point("skip", rows=3, status="skipped", reason="needs 64 cores")]
    report = compare_runs(base, new, METRICS["p50"], 1.1, 0.05)
    by_id = {c.point_id: c for c in report.changes}
    assert by_id["broken"].verdict == "incomparable" and by_id["broken"].new_failure
    assert "failed in NEW: worker killed" in by_id["broken"].why
    assert by_id["skip"].verdict == "incomparable" and not by_id["skip"].new_failure
    assert report.exit_status == 1  # a point that worked and now fails is a regression


def test_a_failed_run_does_not_hide_a_slowdown_in_the_other_runs():
    """One failed BASE run of three: the two ok runs are still compared (review finding)."""
    ok_runs = runs_around(1000, 2, seed=7)
    base = [_point("a", status="failed", reason="1 of 3 runs failed: timed out", runs=ok_runs)]
    report = compare_runs(base, [_point("a", level=1500)], METRICS["p50"], 1.1, 0.05)
    change = report.changes[0]
    assert change.verdict == "slower" and "ok runs only; BASE 1 of 3 runs failed" in change.why
    assert not change.new_failure and report.exit_status == 1
    flaky_new = [_point("a", status="failed", reason="1 of 3 runs failed: timed out",
                        runs=runs_around(1000, 2, seed=8))]
    change = compare_runs([_point("a")], flaky_new, METRICS["p50"], 1.1, 0.05).changes[0]
    assert change.verdict == "same" and change.new_failure  # failing now: still a regression
    none_left = [_point("a", status="failed", reason="3 of 3 runs failed")]
    assert compare_runs(none_left, [_point("a")], METRICS["p50"], 1.1,
                        0.05).changes[0].verdict == "incomparable"


def test_report_exit_statuses():
    base = [_point("a", level=1000)]
    assert compare_runs(base, [_point("a", level=1010)], METRICS["p50"], 1.1,
                        0.05).exit_status == 0
    assert compare_runs(base, [_point("a", level=1500)], METRICS["p50"], 1.1,
                        0.05).exit_status == 1
    nothing = compare_runs([_point("a", status="skipped")], [_point("a", status="skipped")],
                           METRICS["p50"], 1.1, 0.05)
    assert nothing.exit_status == 2 and nothing.comparable == 0
    assert Report(METRICS["p50"], 1.1, 0.05, []).exit_status == 2


def test_no_common_points_and_bad_options():
    with pytest.raises(UsageError, match="no common points"):
        compare_runs([_point("a")], [_point("b", rows=5)], METRICS["p50"], 1.1, 0.05)
    with pytest.raises(UsageError, match="--factor"):
        compare_runs([_point("a")], [_point("a")], METRICS["p50"], 0.9, 0.05)
    with pytest.raises(UsageError, match="--alpha"):
        compare_runs([_point("a")], [_point("a")], METRICS["p50"], 1.1, 1.5)


def test_ns_per_lookup_scales_and_keeps_the_verdict():
    base, new = [_point("a", level=64_000)], [_point("a", level=64_000 * 1.3)]
    per_batch = compare_runs(base, new, METRICS["p50"], 1.1, 0.05).changes[0]
    per_lookup = compare_runs(base, new, METRICS["ns_per_lookup"], 1.1, 0.05).changes[0]
    assert per_lookup.base == pytest.approx(per_batch.base / 64)
    assert per_lookup.verdict == per_batch.verdict == "slower"


def test_speedup_pairs_memrec_with_its_baseline():
    base = [_point("bl", level=2000), _point("mr", kernel="memrec", level=1000)]
    new = [_point("bl", level=2000), _point("mr", kernel="memrec", level=1500)]
    report = compare_runs(base, new, metric_named("speedup"), 1.1, 0.05)
    assert [c.point_id for c in report.changes] == ["mr"]  # baselines are the reference
    assert report.changes[0].verdict == "slower" and report.exit_status == 1
    lonely = compare_runs([base[1]], [new[1]], metric_named("speedup"), 1.1, 0.05)
    assert lonely.changes[0].verdict == "incomparable"
    assert "no measured baseline" in lonely.changes[0].why
    with pytest.raises(UsageError, match="no MEM-REC point"):
        compare_runs([base[0]], [new[0]], metric_named("speedup"), 1.1, 0.05)


def test_counter_columns():
    metric = metric_named("llc_misses_per_lookup")
    assert metric.kind == "column" and not metric.higher_is_better

    def pt(value, source="perf", pid="a"):
        return _point(pid, row={"point_id": pid, "llc_misses_per_lookup": value,
                                "llc_misses_per_lookup_source": source})

    def verdict(b, n):
        c = compare_runs([b], [n], metric, 1.1, 0.05).changes[0]
        return c.verdict, c.why

    assert verdict(pt("1.0"), pt("1.5"))[0] == "slower"
    assert verdict(pt("1.0"), pt("1.02"))[0] == "same"
    assert verdict(pt(""), pt("1.0")) == ("incomparable", "not counted in BASE (perf)")
    v, why = verdict(pt("1.0", "perf"), pt("1.0", "cachegrind"))
    assert v == "incomparable" and "perf in BASE but cachegrind in NEW" in why
    old = _point("a", row={"point_id": "a"})  # an older harness: no such column
    assert "no column" in compare_runs([old], [pt("1.0")], metric, 1.1, 0.05).changes[0].why
    with pytest.raises(UsageError, match="no points.csv column"):
        compare_runs([old], [old], metric_named("llc_misess"), 1.1, 0.05)


def test_metric_names():
    assert metric_named("latency_p50_ns") is METRICS["p50"]
    assert metric_named("p99").quantile == 99.0
    assert metric_named("gbytes_per_s").higher_is_better
    assert math.isclose(METRICS["ns_per_lookup"].quantile, 50.0)


def test_speedup_carries_the_ceiling_new_stored_or_why_none():
    stored = {"speedup_ceiling": "2.5", "ceiling_note": "curve 512B/1t"}
    base = [_point("bl", level=2000), _point("mr", kernel="memrec", level=1000)]
    new = [_point("bl", level=2000), _point("mr", kernel="memrec", level=1000, row=stored)]
    c = compare_runs(base, new, metric_named("speedup"), 1.1, 0.05).changes[0]
    assert c.ceiling == 2.5 and c.ceiling_fraction == pytest.approx(c.new / 2.5)
    assert c.new == pytest.approx(2.0, rel=0.05)
    old = [_point("bl", level=2000), _point("mr", kernel="memrec", level=1000)]
    c = compare_runs(base, old, metric_named("speedup"), 1.1, 0.05).changes[0]
    assert c.ceiling is None and c.ceiling_fraction is None
    assert "no speedup_ceiling" in c.ceiling_note
    empty = {"speedup_ceiling": "", "ceiling_note": "this run references no limits result"}
    none = [_point("bl", level=2000), _point("mr", kernel="memrec", level=1000, row=empty)]
    c = compare_runs(base, none, metric_named("speedup"), 1.1, 0.05).changes[0]
    assert c.ceiling is None and c.ceiling_note == "this run references no limits result"


def test_speedup_ceiling_from_a_given_limits_result():
    from harness.compare.render import render_text

    def row(kernel, params, kernel_bytes):
        return {"kernel": kernel, "params": params, "dim": "128", "threads": "1",
                "kernel_bytes": str(kernel_bytes), "batch_size": "2048", "pooling": "1",
                "features": "1", "layout": "per-feature"}

    limits = {"gather": {"512B/1t": [{"working_set_bytes": 1 << 20, "ns_per_row": 10.0},
                                     {"working_set_bytes": 1 << 30, "ns_per_row": 80.0}]}}
    bl_row = row("baseline", "{}", 1 << 30)
    mr_row = row("memrec", '{"token_rows": 2048, "k": 2, "weight_rows": 16384, '
                           '"k_weight": 0}', 2048 * 512 + 16384 * 4)
    base = [_point("bl", level=2000), _point("mr", kernel="memrec", level=1000)]
    new = [_point("bl", level=2000, row=bl_row),
           _point("mr", kernel="memrec", level=1000, row=mr_row)]
    report = compare_runs(base, new, metric_named("speedup"), 1.1, 0.05, new_limits=limits)
    c = report.changes[0]
    assert c.ceiling == pytest.approx(80 / 20)   # max(80, 10) / max(2 x 10, 10)
    text = render_text(report, *[{"directory": d, "scenario": "s", "hostname": "h"}
                                 for d in ("a", "b")])
    assert "NEW ceiling" in text and "4x" in text

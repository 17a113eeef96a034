"""The speed benchmark's analysis (benchmarks/speed.py) on synthetic points, and its
scenarios' validity; the benchmark itself is run by hand, never timed in tests."""

import importlib.util
import json

import pytest

from harness.scenario.schema import load_scenario

LLC = 32 * 2**20


def _speed_module(repo):
    spec = importlib.util.spec_from_file_location("speed", repo / "benchmarks" / "speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(kernel, ns, llc_ratio, threads=1, batch=2048, **params):
    return {"kernel": kernel, "params": json.dumps(params), "llc_ratio": str(llc_ratio),
            "threads": str(threads), "batch_size": str(batch), "dim": "128",
            "ns_per_lookup": str(ns), "status": "ok"}


def test_speed_table_ratios(repo):
    speed = _speed_module(repo)
    small = dict(token_rows=LLC // 8 // 512, k=2, weight_rows=75000, k_weight=2)
    large = dict(small, token_rows=LLC // 2 // 512)
    runs = [[_row("baseline", 20.0, 0.125), _row("baseline", 100.0, 64),
             _row("baseline", 40.0, 0.5), dict(_row("baseline", 135.0, 64), pages="4k"),
             _row("memrec", 50.0, 64, backend="fused", prefetch=8, **small),
             _row("memrec", 40.0, 64, backend="fused", prefetch=0, **small),
             _row("memrec", 90.0, 64, backend="torch", **small),
             _row("memrec", 70.0, 64, backend="fused", prefetch=8, **large),
             _row("memrec", 99.0, 64, backend="fused", prefetch=0, **large)],
            [_row("baseline", 30.0, 0.125), _row("baseline", 100.0, 64),
             _row("memrec", 50.0, 64, backend="fused", prefetch=0, **small),
             _row("memrec", 90.0, 64, backend="torch", **small)]]
    small_row, large_row = speed.speed_table(runs, LLC)
    # 1/8 LLC: no prefetch is the default; medians over the two runs.
    assert small_row["fused_ns"] == 45.0 and small_row["base_row_ns"] == 25.0
    assert small_row["fused_range"] == (40.0, 50.0) and small_row["fused_pf8_ns"] == 50.0
    assert small_row["floor"] == pytest.approx(45 / 50) and small_row["floor_ok"]
    assert small_row["torch_speedup"] == pytest.approx(2.0) and small_row["torch_ok"]
    assert small_row["vs_64x"] == pytest.approx(100 / 45) and small_row["big_ok"]
    # The 4 KiB-page baseline is its own column, never mixed into the huge-page one.
    assert small_row["base_64x_4k_ns"] == 135.0 and small_row["big_4k_ok"]
    assert small_row["vs_64x_4k"] == pytest.approx(3.0)
    assert small_row["big_applies"]
    # 1/2 LLC: prefetch 8 is the default; no torch point, and the 64x target does not apply.
    assert large_row["fused_ns"] == 70.0 and large_row["floor"] == pytest.approx(70 / 80)
    assert large_row["torch_speedup"] is None and not large_row["big_applies"]
    text = speed.format_table([small_row, large_row])
    assert "1/8" in text and "1/2" in text and "40.0-50.0" in text
    assert "torch: 1/2" in speed.summary([small_row, large_row])
    assert speed.format_table([small_row], markdown=True).startswith("| thr |")


def test_speed_table_marks_misses_and_missing(repo):
    speed = _speed_module(repo)
    memrec = dict(token_rows=LLC // 2 // 512, k=4, weight_rows=75000, k_weight=2)
    (row,) = speed.speed_table([[_row("memrec", 200.0, 64, backend="fused", prefetch=8,
                                      **memrec)]], LLC)
    assert row["floor"] is None and not row["floor_ok"] and not row["big_applies"]
    assert "MISS" in speed.format_table([row])


@pytest.mark.parametrize("name", ["speed_baseline", "speed_memrec", "speed_baseline_4k",
                                  "speed_floor"])
def test_benchmark_scenarios_validate(repo, name):
    for quick in (False, True):
        assert load_scenario(repo / "benchmarks" / "scenarios" / f"{name}.yaml", quick).scenario


def _ceiling_case(baseline_64x_ns: float) -> tuple[list, dict]:
    """Runs (fused MEM-REC at 40 ns, k=2, token table 1/8 LLC, against a baseline at 64x
    LLC) and gather curves: 10 ns/row at 1/8 LLC, 80 at 64x, 5 for a 64 B weight read."""
    small = dict(token_rows=LLC // 8 // 512, k=2, weight_rows=75000, k_weight=2)
    runs = [[_row("baseline", 20.0, 0.125), _row("baseline", baseline_64x_ns, 64),
             _row("memrec", 40.0, 64, backend="fused", prefetch=0, **small)]]
    gather = {"512B/1t": [{"working_set_bytes": LLC // 8, "ns_per_row": 10.0},
                          {"working_set_bytes": 64 * LLC, "ns_per_row": 80.0}],
              "64B/1t": [{"working_set_bytes": 1, "ns_per_row": 5.0}]}
    return runs, gather


def test_speed_table_prices_the_64x_comparison_against_the_ceiling(repo):
    speed = _speed_module(repo)
    runs, gather = _ceiling_case(90.0)
    (row,) = speed.speed_table(runs, LLC, {"gather": gather})
    # baseline 80, MEM-REC 2 x 10 (the write, one 512 B row per id at the output's
    # working set, 2048 x 512 B = 1 MiB, below the curve: 10 ns, overlaps it) plus
    # 2 x 5 for the weights, which add.
    assert row["ceiling"] == pytest.approx(80 / 30)
    assert row["of_ceiling"] == pytest.approx((90 / 40) / (80 / 30)) and not row["ceiling_ok"]
    assert "MISS" in speed.format_table([row]).splitlines()[1].split()[-1]
    assert row["ceiling_why"] == ""
    assert "ceiling: gathers priced by the one-row probe" in speed.summary([row])
    (none,) = speed.speed_table(runs, LLC, None)
    assert none["ceiling"] is None and none["of_ceiling"] is None
    assert "no limits result" in speed.summary([none])


def test_speed_summary_says_a_ceiling_is_doubtful_and_why_it_was_beaten(repo):
    speed = _speed_module(repo)
    runs, gather = _ceiling_case(200.0)
    limits = {"gather": gather, "gather_step": 8, "doubtful_reasons": ["x", "y"]}
    (row,) = speed.speed_table(runs, LLC, limits)
    assert row["of_ceiling"] == pytest.approx((200 / 40) / (80 / 30))    # 1.875
    text = speed.summary([row])
    assert "\nceiling: doubtful limits result (2 reason(s)" in text
    assert ("\nceiling: 1 thr, batch 2048, token 1/8 LLC, k 2: 1.88 of the ceiling: the "
            "baseline ran slower than its gather floor (200 against 80 ns/lookup)") in text
    assert "one-row probe" not in text


def _probe(ns, table_bytes, bag, ids, prefetch=8):
    """A floor probe's row (speed_floor.yaml): ``ns`` per gathered row."""
    params = {"prefetch": prefetch, "bag": bag} if bag else {"prefetch": prefetch, "step": 8}
    return _row("gather", ns, table_bytes / LLC, batch=ids, **params) | {
        "table_bytes": str(table_bytes)}


def test_the_ceiling_comes_from_the_floor_probes_of_the_same_rounds(repo):
    speed = _speed_module(repo)
    runs, gather = _ceiling_case(100.0)
    token, big = LLC // 8, 64 * LLC
    # Per output row: one row and its write at 64x LLC 90 then 110 ns (median 100); two
    # rows and the write at 1/8 LLC 25 (12.5 per row). A bag-2 probe counts at 2 x 2048
    # ids (as many output rows as the kernels' batch): the one at 2048 ids is ignored.
    # The 2 weight reads: the gather alone at 1/8 LLC (8 ns per 512 B row, the nearest
    # working set to the weight table's), 64/512 of it each: 2 ns.
    probes = [_probe(11.0, token, 1, 2048), _probe(12.5, token, 2, 4096),
              _probe(99.0, token, 2, 2048), _probe(80.0, big, 2, 4096),
              _probe(8.0, token, 0, 2048)]
    rounds = [runs[0] + probes + [_probe(90.0, big, 1, 2048)],
              runs[0] + probes + [_probe(110.0, big, 1, 2048)]]
    (row,) = speed.speed_table(rounds, LLC, {"gather": gather})  # the limits are not used
    assert row["ceiling_source"] == "same rounds"
    assert row["ceiling"] == pytest.approx(100 / 27)
    assert row["of_ceiling"] == pytest.approx((100 / 40) / (100 / 27))
    (old,) = speed.speed_table(runs, LLC, {"gather": gather})  # runs without probes
    assert old["ceiling_source"] == "limits" and old["ceiling"] == pytest.approx(80 / 30)

"""The speedup ceiling from a limits result: a pure function, checked on a synthetic
limits dict whose curves make every term a round number."""

import json
import math

import pytest

from harness.limits.ceiling import ceiling_fraction, speedup_ceiling

MIB, GIB = 1 << 20, 1 << 30


def curve(*points):
    return [{"working_set_bytes": ws, "ns_per_row": ns, "gbytes_per_s": 0.0} for ws, ns in points]


# A limits result from before the gather-and-write curves: the write is overlapped.
OVERLAPPED = {"gather": {"512B/1t": curve((MIB, 10.0), (GIB, 80.0)),
                         "64B/1t": curve((MIB, 5.0), (GIB, 40.0)),
                         "512B/2t": curve((MIB, 6.0), (GIB, 50.0))},
              "gather_step": 8, "doubtful_reasons": []}


def bags(write, by_ws):
    """Gather-and-write curves: r rows at ``by_ws[ws]`` ns each plus one ``write``, per
    gathered row, for bags of 1, 2 and 4 rows."""
    return {r: curve(*((ws, (r * ns + write) / r) for ws, ns in by_ws)) for r in (1, 2, 4)}


# The same gathers, and a write of 5 ns (3 at 2 threads) measured with them: per output
# row 1 row + write at 1 GiB costs 85 ns, 2 rows + write at 1 MiB 25, 4 rows 45.
LIMITS = OVERLAPPED | {"gather_bag": {
    **{f"512B/1t/{r}": c for r, c in bags(5.0, [(MIB, 10.0), (GIB, 80.0)]).items()},
    **{f"512B/2t/{r}": c for r, c in bags(3.0, [(MIB, 6.0), (GIB, 50.0)]).items()}}}


def base(**kw):
    return {"kernel": "baseline", "params": "{}", "dim": 128, "threads": 1,
            "kernel_bytes": GIB, "batch_size": 2048, "pooling": 1, "features": 1} | kw


def memrec(**kw):
    # k' = 0 unless a test sets it: the token rows alone keep every floor a round number.
    params = {"token_rows": 2048, "k": 2, "weight_rows": 16384, "k_weight": 0}
    params |= kw.pop("params", {})
    kernel_bytes = params["token_rows"] * 512 + params["weight_rows"] * 4
    return base(kernel="memrec", params=json.dumps(params), kernel_bytes=kernel_bytes) | kw


def test_the_formula_by_hand():
    # baseline: one 512 B row at 1 GiB and its output row (85 ns); MEM-REC: 2 token rows
    # at 1 MiB and the output row (25), plus 1 weight line at 64 KiB (the 64 B curve's
    # first point, 5 ns), added: the weight reads are not overlapped.
    c = speedup_ceiling(LIMITS, base(), memrec(params={"k_weight": 1}))
    assert c["reason"] == "" and c["notes"] == []
    assert c["parts"]["baseline_floor_ns"] == pytest.approx(85.0)
    assert c["parts"]["compressed_floor_ns"] == pytest.approx(25.0 + 5.0)
    assert c["parts"]["weight_read_ns"] == pytest.approx(5.0)
    assert c["parts"]["priced_by"] == "gather and write"
    assert c["speedup_ceiling"] == pytest.approx(85 / 30)
    assert ceiling_fraction(2.0, c["speedup_ceiling"]) == pytest.approx(2.0 * 30 / 85)
    # Without weights, the token rows and the write alone.
    assert speedup_ceiling(LIMITS, base(), memrec())["speedup_ceiling"] == pytest.approx(85 / 25)


def test_without_gather_and_write_curves_the_write_is_overlapped_and_said_so():
    # The gathers alone (80 and 2 x 10 ns), the write (the 512 B row at 2048 x 512 B = 1
    # MiB: 10 ns) as a stream overlapped with them.
    c = speedup_ceiling(OVERLAPPED, base(), memrec())
    assert c["parts"]["baseline_floor_ns"] == pytest.approx(80.0)
    assert c["parts"]["compressed_floor_ns"] == pytest.approx(20.0)
    assert c["parts"]["output_write_ns"] == pytest.approx(10.0)
    assert c["parts"]["priced_by"] == "gather, write overlapped"
    assert c["speedup_ceiling"] == pytest.approx(80 / 20)
    assert [n for n in c["notes"] if "no gather-and-write curves" in n
            and "may be too high" in n]


def test_weight_reads_add_to_the_floor_on_either_model():
    # 4 weight reads in a 1 GiB weight table (4 x 40 ns) add to 2 token rows + write (25).
    heavy = memrec(params={"k_weight": 4, "weight_rows": GIB // 4},
                   kernel_bytes=2048 * 512 + GIB)
    c = speedup_ceiling(LIMITS, base(), heavy)
    assert c["parts"]["compressed_floor_ns"] == pytest.approx(25.0 + 4 * 40.0)
    assert c["speedup_ceiling"] == pytest.approx(85 / 185)
    # Without gather-and-write curves: the slower of 2 x 10 ns and the write (10), plus
    # the reads.
    old = speedup_ceiling(OVERLAPPED, base(), heavy)
    assert old["parts"]["compressed_floor_ns"] == pytest.approx(20.0 + 4 * 40.0)
    # Without gather-and-write curves, a write slower than the baseline's row (tiny
    # pooling-1 batch, huge output) floors both.
    slow_write = {"gather": {"512B/1t": curve((MIB, 10.0), (GIB, 80.0), (4 * GIB, 200.0))},
                  "gather_step": 8, "doubtful_reasons": []}
    c = speedup_ceiling(slow_write, base(batch_size=8 * 1024 * 1024),
                        memrec(batch_size=8 * 1024 * 1024, params={"k_weight": 0}))
    assert c["parts"]["output_write_ns"] == pytest.approx(200.0)
    assert c["speedup_ceiling"] == pytest.approx(1.0)


def test_rows_per_output_row_interpolate_and_extend_the_measured_bags():
    # Per output row at 1 MiB: 1 row 15, 2 rows 25, 4 rows 45 ns (10 a row, 5 the write).
    k3 = speedup_ceiling(LIMITS, base(), memrec(params={"k": 3}))
    assert k3["parts"]["compressed_floor_ns"] == pytest.approx(35.0)
    assert k3["notes"] == []
    k8 = speedup_ceiling(LIMITS, base(), memrec(params={"k": 8}))
    assert k8["parts"]["compressed_floor_ns"] == pytest.approx(85.0)  # 45 + 4 x 10
    assert k8["notes"] == ["8 rows per output row extrapolated from the bags of 2 and 4 rows"]
    # Curves noisier than a row's cost (4 rows no dearer than 2): scale the nearest bag.
    flat = LIMITS | {"gather_bag": LIMITS["gather_bag"] | {
        "512B/1t/4": curve((MIB, 25.0 / 4), (GIB, 165.0 / 4))}}
    assert speedup_ceiling(flat, base(), memrec(params={"k": 8}))["parts"][
        "compressed_floor_ns"] == pytest.approx(25.0 * 8 / 4)


def test_pooling_shares_the_write_and_k_raises_the_floor():
    # 10 ids per bag: the baseline reads 10 rows per output row (85 + 9 x 80 at 1 GiB,
    # past the measured bags: 325 + 6 x 80), MEM-REC 20 (45 + 16 x 10 at 1 MiB).
    pooled = speedup_ceiling(LIMITS, base(pooling=10), memrec(pooling=10))
    assert pooled["parts"]["output_write_ns"] == pytest.approx(1.0)  # one row per 10 ids
    assert pooled["parts"]["baseline_floor_ns"] == pytest.approx(805 / 10)
    assert pooled["parts"]["compressed_floor_ns"] == pytest.approx(205 / 10)
    assert pooled["speedup_ceiling"] == pytest.approx(805 / 205)
    k4 = speedup_ceiling(LIMITS, base(), memrec(params={"k": 4}))
    assert k4["speedup_ceiling"] == pytest.approx(85 / 45)
    overlapped = speedup_ceiling(OVERLAPPED, base(pooling=10), memrec(pooling=10))
    assert overlapped["speedup_ceiling"] == pytest.approx(80 / 20)


def test_log_log_interpolation_between_curve_points():
    # A 32 MiB baseline lies halfway (log) between 1 MiB and 1 GiB: sqrt(10 * 80) ns.
    c = speedup_ceiling(LIMITS, base(kernel_bytes=32 * MIB), memrec())
    assert c["parts"]["baseline_row_ns"] == pytest.approx(math.sqrt(800))


def test_threads_use_their_own_curve_else_one_thread():
    two = speedup_ceiling(LIMITS, base(threads=2), memrec(threads=2, params={"k_weight": 1}))
    assert two["parts"]["curve"] == "512B/2t"
    assert any("64/512" in n for n in two["notes"])  # no 64 B curve at 2 threads
    four = speedup_ceiling(LIMITS, base(threads=4), memrec(threads=4))
    assert four["parts"]["curve"] == "512B/1t" and "1-thread" in four["notes"][0]


def test_other_row_sizes_say_which_curve_priced_them():
    c = speedup_ceiling(LIMITS, base(dim=64), memrec(dim=64, kernel_bytes=2048 * 256 + 65536))
    assert c["parts"]["curve"] == "64B/1t"  # the nearest measured row size
    assert "256 B priced on the 64 B" in c["notes"][0]


def test_no_limits_or_no_model_gives_no_number_and_says_why():
    for limits in (None, {}, {"gather": {}}):
        c = speedup_ceiling(limits, base(), memrec())
        assert c["speedup_ceiling"] is None and "no limits result" in c["reason"]
    qr = speedup_ceiling(LIMITS, base(), base(kernel="qr", params='{"collisions": 4}'))
    assert qr["speedup_ceiling"] is None and "'qr'" in qr["reason"]
    assert ceiling_fraction(2.0, None) is None


def test_bloom_and_shared_layout():
    bloom = base(kernel="bloom", params=json.dumps({"token_rows": 2048, "k": 2}),
                 kernel_bytes=2048 * 512)
    assert speedup_ceiling(LIMITS, base(), bloom)["speedup_ceiling"] == pytest.approx(85 / 25)
    # Shared layout: 26 features, one bag per sample: the write is 1/26 of a row per id.
    shared = memrec(layout="shared", features=26, batch_size=64)
    c = speedup_ceiling(LIMITS, base(layout="shared", features=26), shared)
    assert c["parts"]["output_working_set_bytes"] == 64 * 512  # one output row per sample
    assert c["parts"]["output_write_ns"] == pytest.approx(10.0 / 26)


def test_points_csv_columns_pair_each_compressed_point_with_its_baseline():
    from harness.limits.ceiling import ceiling_columns

    ok = {"status": "ok", "table_rows": 1000, "distribution": "uniform", "pages": "thp"}
    rows = [base(point_id="b", latency_p50_ns=900.0) | ok,
            memrec(point_id="m", latency_p50_ns=500.0) | ok,
            memrec(point_id="m8", latency_p50_ns=500.0, batch_size=8) | ok,
            memrec(point_id="failed") | ok | {"status": "failed"}]
    cols = ceiling_columns(rows, LIMITS)
    assert set(cols) == {"m", "m8"}
    assert cols["m"]["speedup_ceiling"] == pytest.approx(85 / 25)
    assert cols["m"]["ceiling_fraction"] == pytest.approx(1.8 / (85 / 25))
    assert cols["m"]["ceiling_note"] == "curve 512B/1t"
    assert cols["m8"]["speedup_ceiling"] is None and "no ok baseline" in cols["m8"]["ceiling_note"]
    none = ceiling_columns(rows, None, "this run references no limits result")
    assert none["m"]["speedup_ceiling"] is None and none["m"]["ceiling_fraction"] is None
    assert none["m"]["ceiling_note"] == "this run references no limits result"


def test_points_csv_stores_the_ceiling_of_the_referenced_limits_result(tmp_path, zen3_vm):
    import csv
    from pathlib import Path

    from synthetic_results import write_result_dir

    limits_dir = Path(__file__).parent / "fixtures" / "results" / "vm-limits"
    write_result_dir(tmp_path / "with", zen3_vm, manifest_extra={
        "effective": {"effective_llc_source": str(limits_dir)}})
    write_result_dir(tmp_path / "without", zen3_vm)
    for name in ("with", "without"):
        rows = list(csv.DictReader(open(tmp_path / name / "points.csv")))
        memrec = [r for r in rows if r["kernel"] == "memrec"]
        base = [r for r in rows if r["kernel"] == "baseline"]
        assert memrec and all(r["speedup_ceiling"] == "" for r in base)
        for r in memrec:
            if name == "with":
                assert float(r["speedup_ceiling"]) > 0 and float(r["ceiling_fraction"]) > 0
                assert r["ceiling_note"].startswith("curve 256B/1t")  # 64 B rows, nearest
            else:
                assert r["speedup_ceiling"] == "" and r["ceiling_fraction"] == ""
                assert "references no limits result" in r["ceiling_note"]


def test_each_row_priced_by_the_cheaper_of_the_prefetching_and_demand_curves():
    # Demand loads cheaper in DRAM (60 < 80), prefetching cheaper in cache (10 < 12):
    # the floor takes the cheaper one at each working set, on both sides.
    limits = OVERLAPPED | {"gather_demand": {"512B/1t": curve((MIB, 12.0), (GIB, 60.0)),
                                             "64B/1t": curve((MIB, 5.0), (GIB, 40.0))}}
    c = speedup_ceiling(limits, base(), memrec())
    assert c["parts"]["baseline_row_ns"] == pytest.approx(60)
    assert c["parts"]["token_row_ns"] == pytest.approx(10)
    assert c["speedup_ceiling"] == pytest.approx(60 / 20)
    # So do the gather-and-write curves: one row and its write in DRAM on demand loads, 65.
    demand = {f"512B/1t/{r}": c for r, c in bags(5.0, [(MIB, 12.0), (GIB, 60.0)]).items()}
    c = speedup_ceiling(LIMITS | {"gather_bag_demand": demand}, base(), memrec())
    assert c["parts"]["baseline_floor_ns"] == pytest.approx(65)
    assert c["parts"]["compressed_floor_ns"] == pytest.approx(25)


def test_a_doubtful_or_one_row_probe_limits_result_says_so():
    from harness.limits.ceiling import limits_notes

    assert limits_notes(LIMITS) == []
    doubtful = LIMITS | {"doubtful_reasons": ["the LLC is slower than DRAM"]}
    c = speedup_ceiling(doubtful, base(), memrec())
    assert c["speedup_ceiling"] is not None
    assert any(n.startswith("doubtful limits result (1 reason") for n in c["notes"])
    old = {k: v for k, v in LIMITS.items() if k != "gather_step"}  # before issue 17
    assert any("one-row probe" in n for n in speedup_ceiling(old, base(), memrec())["notes"])
    assert any("one-row probe" in n for n in limits_notes(LIMITS | {"gather_step": 1}))


def test_doubts_are_found_in_a_limits_json_that_did_not_store_them():
    from harness.limits.ceiling import limits_notes

    older = {k: v for k, v in LIMITS.items() if k != "doubtful_reasons"}
    assert limits_notes(older) == []
    older["latency_ns_by_level"] = {"LLC": {"ns": 90.0}, "DRAM": {"ns": 80.0}}
    assert [n for n in limits_notes(older) if n.startswith("doubtful")]


def test_a_fraction_above_the_noise_names_the_side_that_left_its_floor():
    from harness.limits.ceiling import fraction_note

    parts = speedup_ceiling(LIMITS, base(), memrec())["parts"]  # floors 85 and 25 ns
    assert fraction_note(parts, 170.0, 25.0, 2.0).startswith(
        "2.00 of the ceiling: the baseline ran slower than its gather floor (170 against 85")
    beat = fraction_note(parts, 85.0, 12.5, 2.0)
    assert "compressed kernel beat its modelled floor (12.5 against 25" in beat
    assert "baseline" not in beat
    assert fraction_note(parts, 170.0, 25.0, 1.04) == ""       # within noise: nothing
    assert fraction_note(parts, 70.0, 40.0, 1.2) == ""         # no side left its floor

    assert fraction_note({}, 160.0, 20.0, 2.0) == ""           # no ceiling priced


def test_a_kernel_faster_than_its_modelled_floor_sets_that_side_s_floor():
    from harness.limits.ceiling import judge

    c = speedup_ceiling(LIMITS, base(), memrec())                 # floors 85 and 25 ns
    # The baseline at 70 ns did its job cheaper than the 1-row probe: 70 is its floor.
    j = judge(c, 70.0, 28.0, 70 / 28)
    assert j["speedup_ceiling"] == pytest.approx(70 / 25)
    assert j["ceiling_fraction"] == pytest.approx((70 / 28) / (70 / 25))
    assert j["why"] == ("the baseline kernel ran faster than its modelled floor (70 against "
                        "85 ns/lookup): its own time is that side's floor")
    # Within 1.05 of a floor is noise: the modelled floors stand.
    assert judge(c, 82.0, 25.0, 82 / 25)["speedup_ceiling"] == pytest.approx(85 / 25)
    # The compressed kernel faster than its probe: its time is its floor, fraction 1 if
    # the baseline sits at its own.
    fast = judge(c, 85.0, 20.0, 85 / 20)
    assert fast["ceiling_fraction"] == pytest.approx(1.0)
    assert "compressed kernel ran faster than its modelled floor (20 against 25" in fast["why"]
    assert judge({"speedup_ceiling": None}, 70.0, 28.0, 2.5) == {
        "speedup_ceiling": None, "ceiling_fraction": None, "why": ""}


def test_points_csv_note_explains_a_fraction_above_one():
    from harness.limits.ceiling import ceiling_columns

    ok = {"status": "ok", "table_rows": 1000, "distribution": "uniform", "pages": "thp"}
    rows = [base(point_id="b", latency_p50_ns=2048 * 170.0, ns_per_lookup=170.0) | ok,
            memrec(point_id="m", latency_p50_ns=2048 * 25.0, ns_per_lookup=25.0) | ok]
    cols = ceiling_columns(rows, LIMITS)
    assert cols["m"]["ceiling_fraction"] == pytest.approx(2.0)
    assert cols["m"]["ceiling_note"] == (
        "curve 512B/1t; 2.00 of the ceiling: the baseline ran slower than its gather floor "
        "(170 against 85 ns/lookup)")


def test_a_compared_point_priced_from_given_limits_carries_their_notes():
    from harness.limits.ceiling import ceiling_of

    doubtful = LIMITS | {"doubtful_reasons": ["the LLC is slower than DRAM"]}
    c = ceiling_of(memrec(), base(), 2.0, doubtful)
    assert c["ceiling"] == pytest.approx(85 / 25)
    assert c["ceiling_note"].startswith("from the given limits result; doubtful limits result")
    assert ceiling_of(memrec(), base(), 2.0, LIMITS)["ceiling_note"] == \
        "from the given limits result"


def test_points_csv_ceiling_takes_a_faster_baseline_as_its_floor():
    from harness.limits.ceiling import ceiling_columns

    ok = {"status": "ok", "table_rows": 1000, "distribution": "uniform", "pages": "thp"}
    rows = [base(point_id="b", latency_p50_ns=2048 * 70.0, ns_per_lookup=70.0) | ok,
            memrec(point_id="m", latency_p50_ns=2048 * 28.0, ns_per_lookup=28.0) | ok]
    col = ceiling_columns(rows, LIMITS)["m"]
    assert col["speedup_ceiling"] == pytest.approx(70 / 25)
    assert col["ceiling_fraction"] == pytest.approx(25 / 28)
    assert col["ceiling_note"] == (
        "curve 512B/1t; the baseline kernel ran faster than its modelled floor (70 against "
        "85 ns/lookup): its own time is that side's floor")

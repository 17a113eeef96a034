"""The speedup ceiling from a limits result: a pure function, checked on a synthetic
limits dict whose curves make every term a round number."""

import json
import math

import pytest

from harness.limits.ceiling import ceiling_fraction, speedup_ceiling

MIB, GIB = 1 << 20, 1 << 30


def curve(*points):
    return [{"working_set_bytes": ws, "ns_per_row": ns, "gbytes_per_s": 0.0} for ws, ns in points]


LIMITS = {"gather": {"512B/1t": curve((MIB, 10.0), (GIB, 80.0)),
                     "64B/1t": curve((MIB, 5.0), (GIB, 40.0)),
                     "512B/2t": curve((MIB, 6.0), (GIB, 50.0))},
          "gather_step": 8, "doubtful_reasons": []}


def base(**kw):
    return {"kernel": "baseline", "params": "{}", "dim": 128, "threads": 1,
            "kernel_bytes": GIB, "batch_size": 2048, "pooling": 1, "features": 1} | kw


def memrec(**kw):
    params = {"token_rows": 2048, "k": 2, "weight_rows": 16384, "k_weight": 1}
    params |= kw.pop("params", {})
    kernel_bytes = params["token_rows"] * 512 + params["weight_rows"] * 4
    return base(kernel="memrec", params=json.dumps(params), kernel_bytes=kernel_bytes) | kw


def test_the_formula_by_hand():
    # baseline: one 512 B row at 1 GiB (80 ns), overlapped with the output row at 2048 x
    # 512 B = 1 MiB (10 ns); MEM-REC: 2 token rows at 1 MiB (2 x 10), overlapped with 1
    # weight line at 64 KiB (the 64 B curve's first point, 5 ns) and the same write (10).
    c = speedup_ceiling(LIMITS, base(), memrec())
    assert c["reason"] == "" and c["notes"] == []
    assert c["parts"]["baseline_floor_ns"] == pytest.approx(80.0)
    assert c["parts"]["compressed_floor_ns"] == pytest.approx(20.0)
    assert c["parts"]["output_write_ns"] == pytest.approx(10.0)
    assert c["parts"]["weight_read_ns"] == pytest.approx(5.0)
    assert c["speedup_ceiling"] == pytest.approx(80 / 20)
    assert ceiling_fraction(2.0, c["speedup_ceiling"]) == pytest.approx(2.0 * 20 / 80)


def test_each_floor_is_its_slowest_overlapped_stream():
    # 4 weight reads in a 1 GiB weight table (4 x 40 ns) outlast 2 token rows (2 x 10).
    heavy = memrec(params={"k_weight": 4, "weight_rows": GIB // 4},
                   kernel_bytes=2048 * 512 + GIB)
    c = speedup_ceiling(LIMITS, base(), heavy)
    assert c["parts"]["compressed_floor_ns"] == pytest.approx(4 * 40.0)
    assert c["speedup_ceiling"] == pytest.approx(80 / 160)
    # A write slower than the baseline's row (tiny pooling-1 batch, huge output) floors both.
    slow_write = {"gather": {"512B/1t": curve((MIB, 10.0), (GIB, 80.0), (4 * GIB, 200.0))},
                  "gather_step": 8, "doubtful_reasons": []}
    c = speedup_ceiling(slow_write, base(batch_size=8 * 1024 * 1024),
                        memrec(batch_size=8 * 1024 * 1024, params={"k_weight": 0}))
    assert c["parts"]["output_write_ns"] == pytest.approx(200.0)
    assert c["speedup_ceiling"] == pytest.approx(1.0)


def test_pooling_shares_the_write_and_k_raises_the_floor():
    pooled = speedup_ceiling(LIMITS, base(pooling=10), memrec(pooling=10))
    assert pooled["parts"]["output_write_ns"] == pytest.approx(1.0)  # one row per 10 ids
    assert pooled["speedup_ceiling"] == pytest.approx(80 / 20)
    k4 = speedup_ceiling(LIMITS, base(), memrec(params={"k": 4}))
    assert k4["speedup_ceiling"] == pytest.approx(80 / 40)


def test_log_log_interpolation_between_curve_points():
    # A 32 MiB baseline lies halfway (log) between 1 MiB and 1 GiB: sqrt(10 * 80) ns.
    c = speedup_ceiling(LIMITS, base(kernel_bytes=32 * MIB), memrec())
    assert c["parts"]["baseline_row_ns"] == pytest.approx(math.sqrt(800))


def test_threads_use_their_own_curve_else_one_thread():
    two = speedup_ceiling(LIMITS, base(threads=2), memrec(threads=2))
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
    assert speedup_ceiling(LIMITS, base(), bloom)["speedup_ceiling"] == pytest.approx(80 / 20)
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
    assert cols["m"]["speedup_ceiling"] == pytest.approx(80 / 20)
    assert cols["m"]["ceiling_fraction"] == pytest.approx(1.8 / (80 / 20))
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
    limits = LIMITS | {"gather_demand": {"512B/1t": curve((MIB, 12.0), (GIB, 60.0)),
                                         "64B/1t": curve((MIB, 5.0), (GIB, 40.0))}}
    c = speedup_ceiling(limits, base(), memrec())
    assert c["parts"]["baseline_row_ns"] == pytest.approx(60)
    assert c["parts"]["token_row_ns"] == pytest.approx(10)
    assert c["speedup_ceiling"] == pytest.approx(60 / 20)


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

    parts = speedup_ceiling(LIMITS, base(), memrec())["parts"]  # floors 80 and 20 ns
    assert fraction_note(parts, 160.0, 20.0, 2.0).startswith(
        "2.00 of the ceiling: the baseline ran slower than its gather floor (160 against 80")
    beat = fraction_note(parts, 80.0, 10.0, 2.0)
    assert "compressed kernel beat its modelled floor (10 against 20" in beat
    assert "baseline" not in beat
    assert fraction_note(parts, 160.0, 20.0, 1.04) == ""       # within noise: nothing
    assert fraction_note(parts, 70.0, 40.0, 1.2) == ""         # no side left its floor
    assert fraction_note({}, 160.0, 20.0, 2.0) == ""           # no ceiling priced


def test_points_csv_note_explains_a_fraction_above_one():
    from harness.limits.ceiling import ceiling_columns

    ok = {"status": "ok", "table_rows": 1000, "distribution": "uniform", "pages": "thp"}
    rows = [base(point_id="b", latency_p50_ns=2048 * 160.0, ns_per_lookup=160.0) | ok,
            memrec(point_id="m", latency_p50_ns=2048 * 20.0, ns_per_lookup=20.0) | ok]
    cols = ceiling_columns(rows, LIMITS)
    assert cols["m"]["ceiling_fraction"] == pytest.approx(2.0)
    assert cols["m"]["ceiling_note"] == (
        "curve 512B/1t; 2.00 of the ceiling: the baseline ran slower than its gather floor "
        "(160 against 80 ns/lookup)")


def test_a_compared_point_priced_from_given_limits_carries_their_notes():
    from harness.limits.ceiling import ceiling_of

    doubtful = LIMITS | {"doubtful_reasons": ["the LLC is slower than DRAM"]}
    c = ceiling_of(memrec(), base(), 2.0, doubtful)
    assert c["ceiling"] == pytest.approx(80 / 20)
    assert c["ceiling_note"].startswith("from the given limits result; doubtful limits result")
    assert ceiling_of(memrec(), base(), 2.0, LIMITS)["ceiling_note"] == \
        "from the given limits result"

import json

import numpy as np
import pytest

from harness.limits.analysis import analyse, gather_cost_at, knee, parse_ratios
from kernels.microbench import Chase, Gather, Stream

from cli import assert_usage_error, run_harness

MiB = 2**20
LLC = 32 * MiB


def curve(points):
    return [(ws, ns, 0.0) for ws, ns in points]


def test_knee_interpolates_on_log_axes():
    c = curve([(MiB, 10), (4 * MiB, 10), (8 * MiB, 10), (16 * MiB, 40), (256 * MiB, 40),
               (1024 * MiB, 40)])
    k = knee(c, LLC, l2_bytes=MiB // 2)
    assert k["llc_level_ns"] == 10 and k["dram_level_ns"] == 40 and k["threshold_ns"] == 20
    # 20 ns is half way (in log) from 10 to 40: half way (in log) from 8 to 16 MiB.
    assert k["effective_llc_bytes"] == pytest.approx(8 * MiB * 2**0.5, rel=1e-6)


def test_knee_below_a_quarter_of_the_llc():
    """A shared LLC whose usable share ends near 4 MiB of 32 (review finding: the search
    began at LLC/4 and the in-cache level mixed in the rising part, giving 8 MiB)."""
    sizes = [MiB // 2, MiB, 2 * MiB, 4 * MiB, 8 * MiB, 16 * MiB, 32 * MiB, 128 * MiB,
             512 * MiB, 2048 * MiB]
    c = curve([(ws, 5 + 75 / (1 + (4 * MiB / ws) ** 4)) for ws in sizes])
    k = knee(c, LLC, l2_bytes=MiB // 2)
    assert 2.5 * MiB < k["effective_llc_bytes"] < 4.5 * MiB


def test_knee_reasons():
    flat = knee(curve([(MiB, 10), (8 * MiB, 10), (512 * MiB, 11)]), LLC, None)
    assert flat["effective_llc_bytes"] is None and "no clear step" in flat["reason"]
    coarse = knee(curve([(MiB // 2, 5), (2048 * MiB, 50)]), LLC, None)
    assert coarse["effective_llc_bytes"] is None and "too coarse" in coarse["reason"]
    missing = knee(curve([(MiB, 10), (8 * MiB, 10)]), LLC, None)
    assert "lacks working sets" in missing["reason"]


def _rows(kernel, dim, threads, points):
    return [{"kernel": kernel, "status": "ok", "dim": str(dim), "threads": str(threads),
             "table_bytes": str(ws), "ns_per_lookup": str(ns), "gbytes_per_s": str(gb)}
            for ws, ns, gb in points]


def test_analyse_levels_and_bandwidth():
    machine = {"llc_bytes": LLC, "caches": [
        {"level": 1, "type": "Data", "size_bytes": 32 * 1024},
        {"level": 2, "type": "Unified", "size_bytes": MiB // 2},
        {"level": 3, "type": "Unified", "size_bytes": LLC}]}
    gather = [(2 * MiB, 10, 6), (8 * MiB, 10, 6), (16 * MiB, 40, 2), (512 * MiB, 40, 2)]
    rows = (_rows("gather", 16, 1, gather) + _rows("gather", 128, 1, gather)
            + _rows("chase", 16, 1, [(8 * 1024, 1.5, 0), (128 * 1024, 4, 0), (4 * MiB, 15, 0),
                                      (512 * MiB, 250, 0)])
            + _rows("stream", 16, 2, [(8 * MiB, 1, 40), (512 * MiB, 3, 20)])
            + [{"kernel": "gather", "status": "failed", "dim": "16", "threads": "1",
                "table_bytes": "1", "ns_per_lookup": "", "gbytes_per_s": ""}])
    out = analyse(rows, machine)
    assert out["effective_llc_bytes"] == pytest.approx(8 * MiB * 2**0.5, rel=1e-6)
    assert set(out["knees_by_row_bytes"]) == {"64", "512"}
    lat = out["latency_ns_by_level"]
    assert (lat["L1"]["ns"], lat["L2"]["ns"], lat["LLC"]["ns"], lat["DRAM"]["ns"]) == \
        (1.5, 4, 15, 250)
    assert out["stream_by_threads"]["2"] == {"llc_gbytes_per_s": 40, "dram_gbytes_per_s": 20}
    assert gather_cost_at(out, 64, 1, 8 * MiB * 2**0.5) == pytest.approx(20, rel=1e-6)
    assert gather_cost_at(out, 64, 1, 1) == 10 and gather_cost_at(out, 64, 1, 10**12) == 40
    assert gather_cost_at(out, 256, 1, MiB) is None


def test_parse_ratios():
    assert [float(r) for r in parse_ratios("4, 1/64,1/4")] == [1 / 64, 0.25, 4]
    for bad in ("", "x", "0", "-1", "1/0"):
        with pytest.raises(ValueError):
            parse_ratios(bad)


def test_microbench_kernels_match_numpy():
    ids = np.random.default_rng(0).integers(0, 4096, 1000)
    g = Gather(4096, 16, seed=1)
    np.testing.assert_allclose(g.lookup(ids), g.reference(ids), rtol=1e-5)
    assert g.bytes_per_lookup() == 64 and g.alignment == 4096
    c = Chase(4096, 16, seed=1)  # 256 KiB: 4096 lines in one cycle
    assert c.lookup(np.zeros(777)) == c.reference(np.zeros(777))
    seen, i = set(), int(c.next[0])
    for _ in range(c.lines):
        seen.add(i)
        i = int(c.next[i * 8])
    assert len(seen) == c.lines  # Sattolo: a single cycle through every line
    s = Stream(4096, 16, seed=1)
    np.testing.assert_allclose(s.lookup(np.zeros(300)), s.reference(np.zeros(300)), rtol=1e-6)


@pytest.mark.slow
def test_limits_command_small_sweep(tmp_path):
    out = tmp_path / "lim"
    proc = run_harness("limits", "--quick", "--sizes", "1/64,1/4", "--rows", "64", "--out", out)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "limits.json").read_text())
    assert data["sysfs_llc_bytes"] > 0 and "method" in data
    kernels = {r.split(",")[1] for r in (out / "points.csv").read_text().splitlines()[1:]}
    assert kernels == {"gather", "chase", "stream"}
    assert "effective LLC" in proc.stdout
    assert_usage_error(run_harness("limits", "--rows", "63"), "--rows")


def _limits_json(**fields) -> dict:
    """The smallest limits.json the store accepts (harness.store.models.LimitsResult)."""
    return {"sysfs_llc_bytes": 32 * MiB, "knees_by_row_bytes": {}, "gather": {},
            "latency_ns_by_level": {}, "stream_by_threads": {}} | fields


def test_effective_llc_sizes_resolve_from_a_limits_result(tmp_path, repo):
    from harness.machine.detect import describe_machine

    lim = tmp_path / "lim"
    lim.mkdir()
    (lim / "limits.json").write_text(json.dumps(_limits_json(
        effective_llc_bytes=16 * MiB, machine_identity=describe_machine().identity())))
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: e\nthreads: [1]\nbatch_sizes: [8]\n"
                        "tables: {sizes: ['0.5x effective-LLC'], dim: 16}\n"
                        "kernels: [{kernel: baseline}]\n")
    proc = run_harness("run", scenario, "--limits", lim, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"rows{8 * MiB // 64}." in proc.stdout
    other = tmp_path / "other"
    other.mkdir()
    (other / "limits.json").write_text(json.dumps(_limits_json(
        effective_llc_bytes=1, machine_identity={"model_name": "x"})))
    assert_usage_error(run_harness("run", scenario, "--limits", other, "--dry-run"),
                       "another machine")


def test_knee_from_demand_loads_ceiling_from_prefetching_gathers():
    machine = {"llc_bytes": LLC, "caches": []}
    demand = _rows("gather", 128, 1, [(4 * MiB, 20, 0), (8 * MiB, 20, 0), (16 * MiB, 80, 0),
                                       (512 * MiB, 80, 0)])
    ahead = _rows("gather", 128, 1, [(4 * MiB, 18, 0), (8 * MiB, 18, 0), (16 * MiB, 30, 0),
                                      (512 * MiB, 40, 0)])
    for r in demand:
        r["params"] = json.dumps({"backend": "numba", "prefetch": 0})
    for r in ahead:
        r["params"] = json.dumps({"backend": "numba", "prefetch": 8})
    out = analyse(demand + ahead, machine)
    assert out["effective_llc_bytes"] == pytest.approx(8 * MiB * 2**0.5, rel=1e-6)
    assert gather_cost_at(out, 512, 1, 512 * MiB) == 40          # the ceiling curve
    assert out["gather_demand"]["512B/1t"][-1]["ns_per_row"] == 80


def test_gather_prefetch_is_a_swept_parameter(tmp_path, zen3_vm):
    from harness.limits.analysis import limits_scenarios, loaded_limits
    from harness.execute.plan import make_plan

    doc = limits_scenarios(True, [1])[0]
    plan = make_plan(loaded_limits(doc, True), zen3_vm)
    assert {p.params["prefetch"] for p in plan.points} == {0, 8}
    alone = [p for p in plan.points if not p.params.get("bag")]
    assert alone and {p.params["step"] for p in alone} == {8}
    # The gather-and-write curves: 1, 2 and 4 rows per output row, both prefetch settings.
    assert {(p.params["bag"], p.params["prefetch"]) for p in plan.points
            if p.params.get("bag")} == {(b, f) for b in (1, 2, 4) for f in (0, 8)}
    # Unset parameters name nothing: the gather alone keeps its ids of before bags.
    assert not [p.point_id for p in plan.points if "None" in p.point_id]
    assert any(p.point_id.startswith("gather-numba-step8-prefetch0.") for p in plan.points)
    g = Gather(4096, 16, seed=1, prefetch=0)
    ids = np.arange(100)
    np.testing.assert_allclose(g.lookup(ids), g.reference(ids), rtol=1e-5)


@pytest.mark.parametrize("step,prefetch", [(1, 0), (1, 8), (8, 0), (8, 8)])
def test_gather_sums_the_same_rows_one_or_eight_per_pass(step, prefetch):
    # 1000 ids over 64 chunks: chunks of 15 and 16 rows, so both the 8-row passes and
    # the one-row tail run; random ids with repeats.
    g = Gather(4096, 128, seed=1, prefetch=prefetch, step=step)
    ids = np.random.default_rng(2).integers(0, 4096, 1000)
    np.testing.assert_allclose(g.lookup(ids), g.reference(ids), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="step must be one of"):
        Gather(16, 16, step=4)


@pytest.mark.parametrize("bag,prefetch", [(1, 0), (2, 8), (4, 0), (4, 8)])
def test_gather_bags_write_each_bags_sum_to_its_own_output_row(bag, prefetch):
    # 1003 ids: a tail of ids that fill no output row; and a batch with more output rows
    # than the output holds (BAG_OUTPUT_ROWS), each chunk writing its share cyclically.
    from kernels.microbench import BAG_OUTPUT_ROWS

    g = Gather(4096, 16, seed=1, prefetch=prefetch, bag=bag)
    rng = np.random.default_rng(bag)
    ids = rng.integers(0, 4096, 1003)
    out = g.lookup(ids)
    assert out.shape == (1003 // bag, 16)
    np.testing.assert_allclose(out, g.table[ids[:1003 // bag * bag]].reshape(-1, bag, 16)
                               .sum(1), rtol=1e-4, atol=1e-4)
    many = rng.integers(0, 4096, 3 * BAG_OUTPUT_ROWS * bag + 5)
    got = g.lookup(many)
    assert got.shape == (BAG_OUTPUT_ROWS, 16)
    np.testing.assert_allclose(got, g.reference(many), rtol=1e-4, atol=1e-4)
    assert g.bytes_per_lookup() == 64 + 64 // bag
    with pytest.raises(ValueError, match="bag must be one of"):
        Gather(16, 16, bag=3)


def test_analysis_stores_gather_and_write_curves_apart_from_the_gather():
    machine = {"llc_bytes": LLC, "caches": []}
    points = [(4 * MiB, 20, 0), (512 * MiB, 80, 0)]
    alone, bag2, bag2_demand = (_rows("gather", 128, 1, points) for _ in range(3))
    for r in alone:
        r["params"] = json.dumps({"prefetch": 8, "step": 8})
    for r in bag2:
        r["params"] = json.dumps({"prefetch": 8, "bag": 2})
        r["ns_per_lookup"] = str(float(r["ns_per_lookup"]) + 3)
    for r in bag2_demand:
        r["params"] = json.dumps({"prefetch": 0, "bag": 2})
        r["ns_per_lookup"] = str(float(r["ns_per_lookup"]) + 4)
    out = analyse(alone + bag2 + bag2_demand, machine)
    assert out["gather_step"] == 8
    assert [p["ns_per_row"] for p in out["gather"]["512B/1t"]] == [20, 80]
    assert [p["ns_per_row"] for p in out["gather_bag"]["512B/1t/2"]] == [23, 83]
    assert [p["ns_per_row"] for p in out["gather_bag_demand"]["512B/1t/2"]] == [24, 84]
    assert gather_cost_at(out, 512, 1, 512 * MiB, "gather_bag", bag=2) == pytest.approx(83)
    assert gather_cost_at(out, 512, 1, 512 * MiB, "gather_bag", bag=4) is None


def test_analysis_keeps_the_largest_step_and_stores_it():
    machine = {"llc_bytes": LLC, "caches": []}
    points = [(4 * MiB, 20, 0), (512 * MiB, 80, 0)]
    one, eight = _rows("gather", 128, 1, points), _rows("gather", 128, 1, points)
    for r in one:
        r["params"] = json.dumps({"prefetch": 8, "step": 1})
        r["ns_per_lookup"] = str(2 * float(r["ns_per_lookup"]))
    for r in eight:
        r["params"] = json.dumps({"prefetch": 8, "step": 8})
    out = analyse(one + eight, machine)
    assert out["gather_step"] == 8
    assert [p["ns_per_row"] for p in out["gather"]["512B/1t"]] == [20, 80]
    older = analyse(_rows("gather", 128, 1, points), machine)    # no step param: 1
    assert older["gather_step"] == 1


def test_summary_prints_the_gather_and_write_floors_per_output_row():
    from harness.commands.limits import summary

    machine = {"llc_bytes": LLC, "caches": []}
    rows = []
    for bag, per_output in ((1, 15.0), (2, 25.0), (4, 45.0)):
        curve = _rows("gather", 128, 1, [(4 * MiB, per_output / bag, 0),
                                          (512 * MiB, 8 * per_output / bag, 0)])
        for r in curve:
            r["params"] = json.dumps({"prefetch": 8, "bag": bag})
        rows += curve
    printed = summary(analyse(rows, machine))
    # At LLC/8 (4 MiB) and the largest working set: ns per output row of 1, 2, 4 rows.
    assert ("gather+write   512-byte rows, 1 thread(s), ns per output row of 1/2/4 rows: "
            "4 MiB 15.0/25.0/45.0; 512 MiB 120.0/200.0/360.0") in printed

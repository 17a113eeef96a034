import math

import pytest

from harness.errors import UsageError
from harness.execute.plan import make_plan, parse_memory_limit, resolve_pinning
from harness.scenario.schema import Pinning, load_scenario


def plan_for(repo, name, machine, quick=False, budget=None):
    return make_plan(load_scenario(repo / "scenarios" / f"{name}.yaml", quick=quick), machine,
                     budget)


def test_pinning_one_cpu_per_core_on_socket(skylake):
    ps = resolve_pinning(Pinning(cores="auto", socket=0, smt=False), skylake)
    assert ps.cpus == list(range(28))
    ps = resolve_pinning(Pinning(cores="auto", socket=0, smt=True), skylake)
    assert ps.cpus == list(range(28)) + list(range(56, 84))
    ps = resolve_pinning(Pinning(cores="auto", smt=False), skylake)
    assert ps.cpus == list(range(56))  # socket 0's cores first, then socket 1's


def test_pinning_explicit_list_notes_missing(zen3_vm):
    ps = resolve_pinning(Pinning(cores="0-27"), zen3_vm)
    assert ps.cpus == [0, 1]
    assert any("2-27" in note for note in ps.notes)


def test_pinning_explicit_siblings_dropped_without_smt(skylake):
    ps = resolve_pinning(Pinning(cores=[0, 56, 1, 57]), skylake)
    assert ps.cpus == [0, 1]
    assert any("siblings" in n for n in ps.notes)


def test_skylake_scenario_on_skylake(repo, skylake):
    plan = plan_for(repo, "skylake", skylake)
    assert plan.llc_bytes == 39424 * 1024
    assert {p.threads for p in plan.runnable} == {1, 2, 4, 8, 14, 28}
    p28 = next(p for p in plan.runnable if p.threads == 28)
    assert p28.cpus == list(range(28))
    big = [p for p in plan.points if p.table_size == "256x LLC" and p.kernel == "baseline"]
    assert big and all(p.status == "planned" for p in big)  # 10 GB fits 370 GiB
    assert math.isclose(big[0].llc_ratio, 256, rel_tol=1e-6)


def test_skylake_scenario_on_a_2cpu_vm(repo, zen3_vm):
    plan = plan_for(repo, "skylake", zen3_vm, quick=True)
    skipped = [p for p in plan.points if p.status == "skipped"]
    assert skipped and all(p.threads == 28 for p in skipped)
    assert skipped[0].reason == "needs 28 cores, the pinning set has 2 (CPUs 0-1)"
    assert {p.threads for p in plan.runnable} == {1, 2}
    assert plan.runnable[0].repeats == 1 and plan.runnable[0].batches == 30


def test_sizes_follow_the_llc(repo, skylake, zen4):
    a = {p.table_size: p.table_rows for p in plan_for(repo, "ci", skylake).points}
    b = {p.table_size: p.table_rows for p in plan_for(repo, "ci", zen4).points}
    assert a["0.25x LLC"] == 39424 * 1024 // 4 // 256
    assert b["0.25x LLC"] == 32 * 2**20 // 4 // 256


def test_memory_budget_skips_with_both_numbers(repo, zen3_vm):
    plan = plan_for(repo, "ci", zen3_vm, budget=560 * 2**20)
    skipped = [p for p in plan.points if p.status == "skipped"]
    assert skipped and "over the budget of 560 MiB" in skipped[0].reason
    assert "needs ~" in skipped[0].reason


def test_memrec_sizes_and_footprint(repo, zen3_vm):
    plan = plan_for(repo, "ci", zen3_vm)
    m = next(p for p in plan.points if p.kernel == "memrec")
    assert m.params["token_rows"] == 32 * 2**20 // 8 // 256  # 0.125x LLC of 256-byte rows
    assert m.kernel_bytes == m.params["token_rows"] * 256 + 4096 * 4
    assert m.bytes_per_lookup == 2 * 256 + 4


def test_point_ids_unique_and_kernels_adjacent(repo, skylake):
    plan = plan_for(repo, "skylake", skylake)
    ids = [p.point_id for p in plan.points]
    assert len(ids) == len(set(ids))
    # Kernels at one configuration run next to each other (drift hits them alike).
    assert [p.kernel for p in plan.points[:3]] == ["baseline", "memrec", "memrec"]


def test_unknown_llc_needs_absolute_sizes(repo, zen3_vm):
    zen3_vm.llc_bytes = None
    with pytest.raises(UsageError, match="LLC size is unknown"):
        plan_for(repo, "ci", zen3_vm)


def test_memory_limit_parsing():
    assert parse_memory_limit("12GiB", None) == 12 * 2**30
    assert parse_memory_limit("50%", 1000) == 500
    for bad in ("lots", "150%", "x%"):
        with pytest.raises(UsageError):
            parse_memory_limit(bad, 1000)
    for not_memory in ("1x LLC", "4096 rows"):  # were read as a 0 B / 4 kB budget
        with pytest.raises(UsageError, match="not an amount of memory"):
            parse_memory_limit(not_memory, 1000)


def test_threads_all_follows_the_pinning_set(repo, skylake, zen3_vm, tmp_path):
    text = (repo / "scenarios/ci.yaml").read_text().replace("threads: [1, 2]", "threads: [1, all]")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert {p.threads for p in make_plan(load_scenario(path), skylake).points} == {1, 56}
    assert {p.threads for p in make_plan(load_scenario(path), zen3_vm).points} == {1, 2}
    path.write_text(text.replace("[1, all]", "[2, all]"))
    plan = make_plan(load_scenario(path), zen3_vm)
    assert {p.threads for p in plan.points} == {2}  # "all" == 2 here: no duplicate points


def test_the_index_pool_is_sized_by_the_llc_not_by_max_batches():
    from harness.execute.plan import (INDEX_POOL_BYTES, MIN_POOL_BATCHES, POOL_LLC_MULTIPLE,
                                      pool_batches)

    llc = 32 * 2**20
    # batch 128 of 512 B rows: 64 KiB a batch, 4 x LLC takes 2048 batches
    assert pool_batches(100_000, 128 * 512, 128 * 8, llc) == POOL_LLC_MULTIPLE * llc // 65536
    # never more than the point may time, nor fewer than MIN_POOL_BATCHES otherwise
    assert pool_batches(50, 128 * 512, 128 * 8, llc) == 50
    assert pool_batches(100_000, 16384 * 512, 16384 * 8, llc) == MIN_POOL_BATCHES
    # the index memory cap still holds
    assert pool_batches(100_000, 8, 2**20, llc) == INDEX_POOL_BYTES // 2**20
    # no LLC known: as many as it may time (capped)
    assert pool_batches(3000, 128 * 512, 128 * 8, 0) == 3000


def test_the_pool_is_the_same_for_every_kernel_of_a_configuration(repo, zen3_vm):
    plan = plan_for(repo, "skylake", zen3_vm)
    pools = {}
    for p in plan.runnable:
        pools.setdefault((p.table_rows, p.batch_size, p.pooling, p.threads), set()).add(
            p.distinct_batches)
    assert all(len(v) == 1 for v in pools.values())

"""MEM-REC's combining rules (per_id, per_bag), precomputed hashing, the serial entries."""

import numpy as np
import pytest

from kernels import fused, hashing
from kernels.memrec import MemRec
from kernels.peers import Bloom

BACKENDS = ["numpy", "torch", "fused"]


def _hand_tables(m: MemRec) -> None:
    """Small integers in the tables, so the hand computation below is exact."""
    m.token_table[:] = (np.arange(m.token_table.size) % 7 - 3).reshape(m.token_table.shape)
    m.weight_table[:] = np.arange(m.weight_table.size) % 5 + 1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("hashing_at", ["in_kernel", "precomputed"])
def test_a_bag_of_two_ids_by_hand(backend, hashing_at):
    ids = np.array([11, 2**40 + 3], dtype=np.int64)
    got = {}
    for rule in ("per_id", "per_bag"):
        m = MemRec(53, 4, 2, 13, 2, seed=9, backend=backend, combine=rule,
                   hashing=hashing_at)
        _hand_tables(m)
        keys = hashing.as_keys_numpy(ids)
        (t1, t2), (u1, u2) = hashing.token_indices_numpy(keys, 9, 2, 53)  # per id: k rows
        (w1, w2), (v1, v2) = hashing.weight_indices_numpy(keys, 9, 2, 13)  # per id: k' weights
        M, W = m.token_table, m.weight_table
        alpha_x, alpha_y = W[w1] + W[w2], W[v1] + W[v2]
        rows_x, rows_y = M[t1] + M[t2], M[u1] + M[u2]
        want = {"per_id": alpha_x * rows_x + alpha_y * rows_y,        # sum of alpha(x) M phi(x)
                "per_bag": (alpha_x + alpha_y) * (rows_x + rows_y)}   # the reference's rule
        got[rule] = m.lookup(ids, np.array([0]))[0]
        np.testing.assert_allclose(got[rule], want[rule], rtol=1e-6)
        np.testing.assert_allclose(m.reference(ids, np.array([0]))[0], want[rule], rtol=1e-6)
    assert not np.allclose(got["per_id"], got["per_bag"])  # the rules differ here


@pytest.mark.parametrize("backend", BACKENDS)
def test_rules_agree_on_one_id_bags_and_empty_bags(backend):
    ids = np.array([5, 6, 7, 8], dtype=np.int64)
    offsets = np.array([0, 1, 1, 3])  # [5], [], [6, 7], [8]
    a, b = (MemRec(97, 8, 2, 31, 1, seed=2, backend=backend, combine=rule)
            for rule in ("per_id", "per_bag"))
    za, zb = a.lookup(ids, offsets), b.lookup(ids, offsets)
    np.testing.assert_allclose(za[[0, 3]], zb[[0, 3]], rtol=1e-5, atol=1e-6)
    assert not za[1].any() and not zb[1].any()
    np.testing.assert_allclose(a.lookup(ids), b.lookup(ids), rtol=1e-5, atol=1e-6)  # 1 id/bag


@pytest.mark.parametrize("backend", BACKENDS)
def test_bloom_has_no_weights_so_its_bag_is_the_plain_sum(backend):
    m = Bloom(61, 8, 3, seed=4, backend=backend)
    ids = np.array([1, 2, 3], dtype=np.int64)
    rows = m.token_table[m.token_indices(ids)].sum(1)
    np.testing.assert_allclose(m.lookup(ids, np.array([0]))[0], rows.sum(0), rtol=1e-5)
    assert m.combine == "per_id"  # and per_bag would be the same: no weight encoder


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rule", ["per_id", "per_bag"])
def test_precomputed_equals_in_kernel(backend, rule):
    rng = np.random.default_rng(1)
    ids = rng.integers(-2**63, 2**63 - 1, 700, dtype=np.int64)
    offsets = np.sort(rng.integers(0, ids.size, 90))
    offsets[0] = 0
    a, b = (MemRec(1009, 16, 5, 41, 3, seed=3, backend=backend, combine=rule, hashing=h)
            for h in ("in_kernel", "precomputed"))
    np.testing.assert_allclose(a.lookup(ids, offsets), b.lookup(ids, offsets), rtol=2e-5,
                               atol=1e-5)
    np.testing.assert_allclose(b.lookup(ids, offsets), b.reference(ids, offsets), rtol=2e-5,
                               atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hash_ids_is_the_hash_family(backend):
    m = MemRec(1009, 4, 3, 41, 2, seed=3, backend=backend)
    ids = np.array([0, -1, 2**62, 17], dtype=np.int64)
    tok, wix = m.hash_ids(ids)
    assert np.array_equal(np.asarray(tok), m.token_indices(ids))
    assert np.array_equal(np.asarray(wix), m.weight_indices(ids))


def test_serial_and_parallel_entries_give_the_same_bits():
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 2**62, 2000, dtype=np.int64)
    offsets = np.sort(rng.integers(0, ids.size, 300))
    offsets[0] = 0
    m = MemRec(2003, 24, 2, 51, 2, seed=5, backend="fused")
    tok, wix = m.hash_ids(ids)
    tables = (m.token_table, m.weight_table)
    for per_bag in (False, True):
        outs = []
        for entry in (fused.indexed_serial, fused.indexed_parallel):
            for chunks in (1, 3):
                out = np.empty((offsets.size, 24), dtype=np.float32)
                entry(tok, wix, offsets, *tables, 2, per_bag, out, chunks)
                outs.append(out)
        for entry in (fused.memrec_serial, fused.memrec_parallel):
            out = np.empty((offsets.size, 24), dtype=np.float32)
            entry(ids, offsets, *tables, m._seeds, 2, 2, 2, per_bag, out, 3)
            outs.append(out)
        for out in outs[1:]:
            np.testing.assert_array_equal(out, outs[0])
    one = []
    for entry in (fused.indexed_ids_serial, fused.indexed_ids_parallel):
        out = np.empty((ids.size, 24), dtype=np.float32)
        entry(tok, wix, *tables, 0, out, 2)
        one.append(out)
    np.testing.assert_array_equal(one[0], one[1])


def test_the_kernel_picks_serial_for_one_thread_or_small_batches(monkeypatch):
    from kernels import memrec

    m = MemRec(100, 4, 2, 10, 1, backend="fused")
    ids = np.arange(memrec.SERIAL_MAX_IDS + 1, dtype=np.int64)
    monkeypatch.setattr(m, "_threads", 2)
    assert m.prepare(ids[:16])[0].__name__.endswith("_serial")
    assert m.prepare(ids)[0].__name__.endswith("_parallel")
    assert (m.threads_for(16), m.threads_for(ids.size)) == (1, 2)  # what results record
    monkeypatch.setattr(m, "_threads", 1)
    assert m.prepare(ids)[0].__name__.endswith("_serial")
    assert m.threads_for(ids.size) == 1


def test_noalias_entries_carry_no_runtime_alias_checks():
    """The reason the serial entries exist: plain @njit guards each row loop with an
    overlap test (vector.memcheck); the noalias build of the same body has none."""
    from numba import njit

    from kernels.noalias import njit_noalias

    m = MemRec(100, 32, 2, 10, 1, backend="numpy")
    args = (np.arange(6, dtype=np.int64), np.array([0, 3]), m.token_table, m.weight_table,
            fused.padded_seeds([1, 2]), 2, 1, 0, True, np.empty((2, 32), np.float32), 1)
    counts = {}
    for name, deco in (("noalias", njit_noalias), ("plain", njit)):
        f = deco(fastmath=True, boundscheck=False)(fused.memrec_serial.py_func)  # no cache
        f(*args)
        counts[name] = "".join(f.inspect_llvm().values()).count("vector.memcheck")
    assert counts["noalias"] == 0 and counts["plain"] > 0


def test_layout_sets_the_default_rule_and_precomputed_indices_are_counted():
    from harness.scenario.kernelspec import KERNELS, Geometry, precomputed_index_bytes
    from harness.scenario.sizes import parse_size

    spec = KERNELS["memrec"]
    raw = {"token_rows": parse_size(1000, int_means="rows"), "k": 2,
           "weight_rows": parse_size(100, int_means="rows"), "k_weight": 1,
           "backend": "fused", "prefetch": None, "combine": None, "hashing": None}

    def resolve(layout, **over):
        return spec.resolve(raw | over, Geometry(10**6, 128, 32 << 20, layout=layout))

    assert resolve("shared")["combine"] == "per_bag"
    assert resolve("per-feature")["combine"] == "per_id"
    assert resolve("shared", combine="per_id")["combine"] == "per_id"
    params = resolve("per-feature", hashing="precomputed")
    assert params["hashing"] == "precomputed" and "per_id" in spec.describe(params)
    assert precomputed_index_bytes(params) == 8 * 3
    assert precomputed_index_bytes(resolve("per-feature")) == 0
    built = spec.build(resolve("shared"), Geometry(1000, 8, 32 << 20), 0)
    assert (built.combine, built.hashing) == ("per_bag", "in_kernel")


def test_worker_verifies_by_the_rule_that_ran():
    from harness.execute.worker import verify

    m = MemRec(97, 8, 2, 31, 1, seed=2, backend="fused", combine="per_bag")
    ids, offsets = np.arange(6, dtype=np.int64), np.array([0, 2, 4])
    assert verify(m, ids, offsets)["combine"] == "per_bag"
    per_id = MemRec(97, 8, 2, 31, 1, seed=2, backend="numpy", combine="per_id")
    m.reference = per_id.reference  # a reference of the other rule must not pass
    with pytest.raises(RuntimeError, match=r"per_bag"):
        verify(m, ids, offsets)


def test_hashing_cost_is_timed_per_id_apart_from_the_kernel():
    from harness.execute.worker import hashing_ns_per_id
    from kernels.baseline import Baseline

    ticks = iter(range(0, 10**6, 50))  # every clock read 50 ns after the last

    def clock():
        return next(ticks)

    m = MemRec(97, 8, 2, 31, 1, backend="numpy")
    batches = [[(np.arange(10, dtype=np.int64), np.arange(10))]] * 3
    assert hashing_ns_per_id([m], batches, clock) == pytest.approx(50 / 10)
    assert hashing_ns_per_id([Baseline(10, 4, backend="numpy")], batches, clock) is None


def test_hashing_cost_samples_the_first_batches_of_a_big_pool():
    from harness.execute.worker import HASH_SAMPLE_BATCHES, hashing_ns_per_id

    calls = []

    class Counting:
        def hash_ids(self, ids):
            calls.append(ids.shape[0])

    batches = [[(np.arange(1, dtype=np.int64), np.arange(1))]] * (HASH_SAMPLE_BATCHES * 5)
    assert hashing_ns_per_id([Counting()], batches) is not None
    assert len(calls) == 1 + HASH_SAMPLE_BATCHES  # one untimed load, then the sample

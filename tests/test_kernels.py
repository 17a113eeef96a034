import numpy as np
import pytest
import torch

from kernels import fused, hashing
from kernels.baseline import Baseline
from kernels.bags import bag_sum
from kernels.memory import aligned_empty, alignment_of
from kernels.memrec import MemRec

EDGE_IDS = np.array([0, 1, 2, 2**31, 2**32 + 7, 2**62, 2**63 - 1, -1, -2**63],
                    dtype=np.int64)


def test_mix64_matches_python_spec():
    xs = [0, 1, 2**63, 2**64 - 1, 0x9E3779B97F4A7C15]
    got = hashing.mix64_numpy(np.array(xs, dtype=np.uint64))
    assert [int(v) for v in got] == [hashing.mix64_int(x) for x in xs]


@pytest.mark.parametrize("feature", [None, 0, 25])
@pytest.mark.parametrize("rows", [1, 7, 75000, hashing.MAX_ROWS])
def test_hash_numpy_equals_torch(feature, rows):
    rng = np.random.default_rng(1)
    ids = np.concatenate([EDGE_IDS, rng.integers(-2**63, 2**63 - 1, 5000, dtype=np.int64)])
    kn = hashing.as_keys_numpy(ids, feature)
    kt = hashing.as_keys_torch(torch.from_numpy(ids), feature)
    for seed in (0, 12345):
        tn = hashing.token_indices_numpy(kn, seed, 4, rows)
        tt = hashing.token_indices_torch(kt, seed, 4, rows).numpy()
        wn = hashing.weight_indices_numpy(kn, seed, 3, rows)
        wt = hashing.weight_indices_torch(kt, seed, 3, rows).numpy()
        assert np.array_equal(tn, tt) and np.array_equal(wn, wt)
        assert tn.min() >= 0 and tn.max() < rows and wn.min() >= 0 and wn.max() < rows
        seeds = fused.padded_seeds(hashing.hash_seeds(seed, 4))
        keys = kn.view(np.int64)  # the fused kernel takes the keys' int64 pattern
        assert np.array_equal(fused.hash_indices(keys, seeds, 4, rows, True), tn)
        assert np.array_equal(fused.hash_indices(keys, seeds, 3, rows, False), wn)


def test_hash_spreads_uniformly():
    idx = hashing.token_indices_numpy(hashing.as_keys_numpy(np.arange(200_000)), 0, 1, 100)
    counts = np.bincount(idx.ravel(), minlength=100)
    assert counts.min() > 1700 and counts.max() < 2300  # expected 2000 +- ~45


def test_feature_salt_changes_indices():
    ids = np.arange(1000)
    a = hashing.token_indices_numpy(hashing.as_keys_numpy(ids, 1), 0, 2, 10**6)
    b = hashing.token_indices_numpy(hashing.as_keys_numpy(ids, 2), 0, 2, 10**6)
    assert (a != b).mean() > 0.99


def test_aligned_tables():
    for align in (64, 4096):
        assert alignment_of(aligned_empty((1000, 33), np.float32, align)) >= align
    assert alignment_of(Baseline(100, 128).table) == 4096


def _formula(m: MemRec, ids):
    z = m.token_table[m.token_indices(ids)].sum(1)
    if m.k_weight:
        z = m.weight_table[m.weight_indices(ids)].sum(1)[:, None] * z
    return z


@pytest.mark.parametrize("backend", ["numpy", "torch", "fused"])
@pytest.mark.parametrize("k,kw", [(1, 0), (2, 1), (2, 2), (4, 2), (3, 5), (6, 1), (5, 0)])
def test_memrec_matches_formula(backend, k, kw):
    m = MemRec(997, 16, k, 101, kw, seed=7, backend=backend)
    ids = np.concatenate([EDGE_IDS, np.array([5, 5, 5])])
    np.testing.assert_allclose(m.lookup(ids), _formula(m, ids), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.lookup(torch.from_numpy(ids)), _formula(m, ids), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "torch", "fused"])
@pytest.mark.parametrize("k,kw", [(2, 1), (1, 0), (5, 6)])
def test_memrec_bags_with_empty_and_repeated(backend, k, kw):
    m = MemRec(500, 8, k, 50, kw, seed=1, backend=backend)
    ids = np.array([3, 3, 9, 2**63 - 1, 4, -2**63], dtype=np.int64)
    offsets = np.array([0, 0, 2, 2, 5, 5])  # bags: [], [3,3], [], [9, max, 4], [], [min]
    z = _formula(m, ids)
    zero = np.zeros(8)
    want = np.stack([zero, z[0] + z[1], zero, z[2] + z[3] + z[4], zero, z[5]])
    np.testing.assert_allclose(m.lookup(ids, offsets), want, rtol=1e-5, atol=1e-6)


def test_memrec_repeated_token_index_counts_twice():
    # One token row: every hash hits row 0, so the sum is k times that row.
    m = MemRec(1, 8, 3, 1, 2, seed=0, backend="fused")
    want = 2 * m.weight_table[0] * 3 * m.token_table[0]
    np.testing.assert_allclose(m.lookup(np.array([42]))[0], want, rtol=1e-6)


def test_fused_chunks_agree_with_the_reference():
    # One chunk (what one thread runs) and five, over many bags so that every chunk gets
    # several; prefetch on and off; the serial entry points give the same bits.
    rng = np.random.default_rng(3)
    ids = rng.integers(-2**63, 2**63 - 1, 3001, dtype=np.int64)
    offsets = np.sort(rng.integers(0, ids.size, 700))
    offsets[0] = 0
    m = MemRec(4099, 33, 2, 77, 2, seed=5, backend="fused")
    ref = m.reference(ids, offsets)
    args = (ids, offsets, m.token_table, m.weight_table, m._seeds, 2, 2)
    for pf in (0, 3):
        one_chunk = np.empty_like(ref)
        fused.memrec_parallel(*args, pf, False, one_chunk, 1)
        five = np.empty_like(ref)
        fused.memrec_parallel(*args, pf, False, five, 5)
        serial = np.empty_like(ref)
        fused.memrec_serial(*args, pf, False, serial, 1)
        np.testing.assert_allclose(one_chunk, ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(five, one_chunk)
        np.testing.assert_array_equal(serial, one_chunk)
        # The one-id-per-bag kernel (pooling 1) against the bag kernel.
        one = np.empty((ids.size, 33), dtype=np.float32)
        fused.memrec_ids_parallel(ids, *args[2:], pf, one, 5)
        bags = np.empty_like(one)
        fused.memrec_parallel(ids, np.arange(ids.size), *args[2:], pf, False, bags, 1)
        np.testing.assert_array_equal(one, bags)
        fused.memrec_ids_parallel(ids, *args[2:], pf, one, 1)
        np.testing.assert_array_equal(one, bags)
        fused.memrec_ids_serial(ids, *args[2:], pf, one, 1)
        np.testing.assert_array_equal(one, bags)


def test_fused_prepare_picks_the_one_id_kernel_only_for_one_id_bags():
    m = MemRec(100, 4, 2, 10, 1, backend="fused")
    ids = np.arange(5)

    def entry(*batch):
        return m.prepare(*batch)[0].__name__

    assert entry(ids).startswith("memrec_ids_") and entry(ids, np.arange(5)) == entry(ids)
    assert not entry(ids, np.array([0, 2])).startswith("memrec_ids_")
    assert not entry(ids, np.array([0, 0, 2, 3, 4])).startswith("memrec_ids_")  # empty bag


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_baseline_bags(backend):
    b = Baseline(100, 8, seed=3, backend=backend)
    ids = np.array([1, 1, 99, 0])
    got = b.lookup(ids, np.array([0, 2, 2]))
    want = np.stack([2 * b.table[1], np.zeros(8), b.table[99] + b.table[0]])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(b.lookup(ids), b.table[ids])


def test_tables_are_seeded():
    assert np.array_equal(Baseline(50, 4, seed=1).table, Baseline(50, 4, seed=1).table)
    assert not np.array_equal(Baseline(50, 4, seed=1).table, Baseline(50, 4, seed=2).table)
    big = Baseline(40000, 4, seed=0, backend="numpy").table
    assert len(np.unique(big, axis=0)) == 40000  # the repeated block never repeats a row


def test_bag_sum_reference():
    v = np.arange(8, dtype=np.float32).reshape(4, 2)
    np.testing.assert_array_equal(bag_sum(v, np.array([0, 0, 3])), [[0, 0], [6, 9], [6, 7]])


@pytest.mark.parametrize("bad", [dict(token_rows=0), dict(k=0), dict(k_weight=-1),
                                 dict(weight_rows=2**31), dict(backend="cuda"),
                                 dict(backend="fused", prefetch=-1)])
def test_memrec_rejects(bad):
    args = dict(token_rows=10, dim=4, k=1, weight_rows=10, k_weight=1) | bad
    with pytest.raises(ValueError):
        MemRec(**args)


def test_no_weight_encoder_allocates_no_weight_table():
    """k_weight=0: the footprint says 0 weight bytes, and none are allocated (review)."""
    from kernels.memrec import MemRec

    m = MemRec(100, 4, 2, 2**20, 0, backend="numpy")
    assert m.weight_table.nbytes == 0 and m.nbytes == 100 * 4 * 4 == m.token_table.nbytes
    ids = np.array([1, 2, 2**62])
    np.testing.assert_allclose(m.lookup(ids), m.token_table[m.token_indices(ids)].sum(1))

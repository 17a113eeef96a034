"""The fused MEM-REC call path for small batches (issue 17.5): the compiled entry point
bound to a prepared batch and the kernel's output buffer gives the reference's answer,
bit for bit what numba's dispatcher gives, and never hands two lookups one array."""

import numpy as np
import pytest

from kernels import memrec
from kernels.direct import plain
from kernels.memrec import MemRec


def _batch(n: int, pooled: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64)
    if not pooled:
        return ids, None
    offsets = np.sort(rng.integers(0, n, max(1, n // 3)))
    offsets[0] = 0
    return ids, offsets


@pytest.mark.parametrize("hashing_at", ["in_kernel", "precomputed"])
@pytest.mark.parametrize("rule", ["per_id", "per_bag"])
def test_batches_1_16_2048_match_the_reference_and_the_dispatcher(hashing_at, rule):
    m = MemRec(1021, 16, 2, 61, 1, seed=4, backend="fused", combine=rule, hashing=hashing_at)
    for n in (1, 16, 2048):
        for pooled in (False, True):
            ids, offsets = _batch(n, pooled, seed=n)
            prepared = m.prepare(ids, offsets)
            got = m.run(prepared)
            np.testing.assert_allclose(got, m.reference(ids, offsets), rtol=1e-5, atol=1e-5)
            # The old call: numba's dispatcher and a fresh output; the same bits.
            old = np.empty(prepared.shape, dtype=np.float32)
            prepared.entry(*prepared.args, old, m._threads)
            np.testing.assert_array_equal(got, old)
            assert (prepared.out is not None) == (n <= memrec.SERIAL_MAX_IDS)


def test_lookups_get_arrays_of_their_own_while_runs_share_the_kernels_buffer():
    m = MemRec(101, 8, 2, 13, 1, seed=1, backend="fused")
    a, b = m.lookup(np.array([1]), None), m.lookup(np.array([2]), None)
    assert not np.shares_memory(a, b) and not np.array_equal(a, b)
    first, second = m.prepare(np.array([3, 4])), m.prepare(np.array([5, 6]))
    want = m.reference(np.array([3, 4]))
    got = m.run(first)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert m.run(second) is got  # one buffer per shape: the second run overwrote it
    assert not np.allclose(got, want)
    got[:] = np.nan
    np.testing.assert_allclose(m.run(first), want, rtol=1e-5)  # every run writes every row
    assert m.run(m.prepare(np.arange(3))) is not got  # another shape, another buffer
    big = m.prepare(np.arange(memrec.SERIAL_MAX_IDS + 1))
    many_empty_bags = m.prepare(np.arange(3), np.zeros(memrec.SERIAL_MAX_IDS + 1, np.int64))
    assert many_empty_bags.out is None and not m.run(many_empty_bags)[:-1].any()  # last: all
    assert big.out is None and m.run(big) is not m.run(big)  # large: fresh per call
    assert m.info()["output_reused_max_ids"] == memrec.SERIAL_MAX_IDS  # the record says so


def test_ids_of_any_layout_reach_the_one_resolved_entry_point():
    """The entry point unboxes without checking types: read-only, strided or narrower
    ids must arrive as plain int64 arrays, and give the same answer."""
    m = MemRec(211, 8, 2, 17, 1, seed=3, backend="fused", combine="per_bag")
    ids = np.arange(40, dtype=np.int64) * 7919
    want = m.lookup(ids[::2], np.array([0, 5, 5, 12]))
    strided = ids[::2]
    readonly = ids[::2].copy()
    readonly.flags.writeable = False
    for variant in (strided, readonly, ids[::2].astype(np.int32)):
        np.testing.assert_array_equal(m.lookup(variant, np.array([0, 5, 5, 12])), want)
    assert plain(readonly).flags.writeable and plain(strided).flags.c_contiguous
    assert plain(ids) is ids  # no copy where none is needed

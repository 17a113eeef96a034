"""The peers (hashing trick, Bloom, QR, ROBE-Z): every backend against a formula
written independently of the kernels' own numpy paths."""

import numpy as np
import pytest

from kernels import hashing
from kernels.peers import Bloom, HashingTrick, QREmbedding, RobeZ

BACKENDS = ["numpy", "torch", "fused"]
EDGE_IDS = np.array([0, 1, 2**31, 2**62, 2**63 - 1, -1, -2**63, 5, 5], dtype=np.int64)
BAG_OFFSETS = np.array([0, 0, 3, 3, 8])  # [], 3 ids, [], 5 ids, 1 id


def _bags(z, offsets):
    ends = list(offsets[1:]) + [z.shape[0]]
    return np.stack([z[s:e].sum(0) for s, e in zip(offsets, ends)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_hashing_trick(backend):
    m = HashingTrick(1009, 16, seed=4, backend=backend)
    rows = hashing.token_indices_numpy(hashing.as_keys_numpy(EDGE_IDS), 4, 1, 1009)[:, 0]
    want = m.table[rows]
    np.testing.assert_allclose(m.lookup(EDGE_IDS), want, rtol=1e-6)
    np.testing.assert_allclose(m.lookup(EDGE_IDS, BAG_OFFSETS), _bags(want, BAG_OFFSETS),
                               rtol=1e-5, atol=1e-6)
    assert m.nbytes == HashingTrick.footprint_for(1009, 16, HashingTrick.Params(rows=1009))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_bloom_is_memrec_without_weights(backend, k):
    m = Bloom(501, 8, k, seed=2, backend=backend)
    want = m.token_table[m.token_indices(EDGE_IDS)].sum(1)
    np.testing.assert_allclose(m.lookup(EDGE_IDS), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.lookup(EDGE_IDS, BAG_OFFSETS), _bags(want, BAG_OFFSETS),
                               rtol=1e-5, atol=1e-6)
    assert m.nbytes == Bloom.footprint_for(0, 8, Bloom.Params(token_rows=501)) and m.k_weight == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rows,m", [(1000, 4), (1001, 7), (5, 5), (3, 1)])
def test_qr_multiply_combiner(backend, rows, m):
    qr = QREmbedding(rows, 12, collisions=m, seed=1, backend=backend)
    assert qr.quotient.shape == (-(-rows // m), 12) and qr.remainder.shape == (m, 12)
    ids = np.array([0, rows - 1, rows // 2, rows - 1, 1 % rows], dtype=np.int64)
    want = np.stack([qr.quotient[x // m] * qr.remainder[x % m] for x in ids])
    np.testing.assert_allclose(qr.lookup(ids), want, rtol=1e-6)
    offsets = np.array([0, 2, 2])
    np.testing.assert_allclose(qr.lookup(ids, offsets), _bags(want, offsets), rtol=1e-5,
                               atol=1e-6)
    assert qr.nbytes == QREmbedding.footprint_for(rows, 12, QREmbedding.Params(collisions=m))


@pytest.mark.parametrize("backend", BACKENDS)
def test_qr_rejects_ids_outside_vocabulary(backend):
    qr = QREmbedding(100, 4, collisions=3, backend=backend)
    for bad in ([100], [-1]):
        with pytest.raises(ValueError, match="ids in"):
            qr.lookup(np.array(bad))


def _robe_formula(r: RobeZ, ids):
    """Block i of id x: Z floats from offset hi32-reduced h_i(x), wrapping; sign from bit 0."""
    flat = r.array[0, :r.size]
    out = np.zeros((len(ids), r.dim), dtype=np.float64)
    seeds = hashing.hash_seeds(r.seed, r.blocks)
    for n, x in enumerate(ids):
        for i, s in enumerate(seeds):
            h = hashing.mix64_int((int(x) & (2**64 - 1)) ^ s)
            start = ((h >> 32) * r.size) >> 32
            sign = -1.0 if h & 1 else 1.0
            for t in range(r.z):
                col = i * r.z + t
                if col < r.dim:
                    out[n, col] = sign * flat[(start + t) % r.size]
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size,dim,z", [(1000, 16, 4), (3, 16, 8), (997, 20, 8), (64, 8, 1)])
def test_robez_blocks_wrap_and_signs(backend, size, dim, z):
    r = RobeZ(size, dim, z=z, seed=3, backend=backend)
    want = _robe_formula(r, EDGE_IDS)
    np.testing.assert_allclose(r.lookup(EDGE_IDS), want, rtol=1e-6)
    np.testing.assert_allclose(r.lookup(EDGE_IDS, BAG_OFFSETS), _bags(want, BAG_OFFSETS),
                               rtol=1e-5, atol=1e-6)
    assert r.nbytes == RobeZ.footprint_for(0, dim, RobeZ.Params(size=size, z=z))


def test_robez_signs_are_mixed():
    r = RobeZ(10_000, 64, z=8, backend="numpy")
    _, signs = r._starts_signs_numpy(np.arange(2000))
    assert 0.45 < (signs > 0).mean() < 0.55


@pytest.mark.parametrize("cls,args", [(QREmbedding, (10, 4, 0)), (RobeZ, (0, 4)),
                                      (RobeZ, (10, 4, 0)), (HashingTrick, (0, 4))])
def test_peers_reject_bad_sizes(cls, args):
    with pytest.raises(ValueError):
        cls(*args)


@pytest.mark.parametrize("cls,args", [(QREmbedding, (10, 4)), (RobeZ, (10, 4))])
def test_peers_reject_bad_backend_and_prefetch(cls, args):
    with pytest.raises(ValueError, match="backend"):
        cls(*args, backend="cuda")
    with pytest.raises(ValueError, match="prefetch"):
        cls(*args, backend="fused", prefetch=-2)


def _tt_formula(t, x):
    """Row x of a TT-Rec table by the definition, summing over both ranks explicitly."""
    (d1, d2, d3), (_, n2, n3), r = t.d, t.n, t.rank
    i1, i2, i3 = x // (n2 * n3), (x // n3) % n2, x % n3
    g1 = t.g1[i1].reshape(d1, r)
    g2 = t.g2[i2].reshape(r, d2, r)
    g3 = t.g3[i3].reshape(r, d3)
    e = np.zeros((d1, d2, d3))
    for r1 in range(r):
        for r2 in range(r):
            e += g1[:, r1][:, None, None] * g2[r1, :, r2][None, :, None] * g3[r2][None, None, :]
    return e.reshape(-1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rows,dim,rank", [(1000, 128, 4), (37, 12, 3), (1, 7, 2)])
def test_ttrec_contracts_the_cores(backend, rows, dim, rank):
    from kernels.ttrec import TTRec

    t = TTRec(rows, dim, rank, seed=2, backend=backend)
    assert np.prod(t.d) == dim and np.prod(t.n) >= rows
    ids = np.array([0, rows - 1, rows // 2, rows - 1], dtype=np.int64)
    want = np.stack([_tt_formula(t, int(x)) for x in ids])
    np.testing.assert_allclose(t.lookup(ids), want, rtol=1e-4, atol=1e-6)
    offsets = np.array([0, 0, 3])
    np.testing.assert_allclose(t.lookup(ids, offsets), _bags(want, offsets), rtol=1e-4,
                               atol=1e-6)
    assert t.nbytes == TTRec.footprint_for(rows, dim, TTRec.Params(rank=rank))
    with pytest.raises(ValueError, match="ids in"):
        t.lookup(np.array([rows]))


def test_ttrec_factors():
    from kernels.ttrec import balanced_factors, row_factors

    assert balanced_factors(128) == (4, 4, 8) and balanced_factors(13) == (1, 1, 13)
    for rows in (1, 2, 999, 10**6, 39_884_406):
        n1, n2, n3 = row_factors(rows)
        assert n1 * n2 * n3 >= rows and n1 * n2 * n3 < rows * 1.1 + 10


def test_peer_sizes_resolve_against_the_measured_llc():
    """'x effective-LLC' sizes work for every hashed kernel, not only MEM-REC."""
    from harness.scenario.kernelspec import KERNELS, Geometry
    from harness.scenario.sizes import parse_size

    g = Geometry(rows=10**6, dim=16, llc_bytes=32 << 20, effective_llc_bytes=16 << 20)
    half = parse_size("0.5x effective-LLC")
    assert KERNELS["hashing_trick"].resolve({"rows": half, "backend": "numpy"},
                                            g)["rows"] == (8 << 20) // 64
    assert KERNELS["bloom"].resolve({"token_rows": half, "k": 2, "backend": "numpy"},
                                    g)["token_rows"] == (8 << 20) // 64
    assert KERNELS["robez"].resolve({"size": half, "z": 4, "backend": "numpy"},
                                    g)["size"] == (8 << 20) // 4


@pytest.mark.parametrize("backend", ["numpy", "torch", "fused"])
def test_empty_batch_and_empty_offsets(backend):
    robe = RobeZ(64, 8, z=4, backend=backend)
    assert robe.lookup(np.array([], dtype=np.int64)).shape == (0, 8)
    with pytest.raises(ValueError, match="no bags"):
        robe.lookup(np.array([1, 2, 3]), np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="offsets must be integers"):
        robe.lookup(np.array([1, 2, 3]), np.array([0.0, 1.0]))

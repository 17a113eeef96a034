"""Fused numba kernels for MEM-REC's peers: QR embeddings and ROBE-Z.

Same structure as ``kernels.fused``: one pass per id, bags split into static
chunks over numba's pool (one thread too: see ``kernels.fused``), the dim loop
vectorised, prefetch of the rows of the id ``pf`` positions ahead, and no array
views inside the loop (their reference counts cost more than the work). The hashing
trick and Bloom embeddings need no kernel of their own: they are ``kernels.fused``'s
MEM-REC with k' = 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels.fused import mix64, prefetch, token_index


@njit(inline="always")
def _qr_bags(ids, offsets, quotient, remainder, pf, out, b0, b1):
    n = ids.shape[0]
    n_bags = offsets.shape[0]
    dim = out.shape[1]
    m = remainder.shape[0]
    for b in range(b0, b1):
        start = offsets[b]
        stop = offsets[b + 1] if b + 1 < n_bags else n
        if start == stop:
            for d in range(dim):
                out[b, d] = 0.0
        for j in range(start, stop):
            if pf > 0 and j + pf < n:
                row = ids[j + pf] // m
                for col in range(0, dim, 16):
                    prefetch(quotient, row, col)
            x = ids[j]
            q = x // m
            r = x - q * m
            if j == start:
                for d in range(dim):
                    out[b, d] = quotient[q, d] * remainder[r, d]
            else:
                for d in range(dim):
                    out[b, d] += quotient[q, d] * remainder[r, d]


@njit(cache=True, nogil=True, fastmath=True, boundscheck=False, parallel=True)
def qr_parallel(ids, offsets, quotient, remainder, pf, out, chunks):
    """QR embeddings (multiply combiner) for bags of ids in [0, rows), split into
    ``chunks`` static runs over numba's pool."""
    n_bags = offsets.shape[0]
    for c in prange(chunks):
        _qr_bags(ids, offsets, quotient, remainder, pf, out,
                 c * n_bags // chunks, (c + 1) * n_bags // chunks)


@njit(inline="always")
def _robe_bags(ids, offsets, array, size, z, seeds, pf, out, b0, b1):
    n = ids.shape[0]
    n_bags = offsets.shape[0]
    dim = out.shape[1]
    blocks = (dim + z - 1) // z
    rows = np.uint64(size)
    one = np.uint64(1)
    for b in range(b0, b1):
        start = offsets[b]
        stop = offsets[b + 1] if b + 1 < n_bags else n
        if start == stop:
            for d in range(dim):
                out[b, d] = 0.0
        for j in range(start, stop):
            if pf > 0 and j + pf < n:
                ahead = np.uint64(ids[j + pf])
                for i in range(blocks):
                    at = token_index(mix64(ahead ^ seeds[i]), rows)
                    for e in range(0, z, 16):
                        prefetch(array, 0, at + e)
            key = np.uint64(ids[j])
            first = j == start
            for i in range(blocks):
                h = mix64(key ^ seeds[i])
                at = token_index(h, rows)
                sign = np.float32(1.0) if (h & one) == 0 else np.float32(-1.0)
                lo = i * z
                width = min(z, dim - lo)
                if first:
                    for t in range(width):
                        out[b, lo + t] = sign * array[0, at + t]
                else:
                    for t in range(width):
                        out[b, lo + t] += sign * array[0, at + t]


@njit(cache=True, nogil=True, fastmath=True, boundscheck=False, parallel=True)
def robe_parallel(ids, offsets, array, size, z, seeds, pf, out, chunks):
    """ROBE-Z for bags of ids, split into ``chunks`` static runs over numba's pool.
    ``array`` is (1, size + z - 1), wrapped."""
    n_bags = offsets.shape[0]
    for c in prange(chunks):
        _robe_bags(ids, offsets, array, size, z, seeds, pf, out,
                   c * n_bags // chunks, (c + 1) * n_bags // chunks)


@njit(inline="always")
def _tt_bags(ids, offsets, g1, g2, g3, dims, pf, out, b0, b1):
    n = ids.shape[0]
    n_bags = offsets.shape[0]
    d1, d2, d3, rank, n2, n3 = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]
    width = d2 * rank
    tmp = np.empty(d1 * width, dtype=np.float32)  # per chunk: G1[i1] x G2[i2]
    for b in range(b0, b1):
        start = offsets[b]
        stop = offsets[b + 1] if b + 1 < n_bags else n
        for d in range(out.shape[1]):
            out[b, d] = 0.0
        for j in range(start, stop):
            if pf > 0 and j + pf < n:
                ahead = ids[j + pf]
                for col in range(0, g2.shape[1], 16):
                    prefetch(g2, (ahead // n3) % n2, col)
            x = ids[j]
            i1, i2, i3 = x // (n2 * n3), (x // n3) % n2, x % n3
            for t in range(d1 * width):
                tmp[t] = 0.0
            for a in range(d1):
                for r1 in range(rank):
                    g = g1[i1, a * rank + r1]
                    for t in range(width):  # (b, r2) contiguous
                        tmp[a * width + t] += g * g2[i2, r1 * width + t]
            for ab in range(d1 * d2):
                for r2 in range(rank):
                    g = tmp[ab * rank + r2]
                    for c in range(d3):
                        out[b, ab * d3 + c] += g * g3[i3, r2 * d3 + c]


@njit(cache=True, nogil=True, fastmath=True, boundscheck=False, parallel=True)
def tt_parallel(ids, offsets, g1, g2, g3, dims, pf, out, chunks):
    """TT-Rec: three tensor-train cores contracted per id, for bags of ids in [0, rows),
    split into ``chunks`` static runs over numba's pool."""
    n_bags = offsets.shape[0]
    for c in prange(chunks):
        _tt_bags(ids, offsets, g1, g2, g3, dims, pf, out,
                 c * n_bags // chunks, (c + 1) * n_bags // chunks)

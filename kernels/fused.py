"""The fused MEM-REC kernel (numba): hash, gather, sum and scale in one pass per id.

For each id: hash it max(k, k') times with the family of ``kernels.hashing``
(bit-identical: uint64 arithmetic wraps the same way), gather and sum the k token
rows, gather and sum the k' weights, scale, and add into the id's bag, without
any intermediate array. Bags run in parallel (static chunks, one per thread of
numba's pool), the dim loop is vectorised by LLVM (AVX2/AVX-512 where the CPU
has it), and the token rows of the id ``prefetch`` positions ahead are
prefetched (``llvm.prefetch``) so that gathers from L3 or DRAM overlap.

Why numba and not a C++ extension: the same kernel in C, built with gcc 12
``-O3 -march=native -fopenmp`` and called through ctypes, ran within noise of
this one (C/numba 0.89-1.06 over 1 and 16 MiB tables, 1 and 2 threads, prefetch
on and off; ``benchmarks/fused_numba_vs_c.py`` on the Zen 3 VM), and numba needs
no compiler on the machine at install. ``cache=True`` keeps the compiled code
next to this file, so only the first process on a machine pays the compile
(~7 s); building a kernel runs it once, so no compile lands in a timed batch.

Each body has two entry points: ``*_parallel`` (a ``prange`` over chunks, one per
thread of numba's pool) and ``*_serial`` (the calling thread, no pool launch).
numba compiles a plain ``@njit`` entry with runtime alias checks between ``out`` and
the tables before each vectorised row loop (45 ``vector.memcheck`` blocks in the bag
kernel's LLVM IR), while the body of a ``prange`` loop gets its arrays as ``noalias``
arguments (none). On an Emerald Rapids guest (AVX-512) that plain serial entry ran
1.6-2.3x slower than the parallel one on the same single thread (MEM-REC, 9.4 MiB
token table, batch 16384; the hashing trick 1.9-2.7x; Zen 3 VM: within 2%), so the
serial entries are compiled with numba's ``noalias`` flag (kernels/noalias.py): no
memcheck, the same loop code as the prange body, and no pool launch, which costs
~2 us per call even on one thread. ``kernels.memrec`` takes the serial entry for one
thread at any batch and for batches of up to ``SERIAL_MAX_IDS`` ids on more
threads (on the shared 2-vCPU VM, 2 threads: serial 1.3 / 2.1 / 8.7 / 18.0 us at
1 / 16 / 256 / 512 ids against parallel 4.1 / 4.8 / 10.3 / 16.4 us;
``benchmarks/small_batch.py --entries``).

Bags pool by one of two rules (``kernels.memrec``): ``per_id`` scales each id's rows
by its alpha; ``per_bag`` adds the bag's rows unscaled and multiplies the row by the
bag's summed alphas once at the end (the reference code's rule). The ``indexed_*``
entries take token and weight indices hashed beforehand (``hashing: precomputed``);
``token_weight_indices`` makes them.

Specialised code paths for k = 1..4 matter: a generic loop over k rows costs
2x the specialised one even with the table in L1 (it re-reads the output row k
times and cannot keep it in registers). So does a loop without bag bookkeeping
for one id per bag (pooling 1): 5-10% (benchmarks/fused_numba_vs_c.py).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels.hashing import MIX_C1, MIX_C2
from kernels.noalias import njit_noalias

_C1 = np.uint64(MIX_C1)
_C2 = np.uint64(MIX_C2)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LO32 = np.uint64(0xFFFFFFFF)
# Unrolled hash slots in the kernel; seeds arrays are padded to at least this many.
UNROLLED_HASHES = 4
# Ids ahead whose rows are prefetched; 4-8 measured best for 512-byte rows from L3 or
# DRAM. The harness turns it off for tables under 1/4 LLC (harness/kernelspec.py).
DEFAULT_PREFETCH = 8


@intrinsic
def prefetch(typingctx, array, row, col):
    """Prefetch (read, keep in all cache levels) the cache line holding array[row, col]."""
    if not isinstance(array, types.Array) or array.ndim != 2:
        return None
    sig = types.void(array, row, col)

    def codegen(context, builder, signature, args):
        arrty = signature.args[0]
        ary = context.make_array(arrty)(context, builder, args[0])
        idx = [context.cast(builder, a, t, types.intp)
               for a, t in zip(args[1:], signature.args[1:])]
        ptr = cgutils.get_item_pointer(context, builder, arrty, ary, idx)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # (address, rw=read, locality=3 (keep in all levels), cache type=data)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def mix64(x):
    """SplitMix64 finaliser on a uint64 (wraps like kernels.hashing.mix64_int)."""
    x ^= x >> _S30
    x *= _C1
    x ^= x >> _S27
    x *= _C2
    return x ^ (x >> _S31)


@njit(inline="always")
def token_index(h, rows):
    return np.intp(((h >> _S32) * rows) >> _S32)


@njit(inline="always")
def weight_index(h, rows):
    return np.intp(((h & _LO32) * rows) >> _S32)


# No array views (``table[row]``) below: each costs numba an atomic reference-count
# increment and decrement per id that LLVM could not remove (2.5x the time per id
# when the loop used them). Everything indexes the 2-D arrays directly.

@njit(inline="always")
def _prefetch_rows(raw_id, token, seeds, k, tr):
    ahead = np.uint64(raw_id)
    for i in range(k):
        row = token_index(mix64(ahead ^ seeds[i]), tr)
        for col in range(0, token.shape[1], 16):  # one 64-byte line holds 16 floats
            prefetch(token, row, col)


@njit(inline="always")
def _prefetch_indexed(tok, j, token):
    for i in range(tok.shape[1]):
        for col in range(0, token.shape[1], 16):
            prefetch(token, tok[j, i], col)


@njit(inline="always")
def _add_rows(out, b, assign, token, t0, t1, t2, t3, k, alpha):
    """out[b] = (or +=) alpha * the sum of rows t0..t(k-1) of token, for k <= 4."""
    dim = out.shape[1]
    if assign:  # the bag's first id sets the row, later ones add
        if k == 1:
            for d in range(dim):
                out[b, d] = alpha * token[t0, d]
        elif k == 2:
            for d in range(dim):
                out[b, d] = alpha * (token[t0, d] + token[t1, d])
        elif k == 3:
            for d in range(dim):
                out[b, d] = alpha * (token[t0, d] + token[t1, d] + token[t2, d])
        else:
            for d in range(dim):
                out[b, d] = alpha * (token[t0, d] + token[t1, d] + token[t2, d] + token[t3, d])
    else:
        if k == 1:
            for d in range(dim):
                out[b, d] += alpha * token[t0, d]
        elif k == 2:
            for d in range(dim):
                out[b, d] += alpha * (token[t0, d] + token[t1, d])
        elif k == 3:
            for d in range(dim):
                out[b, d] += alpha * (token[t0, d] + token[t1, d] + token[t2, d])
        else:
            for d in range(dim):
                out[b, d] += alpha * (token[t0, d] + token[t1, d] + token[t2, d] + token[t3, d])


@njit(inline="always")
def _one_id(out, b, assign, raw_id, token, weight, seeds, k, kw, scaled):
    """Hash one id, add its k token rows into out[b]; return alpha(id).

    ``scaled``: the rows are scaled by alpha here (per_id); else added as they are
    (per_bag, where the caller scales the bag's sum once).
    """
    tr = np.uint64(token.shape[0])
    wr = np.uint64(weight.shape[0])
    nh = max(k, kw)
    key = np.uint64(raw_id)
    h0 = mix64(key ^ seeds[0])
    h1 = mix64(key ^ seeds[1]) if nh > 1 else h0
    h2 = mix64(key ^ seeds[2]) if nh > 2 else h0
    h3 = mix64(key ^ seeds[3]) if nh > 3 else h0
    alpha = np.float32(1.0)
    if kw > 0:
        alpha = weight[weight_index(h0, wr)]
        if kw > 1:
            alpha += weight[weight_index(h1, wr)]
        if kw > 2:
            alpha += weight[weight_index(h2, wr)]
        if kw > 3:
            alpha += weight[weight_index(h3, wr)]
        for i in range(UNROLLED_HASHES, kw):
            alpha += weight[weight_index(mix64(key ^ seeds[i]), wr)]
    scale = alpha if scaled else np.float32(1.0)
    _add_rows(out, b, assign, token, token_index(h0, tr), token_index(h1, tr),
              token_index(h2, tr), token_index(h3, tr), k, scale)
    for i in range(UNROLLED_HASHES, k):  # k > 4: the rare general case
        t = token_index(mix64(key ^ seeds[i]), tr)
        for d in range(out.shape[1]):
            out[b, d] += scale * token[t, d]
    return alpha


@njit(inline="always")
def _one_indexed(out, b, assign, j, tok, wix, token, weight, scaled, over4):
    """``_one_id`` for indices hashed beforehand: row j of tok (n, k) and wix (n, k').

    ``over4`` (a constant at each call site): k > 4, so rows past the fourth are added
    too. With the loop for them present but never run, the k = 2 loop ran 2x slower
    (numba 0.68, Zen 3), so the callers pick a copy without it for k <= 4.
    """
    k, kw = tok.shape[1], wix.shape[1]
    alpha = np.float32(1.0)
    if kw > 0:
        alpha = weight[wix[j, 0]]
        for i in range(1, kw):
            alpha += weight[wix[j, i]]
    scale = alpha if scaled else np.float32(1.0)
    t0 = tok[j, 0]
    t1 = tok[j, 1] if k > 1 else t0
    t2 = tok[j, 2] if k > 2 else t0
    t3 = tok[j, 3] if k > 3 else t0
    _add_rows(out, b, assign, token, t0, t1, t2, t3, k, scale)
    if over4:
        for i in range(UNROLLED_HASHES, k):
            t = tok[j, i]
            for d in range(out.shape[1]):
                out[b, d] += scale * token[t, d]
    return alpha


@njit(inline="always")
def _finish_bag(out, b, start, stop, per_bag, kw, alpha_sum):
    """An empty bag is zero; a per_bag bag is scaled once by its summed weights."""
    if start == stop:
        for d in range(out.shape[1]):
            out[b, d] = 0.0
    elif per_bag and kw > 0:
        for d in range(out.shape[1]):
            out[b, d] *= alpha_sum


@njit(inline="always")
def _memrec_bags(ids, offsets, token, weight, seeds, k, kw, pf, per_bag, out, b0, b1):
    n = ids.shape[0]
    n_bags = offsets.shape[0]
    tr = np.uint64(token.shape[0])
    for b in range(b0, b1):
        start = offsets[b]
        stop = offsets[b + 1] if b + 1 < n_bags else n
        alpha_sum = np.float32(0.0)
        for j in range(start, stop):
            if pf > 0 and j + pf < n:
                _prefetch_rows(ids[j + pf], token, seeds, k, tr)
            alpha_sum += _one_id(out, b, j == start, ids[j], token, weight, seeds, k, kw,
                                 not per_bag)
        _finish_bag(out, b, start, stop, per_bag, kw, alpha_sum)


@njit(inline="always")
def _memrec_ids(ids, token, weight, seeds, k, kw, pf, out, j0, j1):
    """One id per bag (pooling 1): no offsets to read, no bag bookkeeping per id.

    With one id in a bag both combining rules give alpha(x) * sum_i M[h_i(x)].
    """
    n = ids.shape[0]
    tr = np.uint64(token.shape[0])
    for j in range(j0, j1):
        if pf > 0 and j + pf < n:
            _prefetch_rows(ids[j + pf], token, seeds, k, tr)
        _one_id(out, j, True, ids[j], token, weight, seeds, k, kw, True)


@njit(inline="always")
def _indexed_bags(tok, wix, offsets, token, weight, pf, per_bag, out, b0, b1):
    n = tok.shape[0]
    n_bags = offsets.shape[0]
    for b in range(b0, b1):
        start = offsets[b]
        stop = offsets[b + 1] if b + 1 < n_bags else n
        alpha_sum = np.float32(0.0)
        if tok.shape[1] <= UNROLLED_HASHES:
            for j in range(start, stop):
                if pf > 0 and j + pf < n:
                    _prefetch_indexed(tok, j + pf, token)
                alpha_sum += _one_indexed(out, b, j == start, j, tok, wix, token, weight,
                                          not per_bag, False)
        else:
            for j in range(start, stop):
                if pf > 0 and j + pf < n:
                    _prefetch_indexed(tok, j + pf, token)
                alpha_sum += _one_indexed(out, b, j == start, j, tok, wix, token, weight,
                                          not per_bag, True)
        _finish_bag(out, b, start, stop, per_bag, wix.shape[1], alpha_sum)


@njit(inline="always")
def _indexed_ids(tok, wix, token, weight, pf, out, j0, j1):
    n = tok.shape[0]
    if tok.shape[1] <= UNROLLED_HASHES:
        for j in range(j0, j1):
            if pf > 0 and j + pf < n:
                _prefetch_indexed(tok, j + pf, token)
            _one_indexed(out, j, True, j, tok, wix, token, weight, True, False)
    else:
        for j in range(j0, j1):
            if pf > 0 and j + pf < n:
                _prefetch_indexed(tok, j + pf, token)
            _one_indexed(out, j, True, j, tok, wix, token, weight, True, True)


# Entry points: each body runs either over numba's pool (``*_parallel``: ``chunks``
# equal runs, one per thread) or on the calling thread (``*_serial``: no pool launch;
# ``chunks`` is accepted and ignored so both take the same arguments). The serial
# ones are compiled with noalias arrays (kernels/noalias.py), so their row loops
# carry no runtime alias checks, like the bodies of the prange loops.

_FLAGS = dict(cache=True, nogil=True, fastmath=True, boundscheck=False)


@njit(parallel=True, **_FLAGS)
def memrec_ids_parallel(ids, token, weight, seeds, k, kw, pf, out, chunks):
    """One MEM-REC lookup per id, ids split into ``chunks`` equal runs over numba's pool."""
    n = ids.shape[0]
    for c in prange(chunks):
        _memrec_ids(ids, token, weight, seeds, k, kw, pf, out,
                    c * n // chunks, (c + 1) * n // chunks)


@njit_noalias(**_FLAGS)
def memrec_ids_serial(ids, token, weight, seeds, k, kw, pf, out, chunks):
    """One MEM-REC lookup per id on the calling thread."""
    _memrec_ids(ids, token, weight, seeds, k, kw, pf, out, 0, ids.shape[0])


@njit(parallel=True, **_FLAGS)
def memrec_parallel(ids, offsets, token, weight, seeds, k, kw, pf, per_bag, out, chunks):
    """Bags of MEM-REC lookups split into ``chunks`` equal runs over numba's pool."""
    n_bags = offsets.shape[0]
    for c in prange(chunks):
        _memrec_bags(ids, offsets, token, weight, seeds, k, kw, pf, per_bag, out,
                     c * n_bags // chunks, (c + 1) * n_bags // chunks)


@njit_noalias(**_FLAGS)
def memrec_serial(ids, offsets, token, weight, seeds, k, kw, pf, per_bag, out, chunks):
    """Bags of MEM-REC lookups on the calling thread."""
    _memrec_bags(ids, offsets, token, weight, seeds, k, kw, pf, per_bag, out,
                 0, offsets.shape[0])


@njit(parallel=True, **_FLAGS)
def indexed_ids_parallel(tok, wix, token, weight, pf, out, chunks):
    """Precomputed indices, one id per bag, over numba's pool."""
    n = tok.shape[0]
    for c in prange(chunks):
        _indexed_ids(tok, wix, token, weight, pf, out, c * n // chunks, (c + 1) * n // chunks)


@njit_noalias(**_FLAGS)
def indexed_ids_serial(tok, wix, token, weight, pf, out, chunks):
    """Precomputed indices, one id per bag, on the calling thread."""
    _indexed_ids(tok, wix, token, weight, pf, out, 0, tok.shape[0])


@njit(parallel=True, **_FLAGS)
def indexed_parallel(tok, wix, offsets, token, weight, pf, per_bag, out, chunks):
    """Precomputed indices in bags, over numba's pool."""
    n_bags = offsets.shape[0]
    for c in prange(chunks):
        _indexed_bags(tok, wix, offsets, token, weight, pf, per_bag, out,
                      c * n_bags // chunks, (c + 1) * n_bags // chunks)


@njit_noalias(**_FLAGS)
def indexed_serial(tok, wix, offsets, token, weight, pf, per_bag, out, chunks):
    """Precomputed indices in bags, on the calling thread."""
    _indexed_bags(tok, wix, offsets, token, weight, pf, per_bag, out, 0, offsets.shape[0])


@njit_noalias(cache=True, nogil=True, boundscheck=False)
def token_weight_indices(ids, seeds, k, kw, token_rows, weight_rows, tok, wix):
    """Fill tok (n, k) and wix (n, k') with the indices the fused kernel would hash.

    What ``hashing: precomputed`` does before the timed region (the reference's data
    loader), hashing each id once for both encoders as the in-kernel path does.
    """
    tr, wr = np.uint64(token_rows), np.uint64(weight_rows)
    for j in range(ids.shape[0]):
        key = np.uint64(ids[j])
        for i in range(max(k, kw)):
            h = mix64(key ^ seeds[i])
            if i < k:
                tok[j, i] = token_index(h, tr)
            if i < kw:
                wix[j, i] = weight_index(h, wr)


def padded_seeds(seeds: list[int]) -> np.ndarray:
    """Per-hash seeds as uint64, padded so the unrolled slots never read past the end."""
    out = np.zeros(max(len(seeds), UNROLLED_HASHES), dtype=np.uint64)
    out[:len(seeds)] = np.array(seeds, dtype=np.uint64)
    return out


def pool_info() -> dict:
    """numba's thread count and threading layer (the layer is known after a launch)."""
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        layer = "not started"
    return {"numba_threads": numba.get_num_threads(), "numba_threading_layer": layer,
            "numba_version": numba.__version__}


def threads_now() -> int:
    import numba

    return numba.get_num_threads()


@njit(cache=True, nogil=True)
def hash_indices(ids, seeds, count, rows, upper):
    """(n, count) indices the fused kernel uses: token (upper=True) or weight halves.

    Not on the lookup path; it exists so tests can check the fused hash against
    ``kernels.hashing`` bit for bit.
    """
    out = np.empty((ids.shape[0], count), dtype=np.int64)
    r = np.uint64(rows)
    for j in range(ids.shape[0]):
        key = np.uint64(ids[j])
        for i in range(count):
            h = mix64(key ^ seeds[i])
            out[j, i] = token_index(h, r) if upper else weight_index(h, r)
    return out

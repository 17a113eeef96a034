"""What the output write costs a MEM-REC lookup, and whether the ceiling may overlap it.

    NUMBA_NUM_THREADS=2 taskset -c 0,1 python benchmarks/write_floor.py [ROUNDS]

512-byte rows, token table 1/8 of the LLC (4 MiB on a 32 MiB L3), ids over a 64x-LLC
vocabulary, batches of 2048 and 16384, 1 and 2 threads (numba's pool, one process,
numba only). Per id, median over ROUNDS rounds (default 3) of each variant's median
over 200 calls; the variants alternate within a round so that drift falls on all:

  fused            the fused kernel (kernels/fused.py, k = k' = 2, no prefetch)
  fused k'=0       the same without weight reads
  fused, 8-row out the same loop writing every id's row into one of 8 output rows
                   (kept in L1): the fused kernel without its output stream
  minimal          indices given (no hashing, no weights): 2 rows summed, the row written
  probe 2 rows     the limits probe without output (kernels/microbench.py Gather, bag 0,
                   8 rows per pass), per 2 rows
  probe bag 2      the limits gather-and-write probe (bag 2): 2 rows summed, one row written
  write alone      one row written per id, nothing read

A diagnostic of a minute, not a measurement of record: the numbers that decided the
ceiling's model are in benchmarks/results/2026-12-04-write-floor.md.
"""
import statistics
import sys
import time

import numba
import numpy as np
from numba import njit, prange

from kernels import fused
from kernels.fused import mix64, token_index, weight_index
from kernels.memory import PAGE_BYTES, aligned_empty, random_table
from kernels.microbench import Gather

LLC, DIM, KEEP_ROWS = 32 << 20, 128, 8
_F = dict(fastmath=True, boundscheck=False, nogil=True)


@njit(parallel=True, **_F)
def fused_small_out(ids, token, weight, seeds, out, chunks):
    """The fused kernel's per-id work (k = k' = 2) writing into out[j % 8 per chunk]."""
    n = ids.shape[0]
    tr, wr = np.uint64(token.shape[0]), np.uint64(weight.shape[0])
    for c in prange(chunks):
        for j in range(c * n // chunks, (c + 1) * n // chunks):
            key = np.uint64(ids[j])
            h0, h1 = mix64(key ^ seeds[0]), mix64(key ^ seeds[1])
            a = weight[weight_index(h0, wr)] + weight[weight_index(h1, wr)]
            t0, t1 = token_index(h0, tr), token_index(h1, tr)
            b = c * KEEP_ROWS + (j & (KEEP_ROWS - 1))  # each thread its own rows
            for d in range(token.shape[1]):
                out[b, d] = a * (token[t0, d] + token[t1, d])


@njit(parallel=True, **_F)
def minimal(tok, token, out, chunks):
    n = tok.shape[0]
    for c in prange(chunks):
        for j in range(c * n // chunks, (c + 1) * n // chunks):
            t0, t1 = tok[j, 0], tok[j, 1]
            for d in range(token.shape[1]):
                out[j, d] = token[t0, d] + token[t1, d]


@njit(parallel=True, **_F)
def write_alone(out, src, chunks):
    n = out.shape[0]
    for c in prange(chunks):
        for j in range(c * n // chunks, (c + 1) * n // chunks):
            s = np.float32(j)
            for d in range(out.shape[1]):
                out[j, d] = src[d] * s


def per_id(fn, n: int, calls: int = 200) -> float:
    fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / n


def main(rounds: int) -> None:
    token_rows = LLC // 8 // (DIM * 4)
    token = random_table((token_rows, DIM), 1, PAGE_BYTES, "default")
    weight = random_table((75000, 1), 2, PAGE_BYTES, "default")[:, 0].copy()
    seeds = fused.padded_seeds([11, 22])
    vocab = 64 * LLC // (DIM * 4)
    rng = np.random.default_rng(0)
    probe = Gather(token_rows, DIM, prefetch=0)
    bag2 = Gather(token_rows, DIM, prefetch=0, bag=2)
    src = np.ones(DIM, np.float32)
    print(f"{'threads':>7} {'batch':>6} " + " ".join(f"{n:>16}" for n in NAMES))
    for threads in (1, 2):
        numba.set_num_threads(threads)
        for batch in (2048, 16384):
            pools = [rng.integers(0, vocab, batch) for _ in range(16)]
            toks = [np.ascontiguousarray(fused.hash_indices(p, seeds, 2, token_rows, True))
                    for p in pools]
            probe_ids = [probe.prepare(rng.integers(0, token_rows, 2 * batch))
                         for _ in range(16)]
            bag_ids = [bag2.prepare(rng.integers(0, token_rows, 2 * batch)) for _ in range(16)]
            out = aligned_empty((batch, DIM), np.float32, PAGE_BYTES)
            small = aligned_empty((threads * KEEP_ROWS, DIM), np.float32, PAGE_BYTES)
            turn = iter(range(1 << 62))

            def pick(seq):
                return seq[next(turn) % len(seq)]

            variants = [
                lambda: fused.memrec_ids_parallel(pick(pools), token, weight, seeds, 2, 2, 0,
                                                  out, threads),
                lambda: fused.memrec_ids_parallel(pick(pools), token, weight, seeds, 2, 0, 0,
                                                  out, threads),
                lambda: fused_small_out(pick(pools), token, weight, seeds, small, threads),
                lambda: minimal(pick(toks), token, out, threads),
                lambda: probe.run(pick(probe_ids)),
                lambda: bag2.run(pick(bag_ids)),
                lambda: write_alone(out, src, threads),
            ]
            results = [[] for _ in variants]
            for _ in range(rounds):
                for i, fn in enumerate(variants):
                    results[i].append(per_id(fn, batch))
            med = [statistics.median(r) for r in results]
            print(f"{threads:>7} {batch:>6} " + " ".join(f"{m:>16.2f}" for m in med),
                  flush=True)


NAMES = ["fused", "fused k'=0", "fused, 8-row out", "minimal", "probe 2 rows",
         "probe bag 2", "write alone"]

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

"""Why the limits gather probe was slower per row than the kernels (issue 17 item 3).

    NUMBA_NUM_THREADS=1 taskset -c 1 python benchmarks/gather_floor.py MIB [PAGES]

One thread, 512-byte rows, a table of MIB MiB (PAGES: default, 4k, thp): the limits
probe (kernels/microbench.py Gather, 1 and 8 rows per pass, prefetch 0/8/16), a serial
loop summing U = 1, 2, 4, 8 rows per pass, torch's embedding_bag (the baseline) and the
fused MEM-REC kernel (k = k' = 2, tables up to 64 MiB). Median over fresh id sets (the
same ids every repeat would leave their rows in the cache). A diagnostic of a few
seconds, not a measurement of record: results in benchmarks/results/.
"""
import sys
import time

import numpy as np
from numba import njit

from kernels.microbench import Gather
from kernels.memrec import MemRec
from kernels.baseline import Baseline
from kernels.fused import prefetch


@njit(fastmath=True, cache=False)
def gather_unroll(table, ids, out, ahead, U):
    # rows summed U at a time into a local, out stored once per U rows
    n = ids.shape[0]
    w = table.shape[1]
    for j in range(w):
        out[0, j] = 0.0
    i = 0
    while i + U <= n:
        if ahead > 0 and i + ahead + U <= n:
            for u in range(U):
                for j in range(0, w, 16):
                    prefetch(table, ids[i + ahead + u], j)
        if U == 1:
            r0 = ids[i]
            for j in range(w):
                out[0, j] += table[r0, j]
        elif U == 2:
            r0, r1 = ids[i], ids[i+1]
            for j in range(w):
                out[0, j] += table[r0, j] + table[r1, j]
        elif U == 4:
            r0, r1, r2, r3 = ids[i], ids[i+1], ids[i+2], ids[i+3]
            for j in range(w):
                out[0, j] += (table[r0, j] + table[r1, j]) + (table[r2, j] + table[r3, j])
        elif U == 8:
            r0, r1, r2, r3 = ids[i], ids[i+1], ids[i+2], ids[i+3]
            r4, r5, r6, r7 = ids[i+4], ids[i+5], ids[i+6], ids[i+7]
            for j in range(w):
                out[0, j] += (((table[r0, j] + table[r1, j]) + (table[r2, j] + table[r3, j]))
                              + ((table[r4, j] + table[r5, j]) + (table[r6, j] + table[r7, j])))
        i += U


def timeit(f, reps, sets):
    f(sets[-1])
    times = []
    for r in range(reps):
        s = sets[r % len(sets)]
        t = time.perf_counter()
        f(s)
        times.append(time.perf_counter() - t)
    return np.median(times)


ws, dim = int(float(sys.argv[1]) * 2**20), 128
rows = ws // (dim * 4)
pages = sys.argv[2] if len(sys.argv) > 2 else "thp"
rng = np.random.default_rng(1)
n = 16384
idsets = [rng.integers(0, rows, n, dtype=np.int64) for _ in range(12)]

reps = 30 if ws < 2**28 else 10
for step, pf in [(s, p) for s in (1, 8) for p in (0, 8, 16)]:
    g = Gather(rows, dim, pages=pages, prefetch=pf, step=step)
    ps = [g.prepare(x) for x in idsets]
    t = timeit(lambda p: g.run(p), reps, ps)
    print(f"Gather probe step {step} pf{pf}: {t / n * 1e9:.1f} ns/row")
tab = g.table
out = np.zeros((1, dim), np.float32)
for U in (1, 2, 4, 8):
    for pf in (0, 8, 16):
        t = timeit(lambda x: gather_unroll(tab, x, out, pf, U), reps, idsets)
        print(f"unroll{U} pf{pf}: {t / n * 1e9:.1f} ns/row")
b = Baseline(rows, dim, pages=pages)
bps = [b.prepare(x[:2048]) for x in idsets]
t = timeit(lambda p: b.run(p), reps * 4, bps)
print(f"baseline torch: {t / 2048 * 1e9:.1f} ns/row")
if ws <= 64 * 2**20:
    for pf in (0, 8):
        m = MemRec(rows, dim, 2, 75000, 2, backend="fused", pages=pages, prefetch=pf)
        mps = [m.prepare(rng.integers(0, 10**9, 2048, dtype=np.int64), np.arange(2048))
               for _ in range(12)]
        t = timeit(lambda p: m.run(p), reps * 4, mps)
        print(f"fused k=2 pf{pf}: {t / 2048 * 1e9:.1f} ns/lookup = {t / 4096 * 1e9:.1f} ns/row")

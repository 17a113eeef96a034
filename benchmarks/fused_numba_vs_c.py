"""Why the fused kernel is numba: the same kernel in C (gcc -O3 -march=native -fopenmp,
called through ctypes) against kernels/fused.py, each measurement in its own process.

    python benchmarks/fused_numba_vs_c.py [--repeats 3]

The C version mirrors the numba loop (same hash, prefetch distance, k=2 unrolled,
one output row per id, static OpenMP schedule). Both are timed on the same
tables and ids, batch 16384, dim 128, k=2, k'=2; printed as median ns/lookup.
Needs gcc; nothing here is used by the harness.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

C_SOURCE = r"""
#include <stdint.h>
static inline uint64_t mix(uint64_t x) {
    x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ULL; x ^= x >> 27; x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}
void memrec_k2(const int64_t *ids, long n, const float *restrict token, long tr, long dim,
               const float *restrict weight, long wr, const uint64_t *seeds,
               float *restrict out, int pf) {
    uint64_t s0 = seeds[0], s1 = seeds[1];
    #pragma omp parallel for schedule(static)
    for (long j = 0; j < n; j++) {
        if (pf && j + pf < n) {
            uint64_t a = (uint64_t)ids[j + pf];
            const char *p0 = (const char *)(token + (long)(((mix(a ^ s0) >> 32) * tr) >> 32) * dim);
            const char *p1 = (const char *)(token + (long)(((mix(a ^ s1) >> 32) * tr) >> 32) * dim);
            for (long l = 0; l < dim * 4; l += 64) {
                __builtin_prefetch(p0 + l, 0, 3); __builtin_prefetch(p1 + l, 0, 3);
            }
        }
        uint64_t key = (uint64_t)ids[j], h0 = mix(key ^ s0), h1 = mix(key ^ s1);
        const float *r0 = token + (long)(((h0 >> 32) * tr) >> 32) * dim;
        const float *r1 = token + (long)(((h1 >> 32) * tr) >> 32) * dim;
        float a = weight[((h0 & 0xffffffffULL) * wr) >> 32] + weight[((h1 & 0xffffffffULL) * wr) >> 32];
        float *o = out + j * dim;
        for (long d = 0; d < dim; d++) o[d] = a * (r0[d] + r1[d]);
    }
}
"""


def build_c(directory: Path) -> Path:
    """Compile the C kernel; the one place this script runs the compiler."""
    src, lib = directory / "memrec_k2.c", directory / "libmemrec_k2.so"
    src.write_text(C_SOURCE)
    subprocess.run(["gcc", "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", str(src),
                    "-o", str(lib)], check=True)
    return lib


def worker(impl: str, lib: str, table_bytes: int, threads: int, pf: int) -> None:
    """Runs in its own process: pin, build, time, print one median ns/lookup."""
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    os.environ.update(OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads),
                      GOMP_CPU_AFFINITY=" ".join(map(str, cpus)))
    os.sched_setaffinity(0, cpus)
    import ctypes
    import time

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from kernels.memrec import MemRec

    batch, dim = 16384, 128
    m = MemRec(table_bytes // (dim * 4), dim, 2, 75000, 2, backend="fused", prefetch=pf)
    rng = np.random.default_rng(0)
    batches = [m.prepare(rng.integers(0, 2**40, batch)) for _ in range(16)]
    if impl == "c":
        c = ctypes.CDLL(lib)
        P, L = ctypes.c_void_p, ctypes.c_long
        c.memrec_k2.argtypes = [P, L, P, L, L, P, L, P, P, ctypes.c_int]

        def call(prepared):
            out = np.empty((batch, dim), dtype=np.float32)
            c.memrec_k2(prepared.args[0].ctypes.data, batch, m.token_table.ctypes.data,
                        m.token_rows, dim, m.weight_table.ctypes.data, m.weight_rows,
                        m._seeds.ctypes.data, out.ctypes.data, pf)
            return out

        assert np.allclose(call(batches[0]), m.run(batches[0]), rtol=1e-5, atol=1e-6)
    else:
        call = m.run
    for i in range(10):
        call(batches[i % 16])
    times = []
    for i in range(100):
        t0 = time.perf_counter_ns()
        call(batches[i % 16])
        times.append(time.perf_counter_ns() - t0)
    print(statistics.median(times) / batch)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        impl, lib, nbytes, threads, pf = args.worker
        worker(impl, lib, int(nbytes), int(threads), int(pf))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        lib = build_c(Path(tmp))
        print(f"{'table':>8s} {'thr':>3s} {'pf':>3s} {'numba ns':>9s} {'C ns':>8s} {'C/numba':>8s}")
        for nbytes in (1 << 20, 16 << 20):
            for threads in (1, 2):
                for pf in (0, 8):
                    res = {"numba": [], "c": []}
                    for _ in range(args.repeats):
                        for impl in res:
                            cmd = [sys.executable, __file__, "--worker", impl, str(lib),
                                   str(nbytes), str(threads), str(pf)]
                            res[impl].append(float(subprocess.run(
                                cmd, capture_output=True, text=True, check=True).stdout))
                    nb, c = statistics.median(res["numba"]), statistics.median(res["c"])
                    print(f"{nbytes >> 20:6d}Mi {threads:3d} {pf:3d} {nb:9.1f} {c:8.1f} "
                          f"{c / nb:8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

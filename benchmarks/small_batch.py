"""Small batches (online inference): one kernel call's latency at batch 1..1024.

Times each kernel class's ``run`` on a prepared batch, as the worker times a batch
(``perf_counter_ns`` around one call), interleaving the kernels call by call so that
a busy machine slows all of them alike, and prints medians. With ``--entries`` it
also times the fused kernel's serial and parallel entry points on the same batches,
the evidence for ``kernels.memrec.SERIAL_MAX_IDS``. With ``--paths`` it times the fused
kernel's ways of being called on ``--distinct`` prepared batches (2,200: what the worker
prepares for benchmarks/scenarios/small_batch.yaml), cycled as the worker cycles them
(kernels/direct.py): numba's dispatcher with a fresh output (the call before issue
17.5), the resolved entry point with a fresh output, the entry point bound to the
batch and an output of the batch's own, and ``run`` (bound to the kernel's one output
buffer for the shape).

    NUMBA_NUM_THREADS=1 python benchmarks/small_batch.py
    NUMBA_NUM_THREADS=2 python benchmarks/small_batch.py --entries --batches 16 64 256 1024
    NUMBA_NUM_THREADS=1 python benchmarks/small_batch.py --paths --batches 1 16 --calls 20000
"""

from __future__ import annotations

import argparse
import gc
import itertools
from functools import partial
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def kernels(rows: int, dim: int, token_rows: int, weight_rows: int) -> dict:
    from kernels.baseline import Baseline
    from kernels.memrec import MemRec

    out = {"baseline torch": Baseline(rows, dim, backend="torch")}
    for backend in ("fused", "torch"):
        for combine in ("per_id", "per_bag"):
            for hashing in ("in_kernel", "precomputed"):
                out[f"memrec {backend} {combine} {hashing}"] = MemRec(
                    token_rows, dim, 2, weight_rows, 1, backend=backend, prefetch=0,
                    combine=combine, hashing=hashing)
    return out


def entry_variants(m, prepared) -> dict:
    """The fused batch through its serial and its parallel entry point."""
    from kernels import fused

    entry, args, shape = prepared.entry, prepared.args, prepared.shape
    name = entry.__name__
    base = name.rsplit("_", 1)[0]
    return {f"{base}_{kind}": (getattr(fused, f"{base}_{kind}"), args, shape)
            for kind in ("serial", "parallel")}


def call_paths(m, prepared) -> dict:
    """One prepared fused batch called four ways (the same kernel code each time)."""
    entry, args, shape = prepared.entry, prepared.args, prepared.shape
    entry_point = m._entry_points(entry, args + (np.empty(shape, np.float32), m._threads))
    return {"dispatcher, np.empty": lambda: entry(*args, np.empty(shape, np.float32),
                                                  m._threads),
            "entry point, np.empty": lambda: entry_point(*args, np.empty(shape, np.float32),
                                                         m._threads),
            "bound, an output per batch": partial(entry_point, *args,
                                                  np.empty(shape, np.float32), m._threads),
            "run (bound, one output)": lambda: m.run(prepared)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64, 256, 1024])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=1 << 20, help="baseline rows (512 MiB at dim 128)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--entries", action="store_true",
                    help="time the fused serial and parallel entry points instead")
    ap.add_argument("--paths", action="store_true",
                    help="time the fused kernel's call paths instead (kernels/direct.py)")
    ap.add_argument("--distinct", type=int, default=2200,
                    help="prepared batches cycled through with --paths")
    args = ap.parse_args(argv)
    import torch

    from kernels import fused

    torch.set_num_threads(fused.threads_now())
    ks = kernels(args.rows, args.dim, 8192, 4096)
    rng = np.random.default_rng(0)
    clock = time.perf_counter_ns
    print(f"threads {fused.threads_now()}, {args.calls} interleaved calls each, median ns "
          f"(machine load at start: {Path('/proc/loadavg').read_text().split()[0]})")
    for batch in args.batches:
        ids = rng.integers(0, args.rows, batch, dtype=np.int64)
        if args.entries:  # one id per bag, hashed in the kernel
            m = ks["memrec fused per_id in_kernel"]
            calls = {name: (lambda e=e, a=a, s=s:
                            e(*a, np.empty(s, dtype=np.float32), m._threads))
                     for name, (e, a, s) in entry_variants(m, m.prepare(ids)).items()}
        elif args.paths:  # per hashing: distinct batches, cycled as the worker does
            calls = {}
            for hashing in ("in_kernel", "precomputed"):
                m = ks[f"memrec fused per_id {hashing}"]
                batches = [m.prepare(rng.integers(0, args.rows, batch, dtype=np.int64))
                           for _ in range(args.distinct)]
                paths = [call_paths(m, p) for p in batches]
                for name in paths[0]:
                    cycle = [p[name] for p in paths]
                    calls[f"{hashing} {name}"] = (
                        lambda after=itertools.cycle(cycle).__next__: after()())
        else:
            calls = {}
            for name, k in ks.items():
                p = k.prepare(ids)
                calls[name] = (lambda run=k.run, p=p: run(p))
        times = {name: [] for name in calls}
        order = list(calls.items())
        gc.disable()
        for i in range(args.calls):
            # Rotate who goes first: a call right after torch's runs measurably slower
            # (caches and predictors it disturbed), so each kernel takes every turn.
            for name, fn in order[i % len(order):] + order[:i % len(order)]:
                t0 = clock()
                fn()
                times[name].append(clock() - t0)
        gc.enable()
        for name, values in times.items():
            print(f"batch {batch:5d}  {name:34s} {statistics.median(values):10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Machine-limit microbenchmarks: random-row gather, pointer chase, streaming read.

The ceilings a kernel is measured against (as likwid-bench, Intel MLC and STREAM
measure them), written with numba so that the loop costs nothing next to memory:

- ``Gather``: read random rows of ``dim`` float32 and sum them, per chunk of the
  batch, in parallel: an embedding lookup's memory traffic without its output.
  With ``prefetch`` (default ``GATHER_PREFETCH``) the rows of the id that many
  positions ahead are prefetched, as FBGEMM's embedding kernel does; with 0 the
  loads are demand loads, whose cost steps most sharply where the working set
  leaves the cache. One "lookup" is one row. Rows are summed ``step`` (8) at a time
  in registers, the output row read and written once per 8 rows: with one row per
  pass (``step`` 1, the probe before issue 17) every row also cost the output row's
  32 vector loads and stores, so fewer rows' loads fitted in the core's window and
  the real kernels matched or beat that "floor" (2-vCPU Zen 4 VM, 1 thread, 512-byte
  rows, 4 MiB table: 11-20 ns/row with step 1, 8-10 with step 8; the fused MEM-REC
  kernel, k = 2, 12-17 ns/row; torch's embedding_bag 16-24). The ceiling is the
  cheapest way to fetch the rows, so that no kernel beats it. With ``bag`` 1, 2 or 4
  it also writes one output row per that many rows, as a lookup must: the floor the
  speedup ceiling prices (harness/limits/ceiling.py).
- ``Chase``: dependent loads through a random single-cycle permutation of 64-byte
  lines (Sattolo's algorithm): the latency of each cache level. One "lookup" is
  one load; it runs on one thread.
- ``Stream``: sequential read of 64-byte lines, in parallel: bandwidth. One
  "lookup" is one line.

All follow the kernels' interface: ``prepare``/``run`` (the timed call),
``lookup``/``reference`` (checked against numpy), ``nbytes``, ``alignment``,
``bytes_per_lookup()``, ``threads`` (numba's pool size), and the class-level
``Params`` and formulas of ``kernels.params``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeInt

from kernels.memory import PAGE_BYTES, aligned_empty, alignment_of, random_table
from kernels.params import KernelParams

LINE_BYTES = 64
_INTS_PER_LINE = LINE_BYTES // 8
GATHER_PREFETCH = 8  # ids ahead, as the fused kernels' default
# Rows summed per pass over the output row. 1 was the probe until issue 17: it read and
# wrote the output row once per gathered row, and the real kernels matched it (below).
GATHER_STEP = 8
GATHER_STEPS = (1, 8)
# Rows summed into each output row written (``bag``): what a lookup of one baseline row
# (1), or of k = 2 or 4 MEM-REC token rows, must move at least. 0: no output rows.
GATHER_BAGS = (0, 1, 2, 4)
# Output rows a bag gather writes into, cyclically: what a batch of 2048 lookups writes
# (1 MiB of 512-byte rows), whatever the bag size, so that only the reads differ.
BAG_OUTPUT_ROWS = 2048


def _numba():
    import numba  # imported late: the manager never needs it

    return numba


def _compiled():
    """Compile (or load from numba's cache) the three loops once per process."""
    numba = _numba()
    njit, prange = numba.njit, numba.prange
    from kernels.fused import prefetch

    floats_per_line = LINE_BYTES // 4

    @njit(parallel=True, fastmath=True, cache=True)
    def gather_sum(table, ids, chunks, out, ahead, step):
        n = ids.shape[0]
        width = table.shape[1]
        for c in prange(chunks):
            lo, hi = c * n // chunks, (c + 1) * n // chunks
            for j in range(width):
                out[c, j] = 0.0
            i = lo
            if step == 8:
                # Eight rows summed in registers per pass over out[c]: the loop's own
                # instructions per row (out's loads and stores) shrink 8x, so the core's
                # window holds 8x more rows' loads in flight, as a kernel's would.
                while i + 8 <= hi:
                    if ahead > 0 and i + ahead + 8 <= hi:
                        for u in range(8):
                            for j in range(0, width, floats_per_line):
                                prefetch(table, ids[i + ahead + u], j)
                    r0, r1, r2, r3 = ids[i], ids[i + 1], ids[i + 2], ids[i + 3]
                    r4, r5, r6, r7 = ids[i + 4], ids[i + 5], ids[i + 6], ids[i + 7]
                    for j in range(width):
                        out[c, j] += (((table[r0, j] + table[r1, j])
                                       + (table[r2, j] + table[r3, j]))
                                      + ((table[r4, j] + table[r5, j])
                                         + (table[r6, j] + table[r7, j])))
                    i += 8
            for i in range(i, hi):  # step 1, or the chunk's last < 8 rows
                if ahead > 0 and i + ahead < hi:
                    for j in range(0, width, floats_per_line):
                        prefetch(table, ids[i + ahead], j)
                row = ids[i]
                for j in range(width):
                    out[c, j] += table[row, j]

    @njit(parallel=True, fastmath=True, cache=True)
    def gather_bags(table, ids, chunks, out, ahead, bag, one):
        """Output o (of ids.shape[0] // bag) = the sum of rows ids[o * bag : (o + 1) *
        bag] (``one``: 1.0). Each chunk writes its share of out's rows, cyclically when
        it has more outputs than rows, so the last output written to a row is known."""
        width = table.shape[1]
        n_out = ids.shape[0] // bag
        n, out_rows = n_out * bag, out.shape[0]
        for c in prange(chunks):
            o0 = c * n_out // chunks
            base, span = c * out_rows // chunks, (c + 1) * out_rows // chunks
            span -= base
            w = base
            for o in range(o0, (c + 1) * n_out // chunks):
                i = o * bag
                if ahead > 0 and i + ahead + bag <= n:
                    for u in range(bag):
                        for j in range(0, width, floats_per_line):
                            prefetch(table, ids[i + ahead + u], j)
                # One copy per bag size: the rows' loads are all in each vector step.
                if bag == 1:  # scaled by a runtime 1.0: LLVM made a copy a memcpy call
                    r0 = ids[i]
                    for j in range(width):
                        out[w, j] = table[r0, j] * one
                elif bag == 2:
                    r0, r1 = ids[i], ids[i + 1]
                    for j in range(width):
                        out[w, j] = table[r0, j] + table[r1, j]
                else:
                    r0, r1, r2, r3 = ids[i], ids[i + 1], ids[i + 2], ids[i + 3]
                    for j in range(width):
                        out[w, j] = (table[r0, j] + table[r1, j]) + (table[r2, j] + table[r3, j])
                w += 1
                if w == base + span:
                    w = base

    @njit(cache=True)
    def chase(nxt, start, steps):
        i = start
        for _ in range(steps):
            i = nxt[i * 8]
        return i

    @njit(parallel=True, fastmath=True, cache=True)
    def stream_sum(lines, start, count):
        n = lines.shape[0]
        total = 0.0
        for k in prange(count):
            row = start + k
            if row >= n:  # a division per line only where the stream wraps: '%' on every
                row %= n  # line held in-cache bandwidth to 15 of 19.5 GB/s (Zen 3)
            s = 0.0
            for j in range(lines.shape[1]):
                s += lines[row, j]
            total += s
        return total

    return gather_sum, gather_bags, chase, stream_sum


class _Params(KernelParams):
    """Machine-limit microbenchmarks (kernels/microbench.py)."""

    backend: Literal["numba"] = "numba"


class _Base:
    """Numba's pool and compiled loops; the array each microbenchmark reads."""

    Params = _Params

    def __init__(self):
        numba = _numba()
        self.threads = numba.get_num_threads()
        self._gather, self._gather_bags, self._chase, self._stream = _compiled()

    @property
    def alignment(self) -> int:
        return alignment_of(self._array)

    @property
    def nbytes(self) -> int:
        return self._array.nbytes

    def lookup(self, ids, offsets=None) -> np.ndarray:
        return np.asarray(self.run(self.prepare(ids, offsets)))

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: KernelParams) -> int:
        return LINE_BYTES  # one 64-byte line (Gather: one row)

    @classmethod
    def from_params(cls, rows: int, dim: int, params: KernelParams, seed: int = 0,
                    pages: str = "default"):
        """The microbenchmark over a ``rows`` x ``dim`` fp32 table's bytes."""
        return cls(rows, dim, seed=seed, pages=pages)

    def _warm(self):
        """Run once on a tiny input so the JIT never lands in a timed batch."""
        self.lookup(np.zeros(1, dtype=np.int64))


class Gather(_Base):
    """``prefetch`` ids ahead are prefetched; 0 gives demand loads only, whose curve
    steps most sharply where the table leaves the cache. ``step`` rows are summed per
    pass over the output row (8: the floor; 1: the probe before issue 17).

    ``bag`` > 0: every ``bag`` consecutive ids' rows are summed and written to their own
    row of an output of batch / ``bag`` rows, as an embedding lookup writes its result:
    the floor of gathering ``bag`` rows *and* writing one, whose write the 8-row probe
    (``bag`` 0) leaves out. On the 2-vCPU Zen 4 VM (1 thread, 512-byte rows, 4 MiB
    table, batch 2048) the write alone cost 6.7 ns per row, and the fused MEM-REC kernel
    (k = 2) took 25.1 ns per id with its output and 18.9 without; the minimal kernel
    (indices given, 2 rows summed, one row written) 21.7 ns, the 8-row probe 17.0 per 2
    rows (``benchmarks/results/2026-12-04-write-floor.md``). ``step`` does not apply.
    The output holds at most ``BAG_OUTPUT_ROWS`` rows, written cyclically and reused by
    every call: the write's working set is a 2048-lookup batch's whatever the bag.
    """

    class Params(_Params):
        """Random rows of the table, summed (a gather's memory traffic)."""

        prefetch: NonNegativeInt | None = Field(
            None, description="ids ahead whose rows are prefetched (0: demand loads only); "
                              f"unset: {GATHER_PREFETCH}")
        step: Literal[1, 8] | None = Field(
            None, description="rows summed in registers per pass over the output row (1: "
                              f"the probe before issue 17); unset: {GATHER_STEP}")
        bag: Literal[0, 1, 2, 4] | None = Field(
            None, description="rows summed into each output row written, one output row "
                              "per bag (0: no output rows, the gather alone); unset: 0")

    DEFAULT_PREFETCH = GATHER_PREFETCH
    # Parameters of the loop, not of the table: points that differ only in them share one
    # worker and its table (harness/execute/groups.py), which ``retune`` sets per point.
    RUNTIME_PARAMS = ("prefetch", "step", "bag")

    def __init__(self, rows: int, dim: int, seed: int = 0, align: int = PAGE_BYTES,
                 pages: str = "default", prefetch: int = GATHER_PREFETCH,
                 step: int = GATHER_STEP, bag: int = 0):
        self._set_loop(prefetch, step, bag)
        super().__init__()
        self.rows, self.dim = rows, dim
        self._outputs: dict[tuple, np.ndarray] = {}
        self._array = self.table = random_table((rows, dim), seed, align, pages)
        # Fixed chunking (not per thread) keeps the result independent of threads.
        self.chunks = max(64, 4 * self.threads)
        self._warm()

    def bytes_per_lookup(self) -> int:
        return self.dim * 4 + (self.dim * 4 // self.bag if self.bag else 0)

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: KernelParams) -> int:
        return rows * dim * 4

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: KernelParams) -> int:
        """One row read, and with ``bag`` 1/bag of a row written."""
        bag = getattr(params, "bag", None) or 0
        return dim * 4 + (dim * 4 // bag if bag else 0)

    @classmethod
    def from_params(cls, rows: int, dim: int, params: KernelParams, seed: int = 0,
                    pages: str = "default") -> "Gather":
        prefetch, step, bag = cls._loop(params)
        return cls(rows, dim, seed=seed, pages=pages, prefetch=prefetch, step=step, bag=bag)

    def retune(self, params: KernelParams) -> None:
        """Take another point's loop parameters (``RUNTIME_PARAMS``) on this table."""
        self._set_loop(*self._loop(params))

    @staticmethod
    def _loop(params: KernelParams) -> tuple[int, int, int]:
        """(prefetch, step, bag) of a point's params, unset ones at their defaults."""
        return (GATHER_PREFETCH if params.prefetch is None else params.prefetch,
                GATHER_STEP if params.step is None else params.step, params.bag or 0)

    def _set_loop(self, prefetch: int, step: int, bag: int) -> None:
        if step not in GATHER_STEPS:
            raise ValueError(f"step must be one of {GATHER_STEPS}, got {step}")
        if bag not in GATHER_BAGS:
            raise ValueError(f"bag must be one of {GATHER_BAGS}, got {bag}")
        self.prefetch, self.step, self.bag = prefetch, step, bag

    def prepare(self, ids, offsets=None):
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not self.bag:
            return ids, np.empty((self.chunks, self.dim), dtype=np.float32)
        # A batch's last ids % bag ids fill no output row and are not read.
        shape = (max(1, min(ids.shape[0] // self.bag, BAG_OUTPUT_ROWS)), self.dim)
        if shape not in self._outputs:
            self._outputs[shape] = np.empty(shape, dtype=np.float32)
        return ids, self._outputs[shape]

    def run(self, prepared):
        ids, out = prepared
        if self.bag:
            self._gather_bags(self.table, ids, self.chunks, out, self.prefetch, self.bag,
                              np.float32(1.0))
        else:
            self._gather(self.table, ids, self.chunks, out, self.prefetch, self.step)
        return out

    def lookup(self, ids, offsets=None) -> np.ndarray:
        return np.array(self.run(self.prepare(ids, offsets)))  # a copy: bags reuse `out`

    def reference(self, ids, offsets=None) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if self.bag:
            n_out = ids.shape[0] // self.bag
            sums = self.table[ids[:n_out * self.bag]].reshape(n_out, self.bag, self.dim).sum(1)
            rows = max(1, min(n_out, BAG_OUTPUT_ROWS))
            out = np.zeros((rows, self.dim), np.float32)
            for c in range(self.chunks):  # as gather_bags: chunk c's outputs, cyclically
                o0, o1 = c * n_out // self.chunks, (c + 1) * n_out // self.chunks
                base, end = c * rows // self.chunks, (c + 1) * rows // self.chunks
                for o in range(max(o0, o1 - (end - base)), o1):
                    out[base + (o - o0) % (end - base)] = sums[o]
            return out
        n = ids.shape[0]
        return np.stack([self.table[ids[c * n // self.chunks:(c + 1) * n // self.chunks]]
                         .sum(0) for c in range(self.chunks)])


class Chase(_Base):
    """Each batch continues the chase where the last one stopped."""

    class Params(_Params):
        """Dependent loads through 64-byte lines (latency)."""

    @classmethod
    def lines_for(cls, rows: int, dim: int) -> int:
        """64-byte lines of the chain: the table's bytes, at least two lines."""
        return max(2, rows * dim * 4 // LINE_BYTES)

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: KernelParams) -> int:
        return cls.lines_for(rows, dim) * LINE_BYTES

    def __init__(self, rows: int, dim: int, seed: int = 0, align: int = PAGE_BYTES,
                 pages: str = "default"):
        super().__init__()
        self.lines = self.lines_for(rows, dim)
        self._array = self.next = aligned_empty((self.lines * _INTS_PER_LINE,), np.int64, align,
                                                pages)
        self.next[:] = 0
        order = np.random.default_rng(seed).permutation(self.lines)
        # Sattolo: one cycle through every line, in random order.
        self.next[order * _INTS_PER_LINE] = np.roll(order, -1)
        self.position = int(order[0])
        self._warm()

    def bytes_per_lookup(self) -> int:
        return LINE_BYTES

    def prepare(self, ids, offsets=None):
        return len(ids)

    def run(self, steps):
        self.position = self._chase(self.next, self.position, steps)
        return self.position

    def lookup(self, ids, offsets=None) -> np.ndarray:
        """Where ``len(ids)`` steps from line 0's successor lead (state untouched)."""
        return np.array([self._chase(self.next, int(self.next[0]), len(ids))])

    def reference(self, ids, offsets=None) -> np.ndarray:
        i = int(self.next[0])
        for _ in range(len(ids)):
            i = int(self.next[i * _INTS_PER_LINE])
        return np.array([i])

    def _warm(self):
        self._chase(self.next, self.position, 1)


class Stream(_Base):
    """Each batch reads the next ``batch`` lines, wrapping around the array."""

    class Params(_Params):
        """Sequential read of 64-byte lines (bandwidth)."""

    @classmethod
    def lines_for(cls, rows: int, dim: int) -> int:
        """64-byte lines read: the table's bytes, at least one line."""
        return max(1, rows * dim * 4 // LINE_BYTES)

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: KernelParams) -> int:
        return cls.lines_for(rows, dim) * LINE_BYTES

    def __init__(self, rows: int, dim: int, seed: int = 0, align: int = PAGE_BYTES,
                 pages: str = "default"):
        super().__init__()
        lines = self.lines_for(rows, dim)
        self._array = self.data = random_table((lines, LINE_BYTES // 4), seed, align, pages)
        self.cursor = 0
        self._warm()

    def bytes_per_lookup(self) -> int:
        return LINE_BYTES

    def prepare(self, ids, offsets=None):
        return len(ids)

    def run(self, count):
        total = self._stream(self.data, self.cursor, count)
        self.cursor = (self.cursor + count) % self.data.shape[0]
        return total

    def lookup(self, ids, offsets=None) -> np.ndarray:
        return np.array([self._stream(self.data, 0, len(ids))])

    def reference(self, ids, offsets=None) -> np.ndarray:
        n = self.data.shape[0]
        rows = np.arange(len(ids)) % n
        return np.array([self.data[rows].astype(np.float64).sum()])

    def _warm(self):
        self._stream(self.data, 0, 1)

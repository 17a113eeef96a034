"""A trace-driven LRU model of the last-level cache, fed the worker's exact index stream.

Deterministic and cheap: it maps every id of every batch (as the worker ran
them: warmups then timed batches, cycling over the distinct batches) to the
64-byte lines of the table rows it reads, at the tables' real addresses, and
runs them through a set-associative LRU cache of the LLC's geometry. Before
that, the cache holds what initialisation left in it: the last lines each table
fill wrote. Misses are counted over the timed batches only.

What it leaves out, on purpose: everything but table reads (index arrays,
outputs, the interpreter), the private caches in front of the LLC, prefetchers,
other tenants, and physical-address slice hashing. So it is a floor on misses
from capacity and conflicts, labelled ``model``; ``cachegrind`` adds the rest of
the process's accesses, perf the real machine.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

@dataclass(frozen=True)
class CacheGeometry:
    size_bytes: int
    ways: int
    line_bytes: int

    @property
    def sets(self) -> int:
        return self.size_bytes // (self.ways * self.line_bytes)

    @property
    def lines(self) -> int:
        return self.sets * self.ways

    def to_dict(self) -> dict:
        return asdict(self) | {"sets": self.sets}


def power_of_two_geometry(size_bytes: int, ways: int, line_bytes: int) -> tuple[CacheGeometry, str]:
    """The nearest geometry valgrind accepts (a power-of-two number of sets).

    Keeps the line size and the number of sets as large a power of two as the
    size allows at the given associativity, then rounds the ways so the size is
    as close as possible: e.g. Skylake-SP's 38.5 MiB 11-way L3 becomes 32768
    sets x 19 ways (38 MiB). Returns the geometry and a note when it changed.
    """
    line_bytes = line_bytes or 64
    ways = max(1, ways or 16)
    sets = size_bytes // (ways * line_bytes)
    if sets >= 1 and sets & (sets - 1) == 0 and sets * ways * line_bytes == size_bytes:
        return CacheGeometry(size_bytes, ways, line_bytes), ""
    sets = 1 << max(0, int(math.floor(math.log2(max(1, sets)))))
    new_ways = max(1, round(size_bytes / (sets * line_bytes)))
    geom = CacheGeometry(sets * new_ways * line_bytes, new_ways, line_bytes)
    return geom, (f"{size_bytes} B {ways}-way has {size_bytes / (ways * line_bytes):g} sets, "
                  f"not a power of two: simulated as {geom.size_bytes} B {new_ways}-way "
                  f"({sets} sets)")


def _simulate_python(lines, tags, stamps, clock, sets, ways):
    misses = 0
    for line in lines:
        s = line % sets
        oldest, hit = 0, -1
        for w in range(ways):
            if tags[s, w] == line:
                hit = w
                break
            if stamps[s, w] < stamps[s, oldest]:
                oldest = w
        clock += 1
        if hit >= 0:
            stamps[s, hit] = clock
        else:
            misses += 1
            tags[s, oldest] = line
            stamps[s, oldest] = clock
    return misses, clock


@functools.cache
def _compiled():
    try:
        import numba
    except ImportError:  # the model still runs, ~50x slower
        return _simulate_python
    return numba.njit(cache=True, nogil=True)(_simulate_python)


class LruCache:
    """A set-associative LRU cache of line numbers; ``access`` returns the misses.

    Short streams run in plain Python; long ones in the same function compiled
    by numba, whose import and cache load (~1-3 s on a busy 2-core VM) only pay
    off beyond ``compile_above`` accesses. Both give identical results.
    """

    def __init__(self, geometry: CacheGeometry, compile_above: int = 30_000):
        self.geometry = geometry
        self.tags = np.full((geometry.sets, geometry.ways), -1, dtype=np.int64)
        self.stamps = np.zeros((geometry.sets, geometry.ways), dtype=np.int64)
        self.clock = 0
        self.compile_above = compile_above

    def access(self, lines: np.ndarray) -> int:
        lines = np.ascontiguousarray(lines, dtype=np.int64)
        sim = _compiled() if lines.size > self.compile_above else _simulate_python
        misses, self.clock = sim(lines if sim is not _simulate_python else lines.tolist(),
                                 self.tags, self.stamps, self.clock, self.geometry.sets,
                                 self.geometry.ways)
        return int(misses)

    def fill(self, lines: np.ndarray) -> None:
        """Load ``lines`` into an empty cache as ``access`` would, vectorised.

        Exact when no set receives more lines than it has ways (a sequential
        stream of at most ``geometry.lines`` lines, e.g. what a table fill left
        behind); otherwise falls back to ``access``.
        """
        lines = np.asarray(lines, dtype=np.int64)
        sets = lines % self.geometry.sets
        order = np.argsort(sets, kind="stable")
        sorted_sets = sets[order]
        starts = np.searchsorted(sorted_sets, sorted_sets, side="left")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size) - starts
        ordered = np.sort(lines)  # duplicates check: a sort, ~10x faster than np.unique
        if self.clock or (rank.size and rank.max() >= self.geometry.ways) \
                or bool(np.any(ordered[1:] == ordered[:-1])):
            self.access(lines)
            return
        self.tags[sets, rank] = lines
        self.stamps[sets, rank] = np.arange(1, lines.size + 1)
        self.clock = int(lines.size)


def row_lines(base: int, rows: np.ndarray, row_bytes: int, line_bytes: int) -> np.ndarray:
    """Line numbers of rows ``rows`` of a table at address ``base``, row by row in order."""
    rows = np.asarray(rows, dtype=np.int64).ravel()
    start = base + rows * row_bytes
    first = start // line_bytes
    count = (start + row_bytes - 1) // line_bytes - first + 1
    if count.size == 0:
        return first
    if np.all(count == count[0]):  # aligned rows: the common, fast case
        return (first[:, None] + np.arange(int(count[0]), dtype=np.int64)[None, :]).ravel()
    offsets = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(first, count) + offsets


@dataclass(frozen=True)
class Table:
    """One table a kernel reads: where it starts and how wide its rows are."""

    base: int
    rows: int
    row_bytes: int

    @property
    def nbytes(self) -> int:
        return self.rows * self.row_bytes


def kernel_tables(kernel) -> list[Table]:
    """The tables of a ``kernels/`` object, in the order it fills them."""
    if hasattr(kernel, "token_table"):
        token = kernel.token_table
        tables = [Table(token.ctypes.data, token.shape[0], token.strides[0])]
        if kernel.k_weight:
            tables.append(Table(kernel.weight_table.ctypes.data, kernel.weight_table.shape[0], 4))
        return tables
    return [Table(kernel.table.ctypes.data, kernel.table.shape[0], kernel.table.strides[0])]


def lookup_lines(kernel, tables: list[Table], ids: np.ndarray, line_bytes: int) -> np.ndarray:
    """Lines one feature's batch of ids reads: MEM-REC's k token rows per id, then its
    k' weight scalars; the baseline's one row per id."""
    if hasattr(kernel, "token_table"):
        parts = [row_lines(tables[0].base, kernel.token_indices(ids), tables[0].row_bytes,
                           line_bytes)]
        if kernel.k_weight:
            parts.append(row_lines(tables[1].base, kernel.weight_indices(ids), 4, line_bytes))
        return np.concatenate(parts)
    return row_lines(tables[0].base, ids, tables[0].row_bytes, line_bytes)


def init_lines(tables: list[Table], keep: int, line_bytes: int) -> np.ndarray:
    """The last ``keep`` lines written when filling ``tables`` one after another.

    Only those lines are made: an 8 GiB table has 134 M lines, and building them all
    to keep the last cache's worth took seconds per worker.
    """
    parts, left = [], keep
    for t in reversed(tables):
        if left <= 0:
            break
        first = t.base // line_bytes
        last = (t.base + t.nbytes - 1) // line_bytes
        start = max(first, last + 1 - left)
        parts.append(np.arange(start, last + 1, dtype=np.int64))
        left -= last + 1 - start
    return np.concatenate(parts[::-1]) if parts else np.empty(0, np.int64)


def model_llc(kernels: list, batches: list, warmups: int, timed: int,
              geometry: CacheGeometry, clock=time.perf_counter_ns) -> dict:
    """LLC misses of the timed batches, replaying the worker's calls exactly.

    ``batches`` are the worker's distinct batches (each a list, one per feature,
    of (ids, offsets)); call i used batch ``i % len(batches)``.
    """
    t0 = clock()
    line = geometry.line_bytes
    tables = [kernel_tables(k) for k in kernels]
    # Many short batches: compile once rather than run each in plain Python. Counted in
    # lines (a 512-byte row is 8, MEM-REC reads k rows and k' weights per id), and
    # always once numba is loaded (the compiled function's cache load is then ~0.1 s):
    # counted in ids, 220 batches of 128 ids ran in Python at ~1 s a point.
    per_call = sum(lookup_lines(k, ts, ids, line).size
                   for k, ts, (ids, _off) in zip(kernels, tables, batches[0])) if batches else 0
    compiled = "numba" in sys.modules or per_call * (warmups + timed) > 30_000
    cache = LruCache(geometry, compile_above=0 if compiled else 30_000)
    cache.fill(init_lines([t for ts in tables for t in ts], geometry.lines, line))
    misses = accesses = lookups = 0
    for i in range(warmups + timed):
        batch = batches[i % len(batches)]
        lines = np.concatenate([lookup_lines(k, ts, ids, line)
                                for k, ts, (ids, _off) in zip(kernels, tables, batch)])
        m = cache.access(lines)
        if i >= warmups:
            misses += m
            accesses += lines.size
            lookups += sum(ids.shape[0] for ids, _off in batch)
    return {"llc_misses": misses, "line_accesses": accesses, "lookups": lookups,
            "warmup_batches": warmups, "batches": timed, "geometry": geometry.to_dict(),
            "table_bytes": sum(t.nbytes for ts in tables for t in ts),
            "model_ns": clock() - t0}

"""The trace-driven LRU model: geometry, the LRU itself, and the lines a lookup reads."""

import numpy as np
import pytest

from harness.counters.model import (CacheGeometry, LruCache, Table, init_lines, kernel_tables,
                                    lookup_lines, model_llc, power_of_two_geometry, row_lines)
from harness.execute.indices import make_batches


def test_power_of_two_geometry():
    g, note = power_of_two_geometry(32 * 2**20, 16, 64)
    assert (g.sets, g.ways, note) == (32768, 16, "")
    g, note = power_of_two_geometry(39424 * 1024, 11, 64)  # Skylake-SP 8180
    assert g.sets == 32768 and g.ways == 19 and "not a power of two" in note
    assert abs(g.size_bytes - 39424 * 1024) / (39424 * 1024) < 0.02


def test_lru_by_hand():
    cache = LruCache(CacheGeometry(2 * 64, 2, 64))  # one set, two ways
    assert cache.access(np.array([1, 2, 1, 3, 2, 1])) == 5  # 1 2 [1 hit] 3(evicts 2) 2 1
    assert cache.access(np.array([2])) == 0


def test_compiled_and_python_agree():
    g = CacheGeometry(1 << 14, 4, 64)
    stream = np.random.default_rng(3).integers(0, 3 * g.lines, 5000)
    a, b = LruCache(g), LruCache(g, compile_above=0)
    assert a.access(stream) == b.access(stream)
    assert (a.tags == b.tags).all()


def test_fill_equals_access():
    g = CacheGeometry(1 << 14, 4, 64)
    for lines in (np.arange(7, 7 + g.lines), np.arange(100, 150), np.arange(10) * g.sets):
        a, b = LruCache(g), LruCache(g)
        a.fill(lines)
        b.access(lines)
        assert (a.tags == b.tags).all() and (a.stamps == b.stamps).all()


def test_row_lines():
    assert row_lines(0, np.array([2, 0]), 128, 64).tolist() == [4, 5, 0, 1]
    assert row_lines(32, np.array([0]), 64, 64).tolist() == [0, 1]      # straddles two lines
    assert row_lines(0, np.array([1, 3]), 4, 64).tolist() == [0, 0]      # scalars share a line
    assert row_lines(96, np.array([0, 1]), 48, 64).tolist() == [1, 2, 2]  # mixed counts
    assert init_lines([Table(0, 4, 64), Table(1024, 2, 64)], 3, 64).tolist() == [3, 16, 17]


def test_init_lines_are_the_tail_of_the_fill_stream():
    def naive(tables, keep, line):
        stream = np.concatenate([np.arange(t.base // line, (t.base + t.nbytes - 1) // line + 1)
                                 for t in tables])
        return stream[-keep:] if keep else stream[:0]

    tables = [Table(0, 4, 64), Table(1000, 3, 100), Table(8192, 5, 4)]
    for keep in (0, 1, 2, 3, 5, 6, 9, 12, 100):
        assert init_lines(tables, keep, 64).tolist() == naive(tables, keep, 64).tolist(), keep
    # an 8 GiB table's last LLC of lines, without its 134 M lines
    big = init_lines([Table(2**40, 2**24, 512)], 4, 64)
    assert big.tolist() == [(2**40 + 2**33) // 64 - 4 + i for i in range(4)]


class FakeBaseline:
    """The attributes the model reads of kernels.baseline.Baseline, without the fill."""

    def __init__(self, rows, dim):
        from kernels.memory import aligned_empty

        self.table = aligned_empty((rows, dim))  # page-aligned: a 256 B row is 4 lines


def _uniform(rows, batch, count, seed=0):
    return make_batches({"name": "uniform"}, rows, batch, 1, 1, count, seed)


@pytest.mark.parametrize("ratio", [0.25, 4.0])
def test_baseline_below_and_above_the_llc(ratio):
    g = CacheGeometry(64 * 1024, 16, 64)
    dim = 64  # 256 B rows: 4 lines
    rows = int(ratio * g.size_bytes / (dim * 4))
    k = FakeBaseline(rows, dim)
    r = model_llc([k], _uniform(rows, 256, 20), 5, 40, g)
    per_lookup = r["llc_misses"] / r["lookups"]
    expected = 0.0 if ratio < 1 else 4 * (1 - 1 / ratio)
    assert per_lookup == pytest.approx(expected, abs=0.35)
    assert r["lookups"] == 40 * 256 and r["batches"] == 40


def test_memrec_reads_k_rows_and_the_weights():
    from kernels.memrec import MemRec

    m = MemRec(token_rows=512, dim=16, k=3, weight_rows=64, k_weight=2, seed=1, backend="numpy")
    tables = kernel_tables(m)
    assert [t.row_bytes for t in tables] == [64, 4]
    ids = np.arange(10)
    lines = lookup_lines(m, tables, ids, 64)
    assert lines.size == 10 * 3 + 10 * 2
    token_lines = set(lines[:30].tolist())
    assert token_lines == set(((tables[0].base + m.token_indices(ids).ravel() * 64) // 64).tolist())


def test_the_model_replays_in_repeat_0_only():
    from harness.counters.region import MODEL_ONCE, worker_counters

    g = CacheGeometry(64 * 1024, 16, 64)
    rows, dim = 1024, 64
    point = {"batch_size": 32, "pooling": 1, "features": 1, "warmups": 2, "batches": 5}
    counters = {"model": {"geometry": g.to_dict(), "max_batches": 5}}
    batches = _uniform(rows, 32, 7)
    k = FakeBaseline(rows, dim)
    first = worker_counters(counters, None, [k], batches, point, repeat=0)["model"]
    assert first["lookups"] == 5 * 32 and "skipped" not in first
    later = worker_counters(counters, None, [k], batches, point, repeat=1)["model"]
    assert later == {"skipped": MODEL_ONCE}
    # a skipped repeat adds no figure of its own: the point's is repeat 0's
    from harness.counters.summary import model_metrics
    assert model_metrics(later) == {} and model_metrics(first)

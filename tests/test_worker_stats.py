import itertools
import math

import pytest

from harness.store.latency import latency_summary, point_figures
from harness.execute.sampling import sample_batches
from harness.execute.worker import timer_overhead_ns


def time_batches(calls, warmups, batches, clock, region=None):
    """A fixed count of batches through the worker's sampler: (warm-ups, values)."""
    out = sample_batches(calls, warmups, batches, clock=clock, region=region)
    return out["warmups_ns"], out["values_ns"]


class FakeClock:
    """Advances by a scripted amount on every second read (the end of a sample)."""

    def __init__(self, durations):
        self.now = 0
        self.durations = iter(durations)
        self.reads = 0

    def __call__(self):
        self.reads += 1
        if self.reads % 2 == 0:
            self.now += next(self.durations)
        return self.now


def test_time_batches_with_fake_clock():
    calls_made = []
    calls = [lambda i=i: calls_made.append(i) for i in range(3)]
    clock = FakeClock([100, 200, 300, 400, 500, 600, 700])
    warm, values = time_batches(calls, warmups=2, batches=5, clock=clock)
    assert warm == [100, 200]
    assert values == [300, 400, 500, 600, 700]
    assert calls_made == [0, 1, 2, 0, 1, 2, 0]  # cycles through the distinct batches


def test_gc_restored_after_timing():
    import gc

    assert gc.isenabled()
    time_batches([lambda: None], 0, 3, clock=itertools.count().__next__)
    assert gc.isenabled()


def test_timer_overhead_fake_clock():
    assert timer_overhead_ns(clock=itertools.count(0, 7).__next__, samples=10) == 7


def test_latency_summary():
    s = latency_summary([10, 20, 30, 40, 1000])
    assert s["p50"] == 30 and s["min"] == 10 and s["max"] == 1000 and s["n"] == 5
    assert s["p25"] == 20 and s["p75"] == 40
    empty = latency_summary([])
    assert empty["n"] == 0 and math.isnan(empty["p50"])


def test_point_figures_per_lookup():
    point = {"batch_size": 100, "pooling": 2, "features": 5, "bytes_per_lookup": 512}
    f = point_figures(point, [100_000, 100_000, 300_000])
    assert f["latency_p50_ns"] == 100_000
    assert f["ns_per_lookup"] == pytest.approx(100.0)      # 100 us / 1000 lookups
    assert f["lookups_per_s"] == pytest.approx(1e7)
    assert f["gbytes_per_s"] == pytest.approx(5.12)        # 512 B per 100 ns
    assert f["samples"] == 3


def test_region_wraps_only_the_timed_batches():
    events = []

    class Region:
        def __enter__(self):
            events.append("enable")

        def __exit__(self, *exc):
            events.append("disable")

    calls = [lambda: events.append("call")]
    time_batches(calls, warmups=2, batches=3, clock=itertools.count().__next__, region=Region())
    assert events == ["call", "call", "enable", "call", "call", "call", "disable"]

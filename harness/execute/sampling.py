"""How many timed batches a worker takes: a fixed count, or enough for a stated precision.

With ``measure.batches: auto`` the worker takes batches until the 95 % confidence
interval of the median latency is within ``precision`` of the median (its half-width,
relative), or its time budget for the timed region is spent, never fewer than
``min_batches`` nor more than ``max_batches``, and never less than ``min_time_s`` of
timed batches (as pyperf's ``min_time``: a point whose batches take microseconds is
sampled for long enough that a burst of interference is a small part of it, and the
run spends its time measuring rather than starting workers). The interval is distribution-free
(order statistics: the number of samples below the true median is Binomial(n, 1/2);
``median_ci_rank``),
so a skewed or two-humped latency distribution needs no assumption.

The precision check between batches sorts the samples so far; it runs at a growing
stride (every quarter more samples) so its cost stays a small part of the timed region,
which is also where counters count. The budget is checked after every batch (one clock
read).
"""

from __future__ import annotations

import contextlib
import gc
import math
import statistics
import time

CONFIDENCE = 0.95
EXACT_UP_TO = 100  # samples: the exact binomial rank; beyond, the normal approximation


def median_ci_rank(n: int, confidence: float = CONFIDENCE) -> int:
    """k such that [x_(k), x_(n-k+1)] (1-based order statistics) covers the median with
    at least ``confidence``: the number of j with P(B <= j) <= alpha/2, B ~ Bin(n, 1/2);
    0 when there are too few samples for an interval (pure).

    Exact up to EXACT_UP_TO samples; beyond, n/2 - z*sqrt(n)/2 (off by at most one
    rank there), which costs nothing inside the timed region where it is evaluated.
    """
    alpha = (1 - confidence) / 2
    if n <= EXACT_UP_TO:
        total, cumulative = 2**n, 0
        for k in range(n + 1):
            cumulative += math.comb(n, k)
            if cumulative / total > alpha:
                return k
        return n
    z = statistics.NormalDist().inv_cdf(1 - alpha)
    return max(0, math.floor(n / 2 - z * math.sqrt(n) / 2))


def median_ci(values: list[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The distribution-free ``confidence`` interval of the median of ``values`` (pure):
    (low, high) order statistics, or None when there are too few samples for one
    (fewer than 6 at 95 %)."""
    n = len(values)
    k = median_ci_rank(n, confidence) if n else 0
    if k < 1:
        return None
    ordered = sorted(values)
    return ordered[k - 1], ordered[n - k]


def relative_half_width(values: list[float]) -> float:
    """Half the median's 95 % interval over the median (pure); inf when there is no
    interval yet, or the median is 0."""
    ci = median_ci(values)
    if ci is None:
        return math.inf
    ordered = sorted(values)
    n = len(ordered)
    median = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    return (ci[1] - ci[0]) / 2 / median if median > 0 else math.inf


def sample_batches(calls: list, warmups: int, max_batches: int, min_batches: int | None = None,
                   precision: float | None = None, budget_ns: int | None = None,
                   clock=time.perf_counter_ns, region=None, min_ns: int = 0) -> dict:
    """Run ``warmups`` untimed-for-results calls, then timed calls (cycling through
    ``calls``) until the stopping rule holds. ``min_batches`` None: exactly
    ``max_batches`` (a fixed count, no check). ``region`` wraps the timed calls only.
    ``min_ns``: with auto, precision alone does not stop sampling before this much time
    in timed batches (the budget and ``max_batches`` still do).

    Returns {"warmups_ns", "values_ns", "batches_taken", "ci_half_width" (relative,
    None when not computed), "stopped": "fixed" | "precision" | "budget" | "max_batches"}.
    The garbage collector is off while timing, as in pyperf and timeit.
    """
    n = len(calls)
    warm = []
    for i in range(warmups):
        fn = calls[i % n]
        t0 = clock()
        fn()
        warm.append(clock() - t0)
    auto = min_batches is not None
    lowest = min(min_batches, max_batches) if auto else max_batches
    values: list[int] = []
    stopped = "fixed" if not auto else "max_batches"
    half_width = None
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with region if region is not None else contextlib.nullcontext():
            began = clock() if auto and (budget_ns is not None or min_ns) else 0
            next_check = lowest
            i = warmups
            while len(values) < max_batches:
                fn = calls[i % n]
                t0 = clock()
                fn()
                values.append(clock() - t0)
                i += 1
                if not auto or len(values) < lowest:
                    continue
                if len(values) >= next_check and (not min_ns or clock() - began >= min_ns):
                    half_width = relative_half_width(values)
                    if half_width <= precision:
                        stopped = "precision"
                        break
                    next_check = len(values) + max(1, len(values) // 4)
                if budget_ns is not None and clock() - began >= budget_ns:
                    stopped = "budget"
                    break
    finally:
        if gc_was_enabled:
            gc.enable()
    if stopped != "precision":  # the interval actually reached, computed untimed
        half_width = relative_half_width(values)
    return {"warmups_ns": warm, "values_ns": values, "batches_taken": len(values),
            "ci_half_width": None if math.isinf(half_width) else half_width,
            "stopped": stopped}

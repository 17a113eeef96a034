"""Open-loop load: a precomputed Poisson schedule, a batching server, latency from arrival.

Coordinated omission is what a closed-loop generator commits: it waits for each
reply before sending the next request, so when the server stalls it stops
offering load, and the requests that would have queued behind the stall are never
measured. Here the whole schedule of arrival times is drawn before serving
starts and never moves; the server admits every request whose scheduled time
has passed, however late it gets to them, and a request's latency runs from its
*scheduled* arrival to the completion of the batch that served it. A server (or
generator) running late therefore shows up as queueing latency, never hides it.

Everything here is pure but for the two functions passed in: ``clock()`` (ns)
and ``wait_until(t_ns)``; tests drive it with a fake clock whose "kernel" takes a
chosen time, so the queueing arithmetic is checked exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# The schedule starts this long after serving is set up: admission begins in order.
START_LEAD_NS = 1_000_000
# Waits longer than this sleep (less half of it); shorter ones spin on the clock:
# a sleep overshoots by 0.1-several ms on a busy machine, which would be queueing.
SPIN_BELOW_NS = 1_000_000


def poisson_schedule(rate_qps: float, requests: int, seed) -> np.ndarray:
    """Arrival offsets (ns, int64, rising) of ``requests`` at a Poisson rate: exponential
    gaps of mean 1/rate, drawn from ``seed`` so every kernel sees the same schedule."""
    if rate_qps <= 0 or requests <= 0:
        raise ValueError(f"need a positive rate and request count (got {rate_qps}, {requests})")
    gaps = np.random.default_rng(seed).exponential(1e9 / rate_qps, requests)
    return np.cumsum(gaps).astype(np.int64)


def wait_until_real(t_ns: int, clock=time.perf_counter_ns) -> None:
    """Sleep most of a long wait, spin the end of it (sleep overshoots by ~50-100 us)."""
    remaining = t_ns - clock()
    if remaining > SPIN_BELOW_NS:
        time.sleep((remaining - SPIN_BELOW_NS // 2) / 1e9)
    while clock() < t_ns:
        pass


@dataclass
class Served:
    """What one schedule's serving gave: per-request latency and per-batch facts."""

    latency_ns: np.ndarray            # per request, scheduled arrival -> completion; -1 unserved
    batch_sizes: list[int] = field(default_factory=list)
    service_ns: list[int] = field(default_factory=list)    # each batch's kernel time
    # How late the server came to each batch's oldest request beyond what the policy
    # asked (the full batch or the timeout): the queueing the server itself caused.
    start_lag_ns: list[int] = field(default_factory=list)
    stopped: str = ""                 # why serving stopped early ('' when all were served)
    span_ns: int = 0                  # first scheduled arrival -> last completion

    @property
    def served(self) -> int:
        return int(np.count_nonzero(self.latency_ns >= 0))


def serve(schedule_ns: np.ndarray, run_batch, max_batch: int, timeout_ns: int | None,
          clock=time.perf_counter_ns, wait_until=None, give_up_ns: int | None = None,
          ) -> Served:
    """Serve requests arriving at ``schedule_ns`` (offsets) in FIFO batches.

    ``run_batch(first, stop)`` serves requests [first, stop) (FIFO order keeps a
    batch contiguous). ``timeout_ns=None`` is the fixed policy: a batch goes when
    ``max_batch`` requests are queued (the schedule's last, partly filled, when no
    more will arrive); otherwise dynamic: when full, or when the oldest queued
    request has waited ``timeout_ns``. With ``give_up_ns``, serving stops once a
    served request waited longer than that (the queue only grows from there).
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1 (got {max_batch})")
    wait_until = wait_until or (lambda t: wait_until_real(t, clock))
    n = int(schedule_ns.shape[0])
    origin = clock() + START_LEAD_NS
    arrivals = schedule_ns + origin
    out = Served(np.full(n, -1, dtype=np.int64))
    head = 0
    while head < n:
        now = clock()
        arrived = int(np.searchsorted(arrivals, now, side="right"))
        if arrived == head:  # nothing queued: sleep until the next arrival
            wait_until(int(arrivals[head]))
            continue
        fill_at = head + max_batch - 1  # index of the request that fills this batch
        if fill_at < n:
            due = int(arrivals[fill_at])
            if timeout_ns is not None:
                due = min(due, int(arrivals[head]) + timeout_ns)
        else:  # the schedule ends before the batch fills
            due = int(arrivals[n - 1]) if timeout_ns is None else min(
                int(arrivals[n - 1]), int(arrivals[head]) + timeout_ns)
        if now < due:
            wait_until(due)
            continue
        stop = min(arrived, head + max_batch)
        out.start_lag_ns.append(now - due)
        run_batch(head, stop)
        done = clock()
        out.latency_ns[head:stop] = done - arrivals[head:stop]
        out.batch_sizes.append(stop - head)
        out.service_ns.append(done - now)
        out.span_ns = done - int(arrivals[0])
        head = stop
        if give_up_ns is not None and head < n and done - int(arrivals[head - 1]) > give_up_ns:
            out.stopped = (f"stopped after {head} of {n} requests: request {head - 1} waited "
                           f"{(done - int(arrivals[head - 1])) / 1e6:.1f} ms, over the "
                           f"{give_up_ns / 1e6:.1f} ms limit (the queue only grows)")
            break
    return out

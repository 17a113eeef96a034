"""The worker's side of counting: regions that switch counters on around the timed batches.

``make_region(spec)`` returns the context manager that
``execute.sampling.sample_batches`` wraps its timed batches in (None when nothing counts):

- ``PerfRegion`` writes ``enable``/``disable`` to perf's control fifo and waits
  for perf's ``ack``, at most ``timeout_s``: a perf that died or hangs costs the
  counts (recorded as the region's error), never the run. It never blocks on the
  fifo: opening it without a reader (perf gone) fails at once instead.
- ``CallgrindRegion`` starts callgrind's instrumentation when it is made (before
  the tables are built, so the simulated cache is as warm as the real one) and
  toggles event collection around the timed batches, through a tiny C helper
  that issues valgrind's client requests (``cachegrind.py`` builds it).

Failures are recorded in ``region.record["error"]``; the timing run goes on.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import time

ACK = b"ack"


class PerfRegion:
    """perf stat --control fifo:CTL,ACK, seen from the measured process."""

    def __init__(self, ctl: str, ack: str, timeout_s: float = 10.0,
                 clock=time.perf_counter_ns):
        self.ctl_path, self.ack_path, self.timeout_s, self.clock = ctl, ack, timeout_s, clock
        self.record = {"backend": "perf", "error": None, "enable_ack_ns": None,
                       "disable_ack_ns": None, "enabled_ns": None}
        self._ctl = self._ack = None
        self._enabled_at = None

    def _open(self) -> None:
        try:
            # O_NONBLOCK: with no reader (perf not running) this fails with ENXIO
            # instead of blocking until one appears.
            self._ctl = os.open(self.ctl_path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            why = "perf is not reading it (not running?)" if exc.errno == errno.ENXIO else exc
            raise RuntimeError(f"cannot open perf's control fifo {self.ctl_path}: {why}") from None
        self._ack = os.open(self.ack_path, os.O_RDONLY | os.O_NONBLOCK)

    def _command(self, word: bytes) -> int:
        """Send one command and wait for its ack; the wait in ns. RuntimeError on failure."""
        if self._ctl is None:
            self._open()
        t0 = self.clock()
        try:
            os.write(self._ctl, word + b"\n")
        except OSError as exc:  # EPIPE: perf exited; EAGAIN: perf stopped reading
            raise RuntimeError(f"writing {word.decode()!r} to perf's control fifo failed: "
                               f"{exc}") from None
        poller = select.poll()
        poller.register(self._ack, select.POLLIN)
        deadline = time.monotonic() + self.timeout_s
        received = b""
        while ACK not in received:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(max(1, int(left * 1000))):
                raise RuntimeError(f"perf did not acknowledge {word.decode()!r} within "
                                   f"{self.timeout_s:g} s")
            try:
                chunk = os.read(self._ack, 64)
            except BlockingIOError:
                continue
            if not chunk:
                raise RuntimeError(f"perf closed its ack fifo before acknowledging "
                                   f"{word.decode()!r}")
            received += chunk
        return self.clock() - t0

    def __enter__(self):
        if self.record["error"] is None:
            try:
                self.record["enable_ack_ns"] = self._command(b"enable")
                self._enabled_at = self.clock()
            except RuntimeError as exc:
                self.record["error"] = f"enable: {exc}"
        return self

    def __exit__(self, *exc_info):
        if self._enabled_at is not None:
            self.record["enabled_ns"] = self.clock() - self._enabled_at
            try:
                self.record["disable_ack_ns"] = self._command(b"disable")
            except RuntimeError as exc:
                self.record["error"] = f"disable: {exc}"
        self.close()
        return False

    def close(self) -> None:
        for fd in (self._ctl, self._ack):
            if fd is not None:
                os.close(fd)
        self._ctl = self._ack = None


class CallgrindRegion:
    """Collect callgrind's simulated cache events only inside the timed batches."""

    def __init__(self, helper: str, clock=time.perf_counter_ns):
        self.clock = clock
        self.record = {"backend": "cachegrind", "error": None, "enabled_ns": None}
        self._lib = None
        try:
            lib = ctypes.CDLL(helper)
            if not lib.harness_running_on_valgrind():
                raise RuntimeError("not running under valgrind")
            # From here on every access goes through the simulated caches (warming
            # them as table initialisation warms the real ones); nothing is
            # collected until the region starts.
            lib.harness_start_instrumentation()
            self._lib = lib
        except (OSError, AttributeError, RuntimeError) as exc:
            self.record["error"] = f"callgrind helper {helper}: {exc}"

    def __enter__(self):
        if self._lib is not None:
            self._lib.harness_toggle_collect()
            self._t0 = self.clock()
        return self

    def __exit__(self, *exc_info):
        if self._lib is not None:
            self._lib.harness_toggle_collect()
            self.record["enabled_ns"] = self.clock() - self._t0
        return False


def make_region(counters: dict | None):
    """The region for a worker's ``counters`` spec (from the manager), or None."""
    if not counters:
        return None
    if counters.get("perf"):
        p = counters["perf"]
        return PerfRegion(p["ctl"], p["ack"], p.get("timeout_s", 10.0))
    if counters.get("cachegrind"):
        return CallgrindRegion(counters["cachegrind"]["helper"])
    return None


# The LRU model replays at most this many lookups of timed batches (and as many of
# warm-ups): enough to fill any LLC several times, small enough (~1 s in numba) that the
# model never dominates a worker. The record says what was replayed.
MODEL_MAX_LOOKUPS = 200_000


def model_replay(point: dict, max_batches: int) -> tuple[int, int]:
    """(warm-up, timed) batches the model replays for ``point``: capped by batches and
    by lookups, at least one timed batch."""
    per_batch = max(1, point["batch_size"] * point["pooling"] * point["features"])
    most = max(1, MODEL_MAX_LOOKUPS // per_batch)
    return min(point["warmups"], most), min(point["batches"], max_batches, most)


# The model's figure depends on the tables' geometry and the index batches only, not on
# the run's timing, so it is replayed once per point: repeat 0 (which a rerun repeats
# too). In the full skylake sweep replaying it in every repeat was the largest cost after
# the tables (311 s of 1415 s on a 2-vCPU VM).
MODEL_REPEAT = 0
MODEL_ONCE = f"modelled once per point, in repeat {MODEL_REPEAT}"


def worker_counters(counters: dict | None, region, kernels: list, batches: list,
                    point: dict, repeat: int = MODEL_REPEAT) -> dict | None:
    """What the worker reports about counting: its region's record and the model's
    figures (in repeat ``MODEL_REPEAT`` only; other repeats say so)."""
    if not counters:
        return None
    out = {"region": region.record if region is not None else None}
    model = counters.get("model")
    if model and repeat != MODEL_REPEAT:
        out["model"] = {"skipped": MODEL_ONCE}
    elif model:
        from harness.counters.model import CacheGeometry, model_llc

        g = model["geometry"]
        geometry = CacheGeometry(g["size_bytes"], g["ways"], g["line_bytes"])
        warmups, timed = model_replay(point, model["max_batches"])
        try:
            out["model"] = model_llc(kernels, batches, warmups, timed, geometry)
            out["model"]["replay_cap"] = {
                "max_lookups": MODEL_MAX_LOOKUPS, "max_batches": model["max_batches"],
                "planned_warmups": point["warmups"], "planned_batches": point["batches"]}
        except (ValueError, MemoryError, AttributeError) as exc:  # stored, shown as the reason
            out["model"] = {"error": f"{type(exc).__name__}: {exc}"}
    return out

"""The null kernel: busy-waits a configured number of nanoseconds per lookup.

It reads no table, so what the harness measures for it is the harness itself: the
worker's call and timer overhead at ``ns_per_lookup=0`` (the floor under every other
kernel's figures, as MLPerf's null system under test gives loadgen's), and a known,
adjustable cost otherwise, which is how the regression gate is tested for real on a
noisy machine (``benchmarks/gate_evidence.py``).

The wait is a fixed amount of work, not a wait for a deadline: a loop of ``n``
iterations whose cost per iteration is calibrated when the kernel is built. Like a
real kernel, it then takes longer when it loses the CPU or the clock slows down; a
deadline-polling loop would hide exactly the noise the gate has to live with.
Calibration keeps the fastest of many short trials spread over ~50 ms (noise only
ever adds time, and a shared machine's speed changes from one millisecond to the
next), which on the shared 2-vCPU VM brought the spread between processes from
about +-20% (trials back to back) to about +-8%.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from pydantic import Field, NonNegativeInt

from kernels.bags import as_ids, check_offsets
from kernels.params import KernelParams

# Each calibration trial lasts at least this long, far above the clock's resolution
# and the loop's fixed start-up cost; trials are spread out by short sleeps.
TRIAL_NS = 100_000
TRIALS = 30
GAP_S = 0.001


def spin(iterations: int) -> None:
    """The busy loop itself: ``iterations`` trips of the interpreter's cheapest loop."""
    for _ in range(iterations):
        pass


@dataclass(frozen=True)
class Calibration:
    ns_per_iteration: float
    iterations_per_trial: int
    trials: int
    trial_ns: list[int]  # every trial, fastest first, for the record


def calibrate(loop: Callable[[int], None] = spin, clock: Callable[[], int] = time.perf_counter_ns,
              trial_ns: int = TRIAL_NS, trials: int = TRIALS, gap_s: float = GAP_S,
              sleep: Callable[[float], None] = time.sleep) -> Calibration:
    """Measure the loop's cost per iteration: grow a trial to ``trial_ns``, keep the fastest."""
    iterations = 1024
    while True:
        t0 = clock()
        loop(iterations)
        took = clock() - t0
        if took >= trial_ns or iterations >= 1 << 40:
            break
        # Aim a little past the target so one more doubling is rarely needed.
        iterations = max(iterations * 2, int(iterations * 1.2 * trial_ns / max(took, 1)))
    times = []
    for _ in range(trials):
        t0 = clock()
        loop(iterations)
        times.append(clock() - t0)
        sleep(gap_s)
    times.sort()
    return Calibration(times[0] / iterations, iterations, trials, times)


class Spin:
    """Busy-waits ``ns_per_lookup`` per id; ``lookup`` returns zero vectors of ``dim``."""

    class Params(KernelParams):
        """The null kernel: busy-waits ns_per_lookup per id and reads no table."""

        ns_per_lookup: NonNegativeInt = Field(description="busy-wait per id, in ns")

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: Params) -> int:
        return 0  # owns no table

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: Params) -> int:
        return 0

    @classmethod
    def from_params(cls, rows: int, dim: int, params: Params, seed: int = 0,
                    pages: str = "default") -> "Spin":
        """Calibrated here (ns_per_lookup > 0); no table, so neither seed nor pages matter."""
        return cls(params.ns_per_lookup, dim)

    def __init__(self, ns_per_lookup: int, dim: int, calibration: Calibration | None = None):
        if ns_per_lookup < 0 or dim < 1:
            raise ValueError(f"ns_per_lookup must be >= 0 and dim positive, got "
                             f"ns_per_lookup={ns_per_lookup}, dim={dim}")
        self.ns_per_lookup, self.dim = ns_per_lookup, dim
        if calibration is None and ns_per_lookup > 0:
            calibration = calibrate()
        self.calibration = calibration

    nbytes = 0          # owns no table
    alignment = None    # so there is no alignment to report

    def bytes_per_lookup(self) -> int:
        return 0

    def iterations_for(self, lookups: int) -> int:
        """Loop trips that take ``lookups * ns_per_lookup`` on the calibrated machine."""
        if self.ns_per_lookup == 0:
            return 0
        return round(lookups * self.ns_per_lookup / self.calibration.ns_per_iteration)

    def prepare(self, ids, offsets=None):
        """A batch becomes its loop count and its number of bags (for the output shape)."""
        ids = as_ids(ids)
        n_bags = ids.shape[0] if offsets is None else check_offsets(offsets, ids.shape[0]).shape[0]
        return self.iterations_for(ids.shape[0]), n_bags

    def run(self, prepared):
        """The timed operation: spin, and return nothing (there is nothing to look up)."""
        spin(prepared[0])

    def lookup(self, ids, offsets=None) -> np.ndarray:
        iterations, n_bags = self.prepare(ids, offsets)
        spin(iterations)
        return np.zeros((n_bags, self.dim), dtype=np.float32)

    def reference(self, ids, offsets=None) -> np.ndarray:
        _, n_bags = self.prepare(ids, offsets)
        return np.zeros((n_bags, self.dim), dtype=np.float32)

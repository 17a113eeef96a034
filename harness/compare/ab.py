"""A/B in one run: the same points measured by two versions of the code, interleaved.

Comparing two runs made at different times mixes the change with whatever the
machine did in between (other tenants, thermal state, a neighbour's backup).
Here each point is measured by A and B back to back, in alternating order (AB,
then BA, ...), so drift and the cost of running second fall on both alike; each
side's results are stored as an ordinary run directory, so ``harness compare``
and ``pyperf`` read them as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from harness.execute.plan import Plan, Point
from harness.store.results import ResultStore


class Launcher(Protocol):
    def run(self, point: Point, repeat: int) -> dict: ...


@dataclass
class Side:
    """One version under test: its name, how its worker is launched, where it stores."""

    name: str
    launcher: Launcher
    store: ResultStore


def side_order(repeat: int, index: int) -> tuple[int, int]:
    """Which side goes first for a point: alternate so neither is always second."""
    return (0, 1) if (repeat + index) % 2 == 0 else (1, 0)


def run_interleaved(plan: Plan, sides: tuple[Side, Side],
                    on_run: Callable[[Side, Point, int, dict], None] = lambda *a: None,
                    ) -> None:
    """Run every runnable point at both sides, repeat by repeat, side by side."""
    repeats = max((p.repeats for p in plan.runnable), default=0)
    for repeat in range(repeats):
        for index, point in enumerate(plan.runnable):
            if repeat >= point.repeats:
                continue
            for which in side_order(repeat, index):
                side = sides[which]
                if repeat in side.store.runs.get(point.point_id, {}):
                    continue
                outcome = side.launcher.run(point, repeat)
                side.store.record(point, repeat, outcome)
                side.store.write("running")
                on_run(side, point, repeat, outcome)

"""Which points share one worker: every batch size and pooling of one table.

A stand-in with the names the grouped execution provides (``group_key``,
``group_points``), so that the cost model can count workers as they will run; the
grouped execution's own module replaces it.
"""

from __future__ import annotations

import json

from harness.execute.plan import Point


def group_key(point: Point) -> tuple:
    """What a worker builds once: kernel and parameters, table, threads, CPUs, pages,
    layout and placement. Batch size and pooling vary inside a group."""
    return (point.kernel, json.dumps(point.params, sort_keys=True), point.table_rows,
            tuple(point.feature_rows or ()), point.dim, point.features, point.threads,
            tuple(point.cpus), point.pages, point.layout, point.placement)


def group_points(points: list[Point]) -> list[list[Point]]:
    """``points`` grouped by ``group_key``, groups and points in plan order."""
    groups: dict[tuple, list[Point]] = {}
    for point in points:
        groups.setdefault(group_key(point), []).append(point)
    return list(groups.values())

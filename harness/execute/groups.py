"""Which points share one worker process, and in what order that worker measures them.

A worker's fixed costs (process start, imports, building tables of up to many GB,
starting thread pools) do not depend on the batch size or pooling it is asked to
time. So points that differ only in those share one fresh worker per repeat: it
builds the tables once, then measures each point (its own indices, verification,
warm-ups and timed batches, and its own record). Everything else that shapes the
tables or the process (kernel and its parameters, table rows and geometry, threads,
CPUs, pages, layout, placement, distribution) stays in the key, so a worker never
mixes two configurations. Repeats stay separate processes.

A kernel whose tables do not depend on the vocabulary (it hashes ids into tables sized
by its own parameters: MEM-REC, ROBE-Z; its class says ``TABLES_IGNORE_ROWS``) builds
the same tables for every table size of the sweep: for it the vocabulary's size
(``table_rows`` and what follows from it) only shapes the index batches, like the batch
size, and its points of every table size share one worker. In the full skylake sweep
that turned 72 MEM-REC workers per kernel into 9, each of which had imported torch or
loaded numba's kernels and built the same tables.

A kernel whose class lists ``RUNTIME_PARAMS`` (the limits' gather probe: prefetch
distance, rows per pass, rows per output row) builds the same table whatever their
values: they leave the key, with the bytes per lookup that follow from them, and the
worker sets them per point (``KernelSpec.retune``). The quick limits run measures 12
such variants of each table, up to 2 GiB each.

The order inside a group is shuffled per repeat from the scenario's seed, so that
a point is not always measured right after the table build (or always last, after
the others heated the caches and the clocks); the same seed gives the same order.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Iterable, Sequence

# Point fields that vary inside one worker: they shape the index batches and the
# timing loop, not the tables or the process. Everything not listed is in the key.
PER_POINT_FIELDS = frozenset({
    "point_id", "label", "batch_size", "pooling", "distinct_batches", "memory_bytes",
    "status", "reason", "note",
})


# Point fields that follow from the vocabulary's size: per point too for a kernel whose
# tables ignore it (the key keeps kernel_bytes and the resolved params, which say what
# the worker builds).
VOCABULARY_FIELDS = frozenset({
    "table_size", "table_rows", "table_bytes", "llc_ratio", "feature_rows", "table_scale",
})


def _tables_ignore_rows(kernel: str) -> bool:
    from harness.scenario.kernelspec import KERNELS

    spec = KERNELS.get(kernel)
    return bool(spec is not None and getattr(spec.kernel_class, "TABLES_IGNORE_ROWS", False))


def _runtime_params(kernel: str) -> tuple[str, ...]:
    from harness.scenario.kernelspec import KERNELS

    spec = KERNELS.get(kernel)
    return spec.runtime_params if spec is not None else ()


def _fields(point) -> dict:
    return point.to_dict() if hasattr(point, "to_dict") else dict(point)


def group_key(point) -> str:
    """The fields that make points share a worker, as one canonical string.

    Accepts a ``Point`` or its dict (the worker's spec).
    """
    fields = _fields(point)
    per_point = PER_POINT_FIELDS | (VOCABULARY_FIELDS if _tables_ignore_rows(fields["kernel"])
                                    else frozenset())
    shared = {k: v for k, v in fields.items() if k not in per_point}
    runtime = _runtime_params(fields["kernel"])
    if runtime:
        shared["params"] = {k: v for k, v in (shared.get("params") or {}).items()
                            if k not in runtime}
        shared.pop("bytes_per_lookup", None)
    return json.dumps(shared, sort_keys=True, default=str)


def group_points(points: Iterable) -> list[list]:
    """Points grouped by ``group_key``: groups in the order of their first point,
    points within a group in plan order (stable)."""
    groups: dict[str, list] = {}
    for point in points:
        groups.setdefault(group_key(point), []).append(point)
    return list(groups.values())


def group_order(point_ids: Sequence[str], seed: int, repeat: int) -> list[int]:
    """Indices into ``point_ids`` in the order one repeat's worker measures them.

    A shuffle seeded by (scenario seed, repeat, the group's points): reproducible from
    the seed, different per repeat, and independent of which other groups exist.
    """
    digest = hashlib.sha256(json.dumps([seed, repeat, sorted(point_ids)]).encode()).digest()
    order = list(range(len(point_ids)))
    random.Random(int.from_bytes(digest[:8], "little")).shuffle(order)
    return order

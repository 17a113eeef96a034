"""A worker that measures a group of points on one set of tables (``harness.execute.groups``).

The spec holds ``points`` (plan order), ``results`` (one result path per point) and
``repeat``. The worker pins and builds the tables once (``worker.setup``), then
measures each point in the order ``group_order`` gives for this repeat, writing each
point's record to its own file as soon as it is finished: a crash or a kill mid-group
keeps the points already done, and the manager records the rest as failed with the
reason. A point that raises (e.g. fails verification) gets a failed record of its
own and the group goes on. What the worker returns is the group's own account: the
order it used and its shared phases (spawn, imports, table build, writing).
"""

from __future__ import annotations

import time
import traceback

from harness.execute.groups import group_order
from harness.execute.worker import _MAIN_STARTED, Phases, measure_point, setup
from harness.store.fileio import atomic_write_json


def measure_group(spec: dict, clock=time.perf_counter_ns) -> dict:
    points, repeat = spec["points"], spec["repeat"]
    shared = Phases()
    if spec.get("spawned_at"):
        shared.add("spawn", max(0.0, _MAIN_STARTED - spec["spawned_at"]) * 1e9)
    ctx = setup(points[0], spec, shared)
    order = group_order([p["point_id"] for p in points], points[0]["seed"], repeat)
    for position, index in enumerate(order):
        point = points[index]
        phases = Phases()
        try:
            record = measure_point(ctx, point, repeat, spec.get("counters"), phases, clock)
        except Exception as exc:  # this point fails; the others still run
            traceback.print_exc()
            record = {"status": "error", "point_id": point["point_id"], "repeat": repeat,
                      "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}
        record["phases_ns"] = dict(phases.ns)
        record["group"] = {"size": len(points), "position": position}
        with shared("writing"):
            atomic_write_json(spec["results"][index], record)
    return {"status": "ok", "group": True, "order": [points[i]["point_id"] for i in order],
            "phases_ns": dict(shared.ns), "build_ns": ctx["build_ns"],
            "build_gbytes_per_s": ctx["build_gbytes_per_s"]}

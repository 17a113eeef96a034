"""Result directories with made-up samples, written by the real ResultStore.

``write_result_dir`` plans a scenario on a fake machine and stores fixed per-batch
latencies for chosen points, so comparison can be tested on real files with no
measuring at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.execute.plan import make_plan
from harness.store.results import ResultStore
from harness.scenario.schema import load_scenario

SCENARIO = """\
name: synthetic
threads: [1]
tables: {sizes: ["1000 rows", "4000 rows"], dim: 16}
batch_sizes: [64]
kernels:
  - kernel: baseline
  - {kernel: memrec, token_rows: 100, k: 2, weight_rows: 50, k_weight: 1}
measure: {warmups: 1, batches: 40, repeats: 3}
"""


def runs_around(level_ns: float, runs: int = 3, batches: int = 40, seed: int = 0,
                spread: float = 0.02) -> list[list[int]]:
    """Per-run per-batch latencies near ``level_ns``: fixed, seeded, a few % of jitter."""
    rng = np.random.default_rng(seed)
    return [list((level_ns * (1 + spread * rng.standard_normal(batches))).clip(min=1)
                 .astype(int)) for _ in range(runs)]


def outcome(point, repeat: int, values_ns: list[int]) -> dict:
    return {"status": "ok", "point_id": point.point_id, "repeat": repeat, "pid": 1,
            "started": 1.7e9, "finished": 1.7e9 + 1, "values_ns": list(map(int, values_ns)),
            "warmups_ns": [int(values_ns[0])], "timer_overhead_ns": 30,
            "verified": {"bags": 4}, "affinity": {"after_pin": "0", "cpus_run_on": "0"},
            "effective_threads": 1, "table_alignment_bytes": 4096,
            "memory": {"anonhugepages_bytes": 0}, "versions": {"python": "3.11.7"}}


def write_result_dir(directory: Path, machine, levels: dict[str, float] | None = None,
                     failed: dict[str, str] | None = None, scenario_text: str = SCENARIO,
                     seed: int = 0, extra_columns: dict | None = None,
                     manifest_extra: dict | None = None,
                     spreads: dict[str, float] | None = None) -> list:
    """Store a complete run: ``levels`` maps a kernel name (or a point id) to its ns per
    batch (default 100 us baseline, 50 us memrec); ``spreads`` a kernel or point id to its
    jitter (default 2%); ``failed`` maps point ids to reasons.
    Returns the plan's points."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory.parent / f"{directory.name}.yaml"
    path.write_text(scenario_text)
    plan = make_plan(load_scenario(path), machine)
    levels = {"baseline": 100_000, "memrec": 50_000, "spin": 64_000} | (levels or {})
    manifest = {"kind": "run", "machine": machine.to_dict(),
                "scenario": {"name": plan.scenario}, "git": {"commit": "0" * 40, "dirty": False},
                "plan": [p.to_dict() for p in plan.points]} | (manifest_extra or {})
    store = ResultStore(directory, plan, manifest)
    for i, point in enumerate(plan.runnable):
        level = levels.get(point.point_id, levels[point.kernel])
        spread = (spreads or {}).get(point.point_id, (spreads or {}).get(point.kernel, 0.02))
        runs = runs_around(level, point.repeats, point.batches, seed=seed * 1000 + i,
                           spread=spread)
        for repeat, values in enumerate(runs):
            if point.point_id in (failed or {}):
                store.record(point, repeat, {"status": "failed",
                                             "reason": failed[point.point_id]})
            else:
                store.record(point, repeat, outcome(point, repeat, values))
    store.write("complete")
    if extra_columns:
        _add_columns(directory / "points.csv", extra_columns)
    return plan.points


def _add_columns(csv_path: Path, columns: dict) -> None:
    """Append columns to points.csv: name -> value for every row, or {point_id: value}."""
    import csv

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for name, value in columns.items():
            row[name] = value.get(row["point_id"], "") if isinstance(value, dict) else value
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

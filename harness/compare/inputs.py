"""A stored run, as comparison needs it: every point's identity, status and samples.

Reading and checking the files is ``harness.store.resultset``'s job (the one reader of
result directories: missing, truncated or foreign files are a UsageError, exit 2);
this module turns a checked directory into ``PointData``: the identity from
``Point.identity()`` of each plan entry, the status and row from points.csv, and
the per-batch latencies of each worker run from pyperf.json.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from harness.compare.verdict import PointData
from harness.errors import UsageError
from harness.machine.detect import Machine
from harness.execute.plan import Point
from harness.store.results import MANIFEST_FILE
from harness.store.resultset import load_pyperf, load_result


@dataclass
class ResultSet:
    directory: Path
    scenario: str
    machine: dict
    git: dict
    complete: bool
    points: list[PointData]
    notes: list[str] = field(default_factory=list)

    @property
    def machine_identity(self) -> dict:
        return machine_identity(self.machine, self.directory)

    def summary(self) -> dict:
        return {"directory": str(self.directory), "scenario": self.scenario,
                "hostname": self.machine.get("hostname"), "machine": self.machine_identity,
                "git": self.git, "complete": self.complete}


def machine_identity(machine: dict, where: Path) -> dict:
    try:
        return Machine.from_dict(machine).identity()
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise UsageError(f"{where / MANIFEST_FILE}: the machine record is not one this "
                         f"harness can read ({exc})") from None


def point_of(entry: dict, where: Path) -> Point:
    """A plan entry as a Point; keys this harness does not know are ignored."""
    known = {f.name for f in dataclasses.fields(Point)}
    try:
        return Point.from_dict({k: v for k, v in entry.items() if k in known})
    except (TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"{where / MANIFEST_FILE}: a plan entry is not a point this harness "
                         f"can read ({exc})") from None


def load_results(directory: str | Path) -> ResultSet:
    """Load one result directory for comparison; UsageError when it is unusable."""
    from harness.serve.results import is_serve_dir, load_serve_results

    if is_serve_dir(directory):  # `harness serve`: one entry per point and offered rate
        return load_serve_results(directory)
    stored = load_result(directory)
    directory = stored.dir
    plan = [point_of(entry, directory) for entry in stored.manifest["plan"]]
    suite = load_pyperf(stored)
    planned = {p.point_id for p in plan}
    samples = {}
    for bench in suite.get_benchmarks() if suite is not None else []:
        name = bench.get_name()
        if name not in planned:
            raise UsageError(f"{stored.pyperf_path}: benchmark {name!r} is not a point of "
                             f"{directory / MANIFEST_FILE}; these files are not from one "
                             f"harness run")
        samples[name] = [[v * 1e9 for v in run.values] for run in bench.get_runs() if run.values]

    rows = {r["point_id"]: r for r in stored.rows}
    statuses = {p.get("point_id"): p for p in stored.manifest.get("point_status", [])}
    points = []
    for point in plan:
        row = rows.get(point.point_id, {})
        fallback = statuses.get(point.point_id, {})
        status = row.get("status") or fallback.get("status") or "pending"
        reason = row.get("reason") or fallback.get("reason", "")
        runs = samples.get(point.point_id, [])
        if status == "ok" and not runs:
            status, reason = "failed", "no samples in pyperf.json"
        points.append(PointData(point.point_id, point.label, point.identity(), status, reason,
                                runs, point.lookups_per_batch, row))
    notes = [] if stored.complete else [
        f"{directory}: the run did not finish (state {stored.manifest.get('state')!r}); "
        f"its unfinished points are incomparable"]
    return ResultSet(directory, stored.manifest["scenario"].get("name", "?"),
                     stored.manifest["machine"], stored.manifest.get("git", {}),
                     stored.complete, points, notes)

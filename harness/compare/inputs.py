"""A stored run, as comparison needs it: every point's identity, status and samples.

Reading and checking the files is ``harness.store.reader``'s job (the one reader of
result directories: missing, truncated, foreign or disagreeing files are a UsageError,
exit 2); this module turns a checked directory into ``PointData``: the identity from
``Point.identity()`` of each plan entry, the status and row from points.csv, and
the per-batch latencies of each worker run from pyperf.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.compare.verdict import PointData
from harness.machine.detect import Machine
from harness.store.reader import read_result


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
        # The reader checked the machine record: it is one Machine reads.
        return Machine.from_dict(self.machine).identity()

    def summary(self) -> dict:
        return {"directory": str(self.directory), "scenario": self.scenario,
                "hostname": self.machine.get("hostname"), "machine": self.machine_identity,
                "git": self.git, "complete": self.complete}


def load_results(directory: str | Path) -> ResultSet:
    """Load one result directory for comparison; UsageError when it is unusable."""
    from harness.store.serving import is_serve_dir, load_serve_results

    if is_serve_dir(directory):  # `harness serve`: one entry per point and offered rate
        return load_serve_results(directory)
    stored = read_result(directory)
    directory = stored.dir
    plan = stored.points
    samples = stored.samples_ns  # checked against points.csv: disagreement is exit 2
    rows = {r["point_id"]: r for r in stored.rows}  # one per plan point: the reader checked
    points = []
    for point in plan:
        row = rows[point.point_id]
        points.append(PointData(point.point_id, point.label, point.identity(), row["status"],
                                row["reason"], samples.get(point.point_id, []),
                                point.lookups_per_batch, row))
    notes = [] if stored.complete else [
        f"{directory}: the run did not finish (state {stored.manifest.get('state')!r}); "
        f"its unfinished points are incomparable"]
    return ResultSet(directory, stored.manifest["scenario"].get("name", "?"),
                     stored.manifest["machine"], stored.manifest.get("git", {}),
                     stored.complete, points, notes)

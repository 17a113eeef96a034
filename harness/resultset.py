"""Read a finished (or interrupted) run's directory back for comparison.

A result directory is what ``harness run`` writes: ``manifest.json`` (machine, plan
with every point's identity), ``pyperf.json`` (per-batch samples, one pyperf run
per worker process) and ``points.csv`` (one row per point, with its status and
derived columns). Anything missing, unreadable or not from one harness run is
a ``UsageError`` naming the file and what is wrong: exit status 2, never a traceback.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness import RESULT_FORMAT_VERSION
from harness.compare import PointData
from harness.errors import UsageError
from harness.machine import Machine
from harness.plan import Point
from harness.results import MANIFEST_FILE, POINTS_FILE, PYPERF_FILE


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
    except (TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"{where / MANIFEST_FILE}: the machine record is not one this "
                         f"harness can read ({exc})") from None


def point_identity(entry: dict, where: Path) -> tuple[dict, Point]:
    """A plan entry's identity via ``Point.identity()``; unknown extra keys are ignored."""
    known = {f.name for f in dataclasses.fields(Point)}
    try:
        point = Point.from_dict({k: v for k, v in entry.items() if k in known})
        return point.identity(), point
    except (TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"{where / MANIFEST_FILE}: a plan entry is not a point this harness "
                         f"can read ({exc})") from None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: missing (is {path.parent} a harness result directory?)") \
            from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return data


def _read_samples(path: Path, planned: set[str]) -> dict[str, list[list[float]]]:
    """Per point id, per worker run, the per-batch latencies in ns from pyperf.json."""
    import pyperf

    data = _read_json(path)
    if data.get("benchmarks") == []:
        return {}  # what the harness writes when no point has a finished run
    try:
        suite = pyperf.BenchmarkSuite.load(str(path))
    except Exception as exc:  # pyperf raises many kinds on foreign input; all mean "unusable"
        raise UsageError(f"{path}: not a pyperf file pyperf can read ({exc})") from None
    out = {}
    for bench in suite.get_benchmarks():
        name = bench.get_name()
        if name not in planned:
            raise UsageError(f"{path}: benchmark {name!r} is not a point of "
                             f"{path.parent / MANIFEST_FILE}; these files are not from one "
                             f"harness run")
        out[name] = [[v * 1e9 for v in run.values] for run in bench.get_runs() if run.values]
    return out


def _read_rows(path: Path) -> dict[str, dict]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise UsageError(f"{path}: missing (is {path.parent} a harness result directory?)") \
            from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: unreadable: {exc}") from None
    if rows and "point_id" not in rows[0]:
        raise UsageError(f"{path}: no point_id column; not a harness points.csv")
    return {r["point_id"]: r for r in rows}


def load_results(directory: str | Path) -> ResultSet:
    """Load one result directory; raise UsageError naming what makes it unusable."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such result directory")
    manifest = _read_json(directory / MANIFEST_FILE)
    version = manifest.get("format_version")
    if version != RESULT_FORMAT_VERSION:
        raise UsageError(f"{directory / MANIFEST_FILE}: result format version {version!r}; "
                         f"this harness reads version {RESULT_FORMAT_VERSION}")
    plan, machine = manifest.get("plan"), manifest.get("machine")
    if not isinstance(plan, list) or not isinstance(machine, dict):
        raise UsageError(f"{directory / MANIFEST_FILE}: no plan or machine record; not a "
                         f"harness run's manifest")
    statuses = {p.get("point_id"): p for p in manifest.get("point_status", [])}
    rows = _read_rows(directory / POINTS_FILE)
    entries = [point_identity(entry, directory) for entry in plan]
    samples = _read_samples(directory / PYPERF_FILE, {p.point_id for _, p in entries})

    points = []
    for identity, point in entries:
        row = rows.get(point.point_id, {})
        status = row.get("status") or statuses.get(point.point_id, {}).get("status") or "pending"
        reason = row.get("reason") or statuses.get(point.point_id, {}).get("reason", "")
        runs = samples.get(point.point_id, [])
        if status == "ok" and not runs:
            status, reason = "failed", "no samples in pyperf.json"
        points.append(PointData(point.point_id, point.label, identity, status, reason, runs,
                                point.lookups_per_batch, row))
    notes = [] if manifest.get("complete") else [
        f"{directory}: the run did not finish (state {manifest.get('state')!r}); "
        f"its unfinished points are incomparable"]
    return ResultSet(directory, manifest.get("scenario", {}).get("name", "?"), machine,
                     manifest.get("git", {}), bool(manifest.get("complete")), points, notes)

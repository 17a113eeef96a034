"""The one reader of result directories: resume, merge, compare, report and limits read
through here, and nothing else parses manifest.json, points.csv or pyperf.json.

Every file is checked as it is read: a file that is missing, truncated, not JSON/CSV,
not the harness's own, of a newer format, or disagreeing with the others is a
UsageError (exit 2) naming the file and what is wrong, never a traceback. Older
formats are upgraded in memory (``harness.store.versions``). pyperf.json is read
with pyperf itself.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from harness.errors import UsageError
from harness.execute.plan import Plan, Point
from harness.machine.detect import Machine
from harness.store.models import (
    LIMITS_FILE, MANIFEST_FILE, NUMERIC_COLUMNS, POINTS_FILE, PYPERF_FILE, RAW_DIR,
    REQUIRED_COLUMNS, STATUSES, LimitsResult, Manifest, RunRecord, problem_of)
from harness.store.versions import upgraded

_POINT_FIELDS = {f.name for f in dataclasses.fields(Point)}
_REQUIRED_POINT_FIELDS = [f.name for f in dataclasses.fields(Point)
                          if f.default is dataclasses.MISSING
                          and f.default_factory is dataclasses.MISSING]


def read_json(path: Path) -> object:
    """A JSON file, or UsageError naming the file and what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: missing (a result directory holds {MANIFEST_FILE}, "
                         f"{POINTS_FILE} and {PYPERF_FILE}, as `harness run` writes them)") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    if not text.strip():
        raise UsageError(f"{path}: empty file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON (truncated?): {exc.msg} at line "
                         f"{exc.lineno}") from None


# -- manifest.json --------------------------------------------------------------------
def read_manifest(directory: str | Path) -> dict:
    """The manifest of ``directory``, upgraded to this format and checked: its shape,
    its machine record, every plan entry (each must be a point this harness reads) and
    the stored plan's metadata where there is one.
    Returned as the dict it is stored as, so keys of later stages survive a rewrite."""
    path = Path(directory) / MANIFEST_FILE
    data = read_json(path)
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a harness manifest (expected a JSON object)")
    data = upgraded("manifest", data, path)
    try:
        Manifest.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{path}: not a harness manifest ({problem_of(exc)}: edited, or "
                         f"written by another program?)") from None
    machine_of(data, path)
    for i, entry in enumerate(data["plan"]):
        missing = [k for k in _REQUIRED_POINT_FIELDS if k not in entry]
        if missing:
            raise UsageError(f"{path}: plan[{i}] ({entry.get('point_id', '?')}) lacks "
                             f"{', '.join(missing)}: not a point this harness reads")
    if data.get("plan_meta") is not None:
        stored_plan(data, directory)  # what resume and merge rebuild must be readable
    return data


def machine_of(manifest: dict, path: Path) -> Machine:
    """The manifest's machine record as a Machine; UsageError when it is not one."""
    try:
        return Machine.from_dict(manifest["machine"])
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise UsageError(f"{path}: machine: not a machine record this harness reads "
                         f"({exc})") from None


def points_of(manifest: dict) -> list[Point]:
    """The plan entries of a checked manifest as Points; keys this harness no longer
    knows are dropped (a read never fails for a key a later version removed)."""
    return [Point.from_dict({k: v for k, v in e.items() if k in _POINT_FIELDS})
            for e in manifest["plan"]]


def stored_plan(manifest: dict, directory: str | Path) -> Plan:
    """The Plan a checked manifest was run with (resume, merge), or UsageError."""
    path = Path(directory) / MANIFEST_FILE
    meta = manifest.get("plan_meta")
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: has no plan_meta (no stored plan to resume or merge)")
    try:
        return Plan.from_stored(meta, [p.to_dict() for p in points_of(manifest)])
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise UsageError(f"{path}: plan_meta is not one this harness reads ({exc!r})") \
            from None


# -- points.csv -----------------------------------------------------------------------
def read_points(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """points.csv's header and rows (cells as stored text), checked: the columns every
    points.csv has, one field per column, known statuses, numbers where numbers
    belong, params a JSON object. Columns added after a file was written are absent."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    lines = text.splitlines()
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise UsageError(f"{path}: empty file (no header)") from None
    except csv.Error as exc:
        raise UsageError(f"{path} line 1: not CSV: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        what = ("not a harness points.csv" if len(missing) > len(REQUIRED_COLUMNS) // 2
                else "lacks columns")
        raise UsageError(f"{path}: {what}: missing columns {', '.join(missing)}")
    rows = []
    try:
        for values in reader:
            if not values:
                continue
            if len(values) != len(header):
                raise UsageError(f"{path} line {reader.line_num}: {len(values)} fields where "
                                 f"the header has {len(header)} (truncated file?)")
            rows.append(_checked_row(dict(zip(header, values)), path, reader.line_num))
    except csv.Error as exc:
        hint = " (truncated file?)" if reader.line_num >= len(lines) else ""
        raise UsageError(f"{path} line {reader.line_num}: not CSV: {exc}{hint}") from None
    return header, rows


def _checked_row(row: dict[str, str], path: Path, line: int) -> dict[str, str]:
    for column in NUMERIC_COLUMNS:
        cell = row.get(column, "")
        if cell:
            try:
                float(cell)
            except ValueError:
                raise UsageError(f"{path} line {line}: column {column}: {cell!r} is not a "
                                 f"number") from None
    if row["status"] not in STATUSES:
        raise UsageError(f"{path} line {line}: status {row['status']!r} is not one of "
                         f"{', '.join(STATUSES)}")
    try:
        params = json.loads(row["params"]) if row["params"] else {}
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} line {line}: params is not JSON: {exc.msg}") from None
    if not isinstance(params, dict):
        raise UsageError(f"{path} line {line}: params is not a JSON object")
    return row


# -- pyperf.json ----------------------------------------------------------------------
def read_suite(path: Path):
    """pyperf.json as a pyperf BenchmarkSuite (pyperf reads it), None when it holds no
    benchmark (pyperf cannot represent an empty suite; the harness writes one as
    ``{"benchmarks": []}`` until a point has finished)."""
    import pyperf

    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise UsageError(f"{path}: not a pyperf file (no 'benchmarks' list)")
    if not data["benchmarks"]:
        return None
    try:
        return pyperf.BenchmarkSuite.load(str(path))
    except Exception as exc:  # pyperf raises assorted errors on foreign JSON
        raise UsageError(f"{path}: pyperf cannot read it: {exc!r}") from None


# -- a whole directory ----------------------------------------------------------------
@dataclass
class StoredResult:
    """A checked result directory: its manifest, its points.csv (rows as text) and,
    on demand, its per-batch samples from pyperf.json, checked against points.csv."""

    dir: Path
    manifest: dict
    columns: list[str]
    rows: list[dict[str, str]]

    @property
    def pyperf_path(self) -> Path:
        return self.dir / PYPERF_FILE

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete"))

    @cached_property
    def points(self) -> list[Point]:
        return points_of(self.manifest)

    @cached_property
    def samples_ns(self) -> dict[str, list[list[float]]]:
        """Per point id, each worker run's per-batch latencies in ns (runs with values).

        UsageError when pyperf.json and points.csv disagree: a benchmark that is no
        point of this run, or a point whose number of runs is not the one points.csv
        states (an ok point with no samples among them): damaged or mixed files are
        unusable input, never a result.
        """
        suite = read_suite(self.pyperf_path)
        planned = {p.point_id for p in self.points}
        samples: dict[str, list[list[float]]] = {}
        for bench in suite.get_benchmarks() if suite is not None else []:
            name = bench.get_name()
            if name not in planned:
                raise UsageError(f"{self.pyperf_path}: benchmark {name!r} is not a point of "
                                 f"{self.dir / MANIFEST_FILE}; these files are not from one "
                                 f"harness run")
            samples[name] = [[v * 1e9 for v in run.values] for run in bench.get_runs()
                             if run.values]
        for row in self.rows:
            have = len(samples.get(row["point_id"], []))
            stated = row.get("runs", "")
            expected = int(float(stated)) if stated else None
            if (expected is not None and have != expected) or \
                    (row["status"] == "ok" and have == 0):
                says = f"{expected} runs" if expected is not None else "ok"
                raise UsageError(
                    f"{self.pyperf_path}: {have} runs of {row['point_id']} where "
                    f"{POINTS_FILE} says {says} (status {row['status']}): the files disagree "
                    f"(damaged, or from different runs); `run --resume` rewrites them")
        return samples


def read_result(directory: str | Path) -> StoredResult:
    """Read and check a result directory (manifest.json and points.csv; pyperf.json
    when its samples are asked for)."""
    directory = Path(directory)
    if not directory.exists():
        raise UsageError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory (give the result directory that "
                         f"holds {MANIFEST_FILE})")
    manifest = read_manifest(directory)
    columns, rows = read_points(directory / POINTS_FILE)
    planned = [e["point_id"] for e in manifest["plan"]]
    listed = [r["point_id"] for r in rows]
    if sorted(planned) != sorted(listed):
        odd = sorted(set(planned) ^ set(listed)) or \
            sorted({p for p in listed if listed.count(p) > 1})
        raise UsageError(f"{directory / POINTS_FILE}: its points are not the plan of "
                         f"{MANIFEST_FILE} (e.g. {odd[0]}): the files disagree (damaged, or "
                         f"from different runs)")
    return StoredResult(directory, manifest, columns, rows)


# -- raw run records and limits.json --------------------------------------------------
def read_run_records(directory: str | Path, wanted: set[str]) -> dict[str, dict[int, dict]]:
    """The raw run records under ``directory``/raw of the points in ``wanted``, by
    point id and repeat; UsageError naming a record that is unreadable or foreign."""
    raw = Path(directory) / RAW_DIR
    runs: dict[str, dict[int, dict]] = {}
    for path in sorted(raw.glob("*/r*.json")):
        point_id, stem = path.parent.name, path.stem
        if point_id not in wanted or not stem[1:].isdigit():
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: unreadable run record ({exc}); move it aside to "
                             f"run that repeat again") from None
        if not isinstance(record, dict):
            raise UsageError(f"{path}: not a run record this harness wrote (not an object); "
                             f"move it aside to run that repeat again")
        record = upgraded("run record", record, path)
        try:
            RunRecord.model_validate(record)
        except ValidationError as exc:
            raise UsageError(f"{path}: not a run record this harness wrote "
                             f"({problem_of(exc)}); move it aside to run that repeat again") \
                from None
        runs.setdefault(point_id, {})[int(stem[1:])] = record
    return runs


def read_limits(directory: str | Path) -> dict:
    """limits.json of a `harness limits` result, upgraded and checked."""
    path = Path(directory) / LIMITS_FILE
    data = read_json(path)
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a limits result (expected a JSON object)")
    data = upgraded("limits", data, path)
    try:
        LimitsResult.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{path}: not a limits result ({problem_of(exc)})") from None
    return data

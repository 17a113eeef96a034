"""Read stored result directories for the report: manifest.json, points.csv, pyperf.json.

Reports never rerun anything: every figure is drawn from what ``harness run`` stored.
Each directory is checked before anything is drawn, and a file that is missing,
truncated, malformed or not the harness's own is a ``UsageError`` naming the file
and what is wrong (exit status 2), never a traceback.

Several directories may come from different machines (figures overlay them, one
style per machine) or from the same machine (their points are pooled; where the
same point was measured twice, the later run's figures are used and the title
page says so).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import UsageError
from harness.report.series import series_labels
from harness.store.results import MANIFEST_FILE, POINTS_FILE, PYPERF_FILE
from harness.store.resultset import load_manifest_checked, read_json
from harness.scenario.sizes import format_bytes

# Columns a figure cannot do without; later columns (counters, peers) are optional.
REQUIRED_COLUMNS = (
    "point_id", "kernel", "label", "params", "table_size", "table_rows", "table_bytes",
    "llc_ratio", "kernel_bytes", "bytes_per_lookup", "dim", "batch_size", "pooling",
    "features", "threads", "status", "reason", "latency_p50_ns", "latency_p25_ns",
    "latency_p75_ns", "ns_per_lookup", "lookups_per_s",
)
NUMERIC_COLUMNS = (
    "table_rows", "table_bytes", "llc_ratio", "kernel_bytes", "compression",
    "bytes_per_lookup", "dim", "batch_size", "pooling", "features", "threads", "runs",
    "latency_p50_ns", "latency_p25_ns", "latency_p75_ns", "latency_p99_ns",
    "latency_mean_ns", "latency_stdev_ns", "latency_min_ns", "samples", "ns_per_lookup",
    "lookups_per_s", "gbytes_per_s", "effective_threads",
    "llc_misses_per_lookup", "dram_bytes_per_lookup",
)
STATUSES = ("ok", "failed", "skipped", "pending")


@dataclass
class MachineInfo:
    """One machine the results came from; ``index`` picks its line style."""

    key: str
    index: int
    hostname: str
    model_name: str
    llc_bytes: int
    line_bytes: int | None
    machine: dict

    @property
    def label(self) -> str:
        """The legend's name for this machine: host, CPU and LLC."""
        return f"{self.hostname}: {self.model_name}, LLC {format_bytes(self.llc_bytes)}"


@dataclass
class Source:
    """One result directory as stored."""

    path: Path
    manifest: dict
    points: pd.DataFrame
    values_s: dict[str, np.ndarray]   # point_id -> per-batch seconds (pyperf.json)
    machine_key: str
    superseded: list[str] = field(default_factory=list)


@dataclass
class Results:
    """All result directories of one report, with every point tagged by its machine."""

    sources: list[Source]
    machines: dict[str, MachineInfo]
    # All points: the columns of points.csv, with ``label`` the series name (the kernel
    # entry as the scenario wrote it; the stored label is ``point_label``), plus
    # machine, source, params_obj (params parsed) and params_written (as the scenario
    # wrote them, e.g. token_rows "0.125x LLC").
    points: pd.DataFrame
    # Per machine key: a `harness limits` analysis (limits.json) given among the
    # directories, or the one a run sized its tables by; its points are not kernels.
    limits: dict[str, dict] = field(default_factory=dict)

    @property
    def ok(self) -> pd.DataFrame:
        return self.points[self.points["status"] == "ok"]

    def values_ns(self, machine: str, point_id: str) -> np.ndarray:
        """Per-batch latencies (ns) of one point, from pyperf.json; empty if none stored."""
        for src in reversed(self.sources):
            if src.machine_key == machine and point_id in src.values_s:
                return src.values_s[point_id] * 1e9
        return np.empty(0)

    def sources_of(self, machine: str) -> list[Source]:
        return [s for s in self.sources if s.machine_key == machine]


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise UsageError(f"{path}: missing (a result directory holds {MANIFEST_FILE}, "
                         f"{POINTS_FILE} and {PYPERF_FILE}, as `harness run` writes them)")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read: {exc}") from None


def load_manifest(path: Path) -> dict:
    """Read and check one manifest.json: the harness's own, in a format this reader knows
    (harness.store.resultset checks and upgrades the format), with what figures need."""
    data = load_manifest_checked(path.parent)
    if data.get("kind", "run") not in ("run", "limits"):
        raise UsageError(f"{path}: kind {data.get('kind')!r} is not a run's results")
    machine = data["machine"]
    problems = [k for k in ("hostname", "model_name", "llc_bytes")
                if not isinstance(machine, dict) or machine.get(k) in (None, "")]
    if problems:
        raise UsageError(f"{path}: machine lacks {', '.join(problems)}")
    return data


def _number(text: str, path: Path, line: int, column: str) -> float:
    if text == "" or text is None:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{path} line {line}: column {column}: {text!r} is not a number") \
            from None


def load_points(path: Path) -> pd.DataFrame:
    """Read and check points.csv; numbers become floats (empty cells NaN), params a dict."""
    text = _read_text(path)
    lines = text.splitlines()
    reader = csv.reader(lines)
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
        raise UsageError(f"{path}: {what}: missing {', '.join(missing)}")
    records = []
    try:
        for values in reader:
            line = reader.line_num
            if not values:
                continue
            if len(values) != len(header):
                raise UsageError(f"{path} line {line}: {len(values)} fields where the header "
                                 f"has {len(header)} (truncated file?)")
            records.append((line, dict(zip(header, values))))
    except csv.Error as exc:
        hint = " (truncated file?)" if reader.line_num >= len(lines) else ""
        raise UsageError(f"{path} line {reader.line_num}: not CSV: {exc}{hint}") from None
    rows = []
    for line, rec in records:
        for column in NUMERIC_COLUMNS:
            if column in rec:
                rec[column] = _number(rec[column], path, line, column)
        if rec["status"] not in STATUSES:
            raise UsageError(f"{path} line {line}: status {rec['status']!r} is not one of "
                             f"{', '.join(STATUSES)}")
        try:
            params = json.loads(rec["params"]) if rec["params"] else {}
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path} line {line}: params is not JSON: {exc.msg}") from None
        if not isinstance(params, dict):
            raise UsageError(f"{path} line {line}: params is not a JSON object")
        rec["params_obj"] = params
        rows.append(rec)
    frame = pd.DataFrame(rows, columns=[*header, "params_obj"])
    for column in NUMERIC_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype(float)
    return frame


def load_pyperf_values(path: Path) -> dict[str, np.ndarray]:
    """Per-batch values (seconds) of every benchmark in pyperf.json, by point id."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise UsageError(f"{path}: not a pyperf benchmark suite (no benchmarks list)")
    out: dict[str, np.ndarray] = {}
    common = data.get("metadata", {}) if isinstance(data.get("metadata"), dict) else {}
    for i, bench in enumerate(data["benchmarks"]):
        try:
            meta = {**common, **bench.get("metadata", {})}
            values = []
            for run in bench["runs"]:
                name = run.get("metadata", {}).get("name", meta.get("name"))
                values.extend(float(v) for v in run.get("values", []))
            if name is None:
                raise KeyError("name")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{path}: benchmark {i} is malformed ({exc!r})") from None
        out[name] = np.asarray(values, dtype=float)
    return out


def machine_key(machine: dict) -> str:
    return f"{machine['hostname']}|{machine['model_name']}|{machine['llc_bytes']}"


def load_source(directory: Path) -> Source:
    """One result directory, checked."""
    directory = Path(directory)
    if not directory.exists():
        raise UsageError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory (give the result directory that "
                         f"holds {MANIFEST_FILE})")
    manifest = load_manifest(directory / MANIFEST_FILE)
    points = load_points(directory / POINTS_FILE)
    values = load_pyperf_values(directory / PYPERF_FILE)
    return Source(directory, manifest, points, values, machine_key(manifest["machine"]))


def _limits_of(src: Source) -> dict:
    """The limits analysis of a `harness limits` directory (stored, else computed)."""
    from harness.limits.analysis import analyse

    path = src.path / "limits.json"
    if path.is_file():
        data = read_json(path)
        if isinstance(data, dict) and "gather" in data:
            return data
    rows = src.points.astype(object).where(src.points.notna(), "").astype(str) \
        .to_dict("records")
    return analyse(rows, src.manifest["machine"])


def _referenced_limits(sources: list[Source], given: dict[str, dict]) -> dict[str, dict]:
    """Limits results the runs sized their tables by, when stored and not given."""
    found = {}
    for src in sources:
        ref = (src.manifest.get("effective") or {}).get("effective_llc_source")
        if ref and src.machine_key not in given and src.machine_key not in found \
                and (Path(ref) / MANIFEST_FILE).is_file():
            try:
                found[src.machine_key] = _limits_of(load_source(Path(ref)))
            except UsageError:
                continue  # a reference gone stale is not the report's failure
    return found


def load_results(directories: list[Path]) -> Results:
    """Load, check and pool result directories; exit 2 if there is nothing to draw.

    Directories written by `harness limits` give their machine's limits (for the
    figure that places kernels against them) rather than points to draw.
    """
    if not directories:
        raise UsageError("no result directories given")
    seen: set[Path] = set()
    sources, limits = [], {}
    for d in directories:
        resolved = Path(d).resolve()
        if resolved in seen:
            raise UsageError(f"{d}: given twice")
        seen.add(resolved)
        src = load_source(Path(d))
        if src.manifest.get("kind") == "limits":
            limits[src.machine_key] = _limits_of(src)
        else:
            sources.append(src)
    if not sources:
        raise UsageError(f"{', '.join(map(str, directories))}: only `harness limits` results "
                         f"given; add the result directory of a run to report on")
    limits.update(_referenced_limits(sources, limits))
    # Oldest first, so a later run's point replaces an earlier one of the same machine.
    sources.sort(key=lambda s: str(s.manifest.get("started") or s.manifest.get("created", "")))

    machines: dict[str, MachineInfo] = {}
    frames = []
    for src in sources:
        m = src.manifest["machine"]
        if src.machine_key not in machines:
            machines[src.machine_key] = MachineInfo(
                src.machine_key, len(machines), m["hostname"], m["model_name"],
                int(m["llc_bytes"]), m.get("line_bytes"), m)
        frame = src.points.copy()
        # One configuration, one series on every machine: see harness.report.series.
        frame["point_label"] = frame["label"]
        frame["label"], frame["params_written"] = series_labels(src.manifest, frame,
                                                                int(m["llc_bytes"]))
        frame["machine"] = src.machine_key
        frame["source"] = str(src.path)
        frames.append(frame)
    # A measure another result directory recorded but this one did not (an older
    # harness): say so per point rather than leave an unexplained gap.
    sourced = {c for f in frames for c in f.columns if c.endswith("_source")}
    for frame in frames:
        for column in sourced - set(frame.columns):
            frame[column] = "not-recorded"
    points = pd.concat(frames, ignore_index=True)
    for column in sourced:
        points[column] = points[column].fillna("")
    dup = points.duplicated(["machine", "point_id"], keep="last")
    for src in sources:
        src.superseded = sorted(points.loc[dup & (points["source"] == str(src.path)),
                                           "point_id"])
    points = points[~dup].reset_index(drop=True)
    if not (points["status"] == "ok").any():
        counts = points["status"].value_counts().to_dict()
        what = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no points at all"
        raise UsageError(f"{', '.join(map(str, directories))}: no measured (ok) points to "
                         f"draw ({what}); see the reason column of {POINTS_FILE}")
    return Results(sources, machines, points, {k: v for k, v in limits.items() if k in machines})

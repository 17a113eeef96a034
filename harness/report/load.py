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

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import UsageError
from harness.report.series import series_labels
from harness.scenario.sizes import format_bytes
from harness.store.models import LIMITS_FILE, MANIFEST_FILE, NUMERIC_COLUMNS, POINTS_FILE
from harness.store.reader import StoredResult, read_limits, read_result


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


def _checked_manifest(stored: StoredResult) -> dict:
    """The manifest (checked and upgraded by harness.store.reader), with what figures
    need: a run's or a limits result, and a machine that names itself."""
    path, data = stored.dir / MANIFEST_FILE, stored.manifest
    if data.get("kind", "run") not in ("run", "limits"):
        raise UsageError(f"{path}: kind {data.get('kind')!r} is not a run's results")
    machine = data["machine"]
    problems = [k for k in ("hostname", "model_name", "llc_bytes")
                if machine.get(k) in (None, "")]
    if problems:
        raise UsageError(f"{path}: machine lacks {', '.join(problems)}")
    return data


def _frame(stored: StoredResult) -> pd.DataFrame:
    """points.csv as a frame: numbers as floats (empty cells NaN), params as a dict."""
    rows = [dict(r) for r in stored.rows]
    for rec in rows:
        rec["params_obj"] = json.loads(rec["params"]) if rec["params"] else {}
    frame = pd.DataFrame(rows, columns=[*stored.columns, "params_obj"])
    for column in NUMERIC_COLUMNS:
        if column in frame:
            frame[column] = [float(c) if c else np.nan for c in frame[column]]
    return frame


def machine_key(machine: dict) -> str:
    return f"{machine['hostname']}|{machine['model_name']}|{machine['llc_bytes']}"


def load_source(directory: Path) -> Source:
    """One result directory, read and checked by the store's reader."""
    stored = read_result(directory)
    manifest = _checked_manifest(stored)
    values = {pid: np.asarray([v for run in runs for v in run], dtype=float) / 1e9
              for pid, runs in stored.samples_ns.items()}
    return Source(stored.dir, manifest, _frame(stored), values,
                  machine_key(manifest["machine"]))


def _limits_of(src: Source) -> dict:
    """The limits analysis of a `harness limits` directory (stored, else computed)."""
    from harness.limits.analysis import analyse

    if (src.path / LIMITS_FILE).is_file():
        return read_limits(src.path)
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
    for column in ("quality", "quality_reason"):  # empty: not assessed (older results)
        points[column] = points[column].fillna("") if column in points else ""
    dup = points.duplicated(["machine", "point_id"], keep="last")
    for src in sources:
        src.superseded = sorted(points.loc[dup & (points["source"] == str(src.path)),
                                           "point_id"])
    points = points[~dup].reset_index(drop=True)
    points = mark_partial(points)
    if not (points["status"] == "ok").any():
        counts = points["status"].value_counts().to_dict()
        what = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no points at all"
        raise UsageError(f"{', '.join(map(str, directories))}: no measured (ok) points to "
                         f"draw ({what}); see the reason column of {POINTS_FILE}")
    return Results(sources, machines, points, {k: v for k, v in limits.items() if k in machines})


def mark_partial(points: pd.DataFrame) -> pd.DataFrame:
    """Draw points of a run stopped early that have at least one finished run: their
    status becomes ``ok`` with ``partial`` true and the reason saying how many runs they
    have (``runs`` of ``runs_planned``); the title page counts them apart."""
    runs = pd.to_numeric(points["runs"], errors="coerce").fillna(0) if "runs" in points \
        else pd.Series(0, index=points.index)
    partial = (points["status"] == "pending") & (runs >= 1)
    points = points.copy()
    points["partial"] = partial
    points.loc[partial, "reason"] = "partial: " + points.loc[partial, "reason"].astype(str)
    points.loc[partial, "status"] = "ok"
    return points

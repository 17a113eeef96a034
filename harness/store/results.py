"""The one writer of result directories: raw run records, then pyperf.json, points.csv
and manifest.json; limits.json.

Each finished worker run is written at once to ``raw/<point_id>/r<repeat>.json``
(atomically), so nothing finished is lost whatever happens next. The three summary
files are derived from those records, so they are rewritten only at checkpoints: the
first write, then at most every ``CHECKPOINT_S`` seconds while running, and always at
the end (complete or interrupted). A crash between checkpoints loses nothing:
``run --resume`` reads the raw records.

- ``pyperf.json``: a pyperf BenchmarkSuite, one benchmark per point, one run per
  worker process, values in seconds per batch (pyperf's unit).
- ``points.csv``: one row per point (ok, failed or skipped) with derived figures;
  its columns are ``harness.store.models.POINT_COLUMNS``.
- ``manifest.json``: format version, the scenario as written and as validated,
  machine, versions, git commit, times, and every point's status
  (built by ``harness.store.manifest``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from harness import RESULT_FORMAT_VERSION
from harness.counters.summary import counter_metadata, point_counter_columns
from harness.limits.ceiling import ceiling_columns
from harness.machine.cpulist import format_cpulist
from harness.errors import UsageError
from harness.store.resultdir import claim_result_dir
from harness.store.fileio import atomic_write_json, atomic_write_text
from harness.execute.plan import Plan, Point
from harness.store.latency import point_figures
from harness.store.quality import QUALITIES, point_quality, quality_columns
from harness.store.manifest import utc_now
from harness.store.models import (  # noqa: F401  (the file names, for callers)
    LIMITS_FILE, MANIFEST_FILE, POINT_COLUMNS, POINTS_FILE, PYPERF_FILE, RAW_DIR,
    LimitsResult)
from harness.store.reader import read_limits, read_run_records

# The summary files are rewritten at most this often while a run goes on: often enough
# that a look at a long run is recent, rarely enough that a sweep of small points does
# not spend its time rewriting a large manifest.
CHECKPOINT_S = 30
# raw/<point>/set-aside/: attempts a rerun replaced (harness.execute.reruns)
SET_ASIDE_DIR = "set-aside"


def _fmt(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if value is None:
        return ""
    return value


class ResultWriteError(Exception):
    """The result directory cannot be written (full disk, read-only, removed)."""


class ResultStore:
    """Writes one run's results into ``directory``.

    Every write is atomic, so a failure (a full disk) leaves the previous version of
    each file intact; it is reported as ResultWriteError naming the file.
    """

    def __init__(self, directory: Path, plan: Plan, manifest: dict,
                 clock: Callable[[], int] = time.perf_counter_ns,
                 checkpoint_s: float = CHECKPOINT_S):
        self.dir = Path(directory)
        self.plan = plan
        self.manifest = manifest
        self.runs: dict[str, dict[int, dict]] = {}
        self._clock = clock
        self._checkpoint_ns = int(checkpoint_s * 1e9)
        self._last_write_ns: int | None = None  # of the summary files; None: never
        self._guarded(lambda: (self.dir / RAW_DIR).mkdir(parents=True, exist_ok=True),
                      self.dir / RAW_DIR)

    def _guarded(self, write, path: Path) -> None:
        try:
            write()
        except OSError as exc:
            raise ResultWriteError(f"cannot write {path}: {exc.strerror or exc}; results "
                                   f"recorded before this are intact in {self.dir}") from None

    # -- recording ----------------------------------------------------------
    def record(self, point: Point, repeat: int, outcome: dict) -> None:
        """Store one worker run (ok, failed or skipped) at once."""
        folder = self.dir / RAW_DIR / point.point_id
        path = folder / f"r{repeat}.json"
        stored = {"format_version": RESULT_FORMAT_VERSION} | outcome
        self._guarded(lambda: (folder.mkdir(exist_ok=True), atomic_write_json(path, stored)),
                      path)
        self.runs.setdefault(point.point_id, {})[repeat] = outcome

    def record_set_aside(self, point: Point, repeat: int, attempt: int, outcome: dict,
                         reason: str) -> None:
        """Store an attempt the repeat does not use (harness.execute.reruns), with why."""
        folder = self.dir / RAW_DIR / point.point_id / SET_ASIDE_DIR
        path = folder / f"r{repeat}.a{attempt}.json"
        stored = {"format_version": RESULT_FORMAT_VERSION} | outcome | {"set_aside_reason": reason}
        self._guarded(lambda: (folder.mkdir(parents=True, exist_ok=True),
                               atomic_write_json(path, stored)), path)

    def copy_set_aside(self, source: Path) -> int:
        """Copy the set-aside attempts under ``source``/raw of this plan's points (a
        merge keeps every attempt, not only the used ones); how many were copied."""
        wanted = {p.point_id for p in self.plan.points}
        copied = 0
        for path in sorted((Path(source) / RAW_DIR).glob(f"*/{SET_ASIDE_DIR}/r*.json")):
            if path.parent.parent.name in wanted:
                target = self.dir / RAW_DIR / path.parent.parent.name / SET_ASIDE_DIR / path.name
                self._guarded(lambda: (target.parent.mkdir(parents=True, exist_ok=True),
                                       atomic_write_text(target, path.read_text())), target)
                copied += 1
        return copied

    def load_recorded(self, source: Path | None = None) -> int:
        """Read runs already stored under ``source``/raw (default: this directory).

        Returns how many were loaded. Only runs of points in this plan are taken;
        runs refused at run time for want of memory are left out, to be tried again.
        """
        stored = read_run_records(source or self.dir, {p.point_id for p in self.plan.points})
        loaded = 0
        for point_id, runs in stored.items():
            for repeat, outcome in runs.items():
                if outcome.get("status") != "skipped":
                    self.runs.setdefault(point_id, {})[repeat] = outcome
                    loaded += 1
        return loaded

    # -- summaries ----------------------------------------------------------
    def point_status(self, point: Point) -> tuple[str, str]:
        if point.status == "skipped":
            return "skipped", point.reason
        runs = self.runs.get(point.point_id, {})
        skipped = [r for r in runs.values() if r.get("status") == "skipped"]
        ok = [r for r in runs.values() if r.get("status") == "ok"]
        if skipped and not ok:  # refused at run time (memory); a resume tries it again
            return "skipped", skipped[0].get("reason", "")
        runs = {i: r for i, r in runs.items() if r.get("status") != "skipped"}
        failed = [r for r in runs.values() if r.get("status") != "ok"]
        if failed:
            return "failed", (f"{len(failed)} of {len(runs)} runs failed: "
                              f"{failed[0].get('reason') or failed[0].get('error', '?')}")
        if len(runs) < point.repeats:
            refused = (f"; {len(skipped)} refused at run time ({skipped[0].get('reason', '')}),"
                       f" --resume tries again" if skipped else "")
            return "pending", f"{len(runs)} of {point.repeats} runs done{refused}"
        return "ok", ""

    def point_row(self, point: Point) -> dict:
        status, reason = self.point_status(point)
        ok_runs = [r for _, r in sorted(self.runs.get(point.point_id, {}).items())
                   if r.get("status") == "ok"]
        values = [v for r in ok_runs for v in r["values_ns"]]
        row = {
            "point_id": point.point_id, "kernel": point.kernel, "label": point.label,
            "params": point.params, "table_size": point.table_size,
            "table_rows": point.table_rows, "table_bytes": point.table_bytes,
            "llc_ratio": point.llc_ratio, "kernel_bytes": point.kernel_bytes,
            "compression": point.uncompressed_bytes / point.kernel_bytes
            if point.kernel_bytes else math.nan,
            "bytes_per_lookup": point.bytes_per_lookup, "dim": point.dim,
            "batch_size": point.batch_size, "pooling": point.pooling,
            "features": point.features, "threads": point.threads,
            "cores": format_cpulist(point.cpus), "distribution": point.distribution["name"],
            "pages": point.pages,
            "status": status, "reason": reason, "runs": len(ok_runs),
            "runs_planned": 0 if point.status == "skipped" else point.repeats,
            "layout": point.layout, "table_scale": point.table_scale, "note": point.note,
            "placement": point.placement,
        }
        row.update(point_figures(point.to_dict(), values) if values else
                   {c: math.nan for c in POINT_COLUMNS if c not in row})
        if ok_runs:
            last = ok_runs[-1]
            row["effective_threads"] = last.get("effective_threads")
            row["cpus_run_on"] = last.get("affinity", {}).get("cpus_run_on", "")
            row["table_alignment_bytes"] = last.get("table_alignment_bytes")
            row["anon_huge_bytes"] = last.get("memory", {}).get("anonhugepages_bytes")
            row["timer_overhead_ns"] = last.get("timer_overhead_ns")
            # Hashing alone, per id, timed apart from the kernel (hashed kernels only).
            hash_ns = [r["hash_ns_per_id"] for r in ok_runs if r.get("hash_ns_per_id")]
            row["hash_ns_per_id"] = statistics.median(hash_ns) if hash_ns else None
            pages = last.get("pages") or {}
            row["kernel_page_bytes"] = pages.get("kernel_page_bytes")
            row["huge_page_fraction"] = pages.get("huge_fraction")
            numa = last.get("numa") or {}  # no readback: empty, never 0
            row["numa_pages_local"] = numa.get("pages_local")
            row["numa_pages_remote"] = numa.get("pages_remote")
        row.update(point_counter_columns(ok_runs))
        row.update(quality_columns(ok_runs, point.quality_limits))
        return {c: row.get(c) for c in POINT_COLUMNS}

    def _limits(self) -> tuple[dict | None, str]:
        """The limits result this run sized its tables by, or why there is none."""
        source = (self.manifest.get("effective") or {}).get("effective_llc_source")
        if not source:
            return None, ("this run references no limits result (pass one to `harness "
                          "report`, which computes the ceiling from it)")
        try:
            return read_limits(source), ""
        except UsageError as exc:  # a stale reference costs the ceiling, not the run
            return None, f"the limits result is unreadable ({exc})"

    def write_points_csv(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=POINT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        rows = [self.point_row(point) for point in self.plan.points]
        limits, why_none = self._limits()
        ceilings = ceiling_columns(rows, limits, why_none)
        for row in rows:
            row.update(ceilings.get(row["point_id"], {}))
            writer.writerow({k: _fmt(v) for k, v in row.items()})
        self._guarded(lambda: atomic_write_text(self.dir / POINTS_FILE, buf.getvalue()),
                      self.dir / POINTS_FILE)

    def write_pyperf(self) -> None:
        import pyperf

        benchmarks = []
        machine = self.manifest["machine"]
        for point in self.plan.points:
            runs = [r for _, r in sorted(self.runs.get(point.point_id, {}).items())
                    if r.get("status") == "ok" and r.get("values_ns")]
            if not runs:
                continue
            pyperf_runs = [pyperf.Run([v / 1e9 for v in r["values_ns"]],
                                      warmups=[(1, w / 1e9) for w in r["warmups_ns"]],
                                      metadata=_run_metadata(point, r, machine),
                                      collect_metadata=False) for r in runs]
            benchmarks.append(pyperf.Benchmark(pyperf_runs))
        if benchmarks:
            buf = io.StringIO()
            pyperf.BenchmarkSuite(benchmarks).dump(buf)
            text = buf.getvalue()
        else:
            text = json.dumps({"version": "1.0", "benchmarks": []}) + "\n"
        self._guarded(lambda: atomic_write_text(self.dir / PYPERF_FILE, text),
                      self.dir / PYPERF_FILE)

    def write_manifest(self, state: str) -> None:
        points = []
        for point in self.plan.points:
            status, reason = self.point_status(point)
            ok_runs = [r for _, r in sorted(self.runs.get(point.point_id, {}).items())
                       if r.get("status") == "ok"]
            quality = point_quality(ok_runs, point.quality_limits)
            points.append({"point_id": point.point_id, "status": status, "reason": reason,
                           "runs_done": len(self.runs.get(point.point_id, {})),
                           "runs_planned": 0 if point.status == "skipped" else point.repeats,
                           "quality": quality["quality"],
                           "quality_reason": quality["quality_reason"]})
        pending = sum(p["status"] == "pending" for p in points)
        if state == "complete" and pending:
            state = "incomplete"  # e.g. a merge of shards that lacks some
        self.manifest.update({
            "format_version": RESULT_FORMAT_VERSION,
            "state": state,
            "complete": state == "complete",
            "points_pending": pending,
            # how many points' numbers are not to be believed (harness.store.quality)
            "points_by_quality": {q: sum(p["quality"] == q for p in points)
                                  for q in QUALITIES},
            "updated": utc_now(),
            "point_status": points,
        })
        if state != "running":
            self.manifest["finished"] = utc_now()
        self._guarded(lambda: atomic_write_json(self.dir / MANIFEST_FILE, self.manifest),
                      self.dir / MANIFEST_FILE)

    def write(self, state: str = "running") -> None:
        """Regenerate all three summary files from the runs recorded so far.

        ``state``: running (a checkpoint: written the first time, then only when
        ``checkpoint_s`` has passed since the last write), complete or interrupted
        (always written; complete is downgraded to incomplete when points are still
        pending).
        """
        now = self._clock()
        if state == "running" and self._last_write_ns is not None \
                and now - self._last_write_ns < self._checkpoint_ns:
            return
        self._last_write_ns = now
        self.write_pyperf()
        self.write_points_csv()
        self.write_manifest(state)


def _run_metadata(point: Point, run: dict, machine: dict) -> dict:
    """pyperf run metadata: its own keys plus the point's identity (int/str/float only)."""
    md = {
        "name": point.point_id,
        "unit": "second",
        "loops": 1,
        "date": datetime.fromtimestamp(run["started"], timezone.utc).isoformat(timespec="seconds"),
        "duration": max(0.0, run["finished"] - run["started"]),
        "hostname": machine["hostname"],
        "cpu_model_name": machine["model_name"],
        "cpu_count": machine["logical_cpus"],
        "cpu_affinity": run["affinity"]["after_pin"],
        "python_version": run["versions"]["python"],
        "kernel": point.kernel,
        "label": point.label,
        "params": json.dumps(point.params, sort_keys=True),
        "table_bytes": point.table_bytes,
        "table_rows": point.table_rows,
        "llc_ratio": point.llc_ratio,
        "kernel_bytes": point.kernel_bytes,
        "dim": point.dim,
        "batch_size": point.batch_size,
        "pooling": point.pooling,
        "features": point.features,
        "threads": point.threads,
        "pages": point.pages,
        "lookups_per_batch": point.lookups_per_batch,
        "distribution": json.dumps(point.distribution, sort_keys=True),
        "repeat": run["repeat"],
        "worker_pid": run["pid"],
        "effective_threads": run["effective_threads"],
        "cpus_run_on": run["affinity"]["cpus_run_on"],
        "timer_overhead_ns": run["timer_overhead_ns"],
        "table_alignment_bytes": run["table_alignment_bytes"],
        "verified": "yes" if run.get("verified") else "no",
        "quality": run.get("run_quality", ""),
        "runs_set_aside": len(run.get("set_aside") or []),
        "interference_fraction": (run.get("interference") or {}).get("interference_fraction"),
        "batches_taken": len(run["values_ns"]),
    }
    for key, value in run.get("versions", {}).items():
        md[f"{key}_version"] = value
    md.update(counter_metadata(run))
    # pyperf refuses a value with a newline (an error message's tail has several lines).
    md = {k: " ".join(v.split()) if isinstance(v, str) else v for k, v in md.items()}
    return {k: v for k, v in md.items() if isinstance(v, (int, float, str)) and v != ""}


def default_result_dir(root: Path, scenario: str, hostname: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return root / scenario / f"{hostname}-{stamp}"


def new_result_dir(out: Path, taken_hint: str, *subdirs: str) -> Path:
    """Create ``out`` (and ``subdirs``) for a new result: see ``resultdir.claim_result_dir``
    (an empty or new directory only; one holding results or other files is refused)."""
    return claim_result_dir(out, taken_hint, *subdirs)



def write_limits(directory: Path, limits: dict) -> dict:
    """Store a limits analysis as ``directory``/limits.json (checked, versioned)."""
    data = {"format_version": RESULT_FORMAT_VERSION} | limits
    LimitsResult.model_validate(data)  # a writer bug, not bad input: let it raise
    try:
        atomic_write_json(Path(directory) / LIMITS_FILE, data)
    except OSError as exc:
        raise UsageError(f"cannot write {Path(directory) / LIMITS_FILE}: "
                         f"{exc.strerror or exc}") from None
    return data

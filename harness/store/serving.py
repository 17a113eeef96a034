"""A serving run's files: serve.json, serve.csv, manifest.json and raw/<point>.json.

- ``raw/<point_id>.json``: the worker's whole record (every request's latency),
  written the moment it finishes, so a crash never loses finished points;
- ``serve.json``: format-versioned; per point its identity, status and per-rate
  figures (no per-request latencies) and the highest rate within ``slo_ms``;
- ``serve.csv``: one row per point and rate (ok, overloaded, skipped, failed);
- ``manifest.json``: kind ``serve``, scenario as given and as expanded, machine,
  versions, git commit, times, every point's status.

Written with the store's atomic writers (``fileio``), read back by this module alone.
``load_serve_results`` turns a directory into what
``harness compare`` compares: one entry per point and rate, whose samples are that
rate's per-request latencies.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from harness.errors import UsageError
from harness.execute.plan import Plan, Point
from harness.serve.analysis import max_rate_within
from harness.store.fileio import atomic_write_json, atomic_write_text

SERVE_FORMAT_VERSION = 1
SERVE_JSON, SERVE_CSV, MANIFEST, RAW = "serve.json", "serve.csv", "manifest.json", "raw"
CSV_COLUMNS = [
    "point_id", "kernel", "label", "table_size", "table_rows", "table_bytes", "llc_ratio",
    "kernel_bytes", "dim", "batch_size", "pooling", "features", "threads", "cores",
    "placement", "pages", "distribution", "batching", "timeout_us", "slo_ms", "rate_qps",
    "status", "reason", "requests", "served", "p50_ns", "p99_ns", "p999_ns", "mean_ns",
    "max_ns", "achieved_qps", "mean_batch", "service_p50_ns", "start_lag_p99_ns",
    "batch_alone_p50_ns", "within_slo", "max_qps_within_slo", "numa_pages_local",
    "numa_pages_remote",
]


def _median(values: list[int]) -> int | None:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


class ServeStore:
    """Writes one serving run into ``directory`` (atomically, after every point)."""

    def __init__(self, directory: Path, plan: Plan, manifest: dict, config: dict):
        self.dir, self.plan, self.manifest, self.config = Path(directory), plan, manifest, config
        self.records: dict[str, dict] = {}
        (self.dir / RAW).mkdir(parents=True, exist_ok=True)

    def record(self, point: Point, record: dict) -> None:
        atomic_write_json(self.dir / RAW / f"{point.point_id}.json", record)
        self.records[point.point_id] = record

    def point_entry(self, point: Point) -> dict:
        record = self.records.get(point.point_id)
        if point.status == "skipped":
            status, reason = "skipped", point.reason
        elif record is None:
            status, reason = "pending", ""
        elif record.get("status") != "ok":
            status, reason = "failed", record.get("reason") or record.get("error", "failed")
        else:
            status, reason = "ok", ""
        rates = [{k: v for k, v in r.items() if k != "latency_ns"}
                 for r in (record or {}).get("rates", [])] if status == "ok" else []
        slo_ns = int(self.config["slo_ms"] * 1e6)
        numa = (record or {}).get("numa") or {}
        return {"point_id": point.point_id, "identity": point.identity(), "point": point.to_dict(),
                "status": status, "reason": reason, "rates": rates,
                "batch_alone_p50_ns": _median((record or {}).get("batch_alone_ns", [])),
                "numa_pages_local": numa.get("pages_local"),
                "numa_pages_remote": numa.get("pages_remote"),
                "within_slo": max_rate_within(rates, slo_ns) if rates else None}

    def write(self, state: str) -> None:
        entries = [self.point_entry(p) for p in self.plan.points]
        atomic_write_json(self.dir / SERVE_JSON, {
            "format_version": SERVE_FORMAT_VERSION, "kind": "serve",
            "scenario": self.plan.scenario, "serve": self.config, "points": entries})
        atomic_write_text(self.dir / SERVE_CSV, _csv(entries, self.config))
        self.manifest.update({
            "state": state, "complete": state == "complete",
            "point_status": [{"point_id": e["point_id"], "status": e["status"],
                              "reason": e["reason"]} for e in entries]})
        atomic_write_json(self.dir / MANIFEST, self.manifest)


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def _csv(entries: list[dict], config: dict) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    slo_ns = config["slo_ms"] * 1e6
    for e in entries:
        p = e["point"]
        base = {k: p.get(k) for k in CSV_COLUMNS if k in p}
        base.update({"cores": ",".join(map(str, p["cpus"])), "distribution":
                     p["distribution"]["name"], "batching": config["batching"]["policy"],
                     "timeout_us": config["batching"].get("timeout_us"),
                     "slo_ms": config["slo_ms"], "batch_alone_p50_ns": e["batch_alone_p50_ns"],
                     "max_qps_within_slo": (e["within_slo"] or {}).get("max_qps"),
                     "numa_pages_local": e["numa_pages_local"],
                     "numa_pages_remote": e["numa_pages_remote"]})
        for rate in e["rates"] or [{"rate_qps": None, "status": e["status"],
                                    "reason": e["reason"]}]:
            row = dict(base, **{k: v for k, v in rate.items() if k in CSV_COLUMNS})
            if rate.get("p99_ns") is not None:
                row["within_slo"] = "yes" if rate["p99_ns"] <= slo_ns else "no"
            writer.writerow({k: _cell(row.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def is_serve_dir(directory: str | Path) -> bool:
    return (Path(directory) / SERVE_JSON).is_file()


def load_serve(directory: str | Path) -> dict:
    """serve.json of ``directory``, checked; UsageError naming the file when unusable."""
    path = Path(directory) / SERVE_JSON
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: unreadable serving result ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != "serve":
        raise UsageError(f"{path}: not a serving result of this harness (no kind: serve)")
    version = data.get("format_version")
    if not isinstance(version, int) or version > SERVE_FORMAT_VERSION:
        raise UsageError(f"{path}: format_version {version!r} is newer than this harness "
                         f"reads ({SERVE_FORMAT_VERSION}); update the harness")
    return data


def load_serve_results(directory: str | Path):
    """A serving directory as ``harness compare`` takes it: one entry per point and rate,
    its samples that rate's per-request latencies (from raw/), its identity the point's
    plus the rate. Overloaded and skipped rates are compared as not ok, with the reason."""
    from harness.compare.inputs import ResultSet
    from harness.compare.verdict import PointData

    directory = Path(directory)
    data = load_serve(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{directory / MANIFEST}: unreadable ({exc})") from None
    points = []
    for entry in data["points"]:
        raw_path = directory / RAW / f"{entry['point_id']}.json"
        raw = json.loads(raw_path.read_text()) if raw_path.is_file() else {}
        latencies = {r["rate_qps"]: r.get("latency_ns") for r in raw.get("rates", [])}
        per_request = entry["point"]["pooling"] * entry["point"]["features"]
        for rate in entry["rates"] or [{"rate_qps": None}]:
            status = rate.get("status", entry["status"])
            samples = latencies.get(rate["rate_qps"]) or []
            samples = [float(v) for v in samples if v >= 0]
            if status == "ok" and not samples:
                status, rate = "failed", dict(rate, reason=f"no latencies in {raw_path}")
            identity = dict(entry["identity"], serve_rate_qps=rate["rate_qps"])
            label = f"{entry['point']['label']} @ {rate['rate_qps']:g} qps" \
                if rate["rate_qps"] is not None else entry["point"]["label"]
            # A rate the new side cannot sustain, that the old one did, is a regression.
            status = {"overloaded": "failed", "pending": "pending"}.get(status, status)
            points.append(PointData(f"{entry['point_id']}@{rate['rate_qps']}", label, identity,
                                    status, rate.get("reason") or entry["reason"],
                                    [samples] if status == "ok" else [], per_request,
                                    {k: str(v) for k, v in rate.items()}))
    return ResultSet(directory, data.get("scenario", "?"), manifest.get("machine", {}),
                     manifest.get("git", {}), bool(manifest.get("complete")), points)

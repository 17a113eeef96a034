"""Reading stored results back, checked: resume, merge, compare and report use this.

A directory is refused with a clear message (UsageError, exit 2) when a file is
missing, truncated, not JSON/CSV, or not written by this harness; result formats
newer than this harness reads are refused, older ones are upgraded in memory.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from harness import RESULT_FORMAT_VERSION
from harness.errors import UsageError
from harness.store.results import MANIFEST_FILE, POINTS_FILE, PYPERF_FILE

REQUIRED_COLUMNS = ("point_id", "kernel", "status", "batch_size", "threads",
                    "latency_p50_ns", "ns_per_lookup")
REQUIRED_MANIFEST_KEYS = ("format_version", "scenario", "machine", "plan")

# format_version -> function upgrading a manifest of that version by one step.
MIGRATIONS: dict[int, callable] = {}


@dataclass
class StoredResult:
    dir: Path
    manifest: dict
    rows: list[dict]  # points.csv, as strings

    @property
    def pyperf_path(self) -> Path:
        return self.dir / PYPERF_FILE

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete"))


def read_json(path: Path) -> object:
    """A JSON file, or UsageError naming the file and what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
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


def upgrade_manifest(manifest: dict, path: Path) -> dict:
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise UsageError(f"{path}: not a harness result manifest (no integer format_version)")
    if version > RESULT_FORMAT_VERSION:
        raise UsageError(f"{path}: result format {version} is newer than this harness reads "
                         f"(up to {RESULT_FORMAT_VERSION}): update the harness")
    while version < RESULT_FORMAT_VERSION:
        if version not in MIGRATIONS:
            raise UsageError(f"{path}: result format {version} is too old to read "
                             f"(this harness reads {min(MIGRATIONS, default=RESULT_FORMAT_VERSION)}"
                             f"..{RESULT_FORMAT_VERSION})")
        manifest = MIGRATIONS[version](manifest)
        version = manifest["format_version"]
    return manifest


def load_manifest_checked(directory: Path) -> dict:
    path = Path(directory) / MANIFEST_FILE
    manifest = read_json(path)
    if not isinstance(manifest, dict):
        raise UsageError(f"{path}: not a harness manifest (expected a JSON object)")
    manifest = upgrade_manifest(manifest, path)
    missing = [k for k in REQUIRED_MANIFEST_KEYS if k not in manifest]
    if missing:
        raise UsageError(f"{path}: not a harness manifest (missing {', '.join(missing)})")
    shapes = {"scenario": dict, "machine": dict, "plan": list}
    wrong = [k for k, kind in shapes.items() if not isinstance(manifest[k], kind)]
    if not wrong and not all(isinstance(p, dict) for p in manifest["plan"]):
        wrong = ["plan"]
    if wrong:
        raise UsageError(f"{path}: not a harness manifest ({', '.join(wrong)} has the wrong "
                         f"shape: edited, or written by another program?)")
    return manifest


def load_points_csv(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise UsageError(f"{path}: not a points.csv written by the harness "
                                 f"(missing columns: {', '.join(missing)})")
            rows = []
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise UsageError(f"{path}: line {reader.line_num} has "
                                     f"{'too many' if None in row else 'too few'} fields "
                                     f"(truncated or edited?)")
                rows.append(row)
    except FileNotFoundError:
        raise UsageError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    return rows


def load_result(directory: str | Path) -> StoredResult:
    """Load and check a result directory (manifest.json and points.csv)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such result directory")
    manifest = load_manifest_checked(directory)
    rows = load_points_csv(directory / POINTS_FILE)
    return StoredResult(directory, manifest, rows)


def load_pyperf(result: StoredResult):
    """The pyperf suite of a result, or UsageError saying what is wrong with it."""
    import pyperf

    path = result.pyperf_path
    data = read_json(path)
    if not isinstance(data, dict) or "benchmarks" not in data:
        raise UsageError(f"{path}: not a pyperf file (no 'benchmarks')")
    if not data["benchmarks"]:
        return None
    try:
        return pyperf.BenchmarkSuite.load(str(path))
    except Exception as exc:  # pyperf raises assorted errors on foreign JSON
        raise UsageError(f"{path}: pyperf cannot read it: {exc}") from None

"""Typed shapes of the result files: the manifest, a points.csv row, a raw run record
and a limits result (limits.json).

The models check what a reader relies on and let everything else through
(``extra="allow"``), so keys added by later stages (counters, ab, resumed) survive a
read-modify-write. ``POINT_COLUMNS`` is the one list of points.csv's columns, in
order; which of them hold numbers comes from the same table.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from harness import RESULT_FORMAT_VERSION
from harness.counters.summary import COUNTER_COLUMNS

PYPERF_FILE, POINTS_FILE, MANIFEST_FILE, RAW_DIR, LIMITS_FILE = (
    "pyperf.json", "points.csv", "manifest.json", "raw", "limits.json")
STATUSES = ("ok", "failed", "skipped", "pending")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ScenarioRecord(_Open):
    """The scenario once as written (``text``, None when generated, as limits' is) and
    once as validated (``effective``: what resume and merge compare, what reports name
    series by). Format 1 also stored ``given``, the parse of ``text``."""

    name: str
    path: str | None = None
    quick: bool = False
    text: str | None = None
    effective: dict = {}


class Manifest(_Open):
    """manifest.json. ``plan`` entries are checked as points by the reader (they must
    hold every field a Point needs); ``plan_meta`` is needed to resume or merge only
    (stored results of format 1 written before it existed still compare and report)."""

    format_version: int
    kind: Literal["run", "limits"] = "run"
    harness_version: str | None = None
    created: str | None = None
    started: str | None = None
    finished: str | None = None
    command: list[str] = []
    scenario: ScenarioRecord
    requested: dict = {}
    effective: dict = {}
    machine: dict
    versions: dict = {}
    git: dict = {}
    plan: list[dict]
    plan_meta: dict | None = None
    state: str | None = None
    complete: bool = False
    point_status: list[dict] = []


class RunRecord(_Open):
    """raw/<point>/r<repeat>.json: one worker run. An ok run holds its per-batch
    latencies; a failed or skipped one its reason (the worker's ``error`` for a
    worker that raised)."""

    format_version: int = RESULT_FORMAT_VERSION
    status: str
    values_ns: list[float] | None = None
    warmups_ns: list[float] | None = None

    @model_validator(mode="after")
    def _ok_has_samples(self) -> "RunRecord":
        if self.status == "ok" and (self.values_ns is None or self.warmups_ns is None):
            missing = "values_ns" if self.values_ns is None else "warmups_ns"
            raise ValueError(f"an ok run without a list of numbers in {missing!r}")
        return self


class LimitsResult(_Open):
    """limits.json: the analysis of a `harness limits` run (harness.limits.analysis)."""

    format_version: int = RESULT_FORMAT_VERSION
    sysfs_llc_bytes: int
    effective_llc_bytes: int | None = None
    knees_by_row_bytes: dict
    gather: dict
    latency_ns_by_level: dict
    stream_by_threads: dict
    machine_identity: dict | None = None
    result_dir: str | None = None


# points.csv, in column order: (name, kind). "number" cells are decimal text, empty
# when there is none (never 0 for "not counted"); "text" cells are free text; "json"
# cells a JSON object. ``REQUIRED_COLUMNS`` were in every points.csv the harness has
# written; later columns are optional on read (older files lack them).
_BASE_COLUMNS = [
    ("point_id", "text"), ("kernel", "text"), ("label", "text"), ("params", "json"),
    ("table_size", "text"), ("table_rows", "number"), ("table_bytes", "number"),
    ("llc_ratio", "number"), ("kernel_bytes", "number"), ("compression", "number"),
    ("bytes_per_lookup", "number"), ("dim", "number"), ("batch_size", "number"),
    ("pooling", "number"), ("features", "number"), ("threads", "number"),
    ("cores", "text"), ("distribution", "text"), ("status", "text"), ("reason", "text"),
    ("runs", "number"), ("latency_p50_ns", "number"), ("latency_p25_ns", "number"),
    ("latency_p75_ns", "number"), ("latency_p99_ns", "number"),
    ("latency_mean_ns", "number"), ("latency_stdev_ns", "number"),
    ("latency_min_ns", "number"), ("samples", "number"), ("ns_per_lookup", "number"),
    ("hash_ns_per_id", "number"),
    ("lookups_per_s", "number"), ("gbytes_per_s", "number"),
    ("effective_threads", "number"), ("cpus_run_on", "text"),
    ("table_alignment_bytes", "number"), ("anon_huge_bytes", "number"),
    ("timer_overhead_ns", "number"), ("pages", "text"), ("kernel_page_bytes", "number"),
    ("huge_page_fraction", "number"), ("layout", "text"), ("table_scale", "number"),
    ("note", "text"), ("placement", "text"), ("numa_pages_local", "number"),
    ("numa_pages_remote", "number"),
    # Runs a point was planned to have (``runs``: those that finished ok): a point of a
    # run stopped early with fewer is ``pending``, and reports draw it as partial.
    ("runs_planned", "number"),
]
# A counter column is a number unless it names where a number came from (or why none).
_COUNTER_KINDS = [(c, "text" if c.endswith(("_source", "_status")) else "number")
                  for c in COUNTER_COLUMNS]
# The speedup this machine allows (harness/limits/ceiling.py), or why none.
_CEILING_KINDS = [("speedup_ceiling", "number"), ("ceiling_fraction", "number"),
                  ("ceiling_note", "text")]
# Whether the numbers can be believed (harness.store.quality); empty: not assessed.
_QUALITY_KINDS = [("quality", "text"), ("quality_reason", "text"),
                  ("interference_fraction", "number"), ("runqueue_wait_fraction", "number"),
                  ("steal_fraction", "number"),
                  ("involuntary_switches", "number"), ("threads_migrated", "number"),
                  ("batch_iqr_ratio", "number"), ("repeat_spread", "number"),
                  ("batches_taken", "number"), ("ci_half_width", "number"),
                  ("runs_set_aside", "number")]
# What makes a compressed point and a baseline point of one run a matched pair: the
# speedup figures (report/select.py) and the speedup ceiling (limits/ceiling.py).
MATCH_COLUMNS = ("table_rows", "dim", "batch_size", "pooling", "features", "threads",
                 "distribution", "pages", "layout", "table_scale", "placement")
COLUMN_KINDS: dict[str, str] = dict(_BASE_COLUMNS + _COUNTER_KINDS + _CEILING_KINDS
                                    + _QUALITY_KINDS)
POINT_COLUMNS: list[str] = list(COLUMN_KINDS)
NUMERIC_COLUMNS: tuple[str, ...] = tuple(c for c, k in COLUMN_KINDS.items() if k == "number")
REQUIRED_COLUMNS: tuple[str, ...] = (
    "point_id", "kernel", "label", "params", "table_size", "table_rows", "table_bytes",
    "llc_ratio", "kernel_bytes", "bytes_per_lookup", "dim", "batch_size", "pooling",
    "features", "threads", "status", "reason", "runs", "latency_p50_ns", "latency_p25_ns",
    "latency_p75_ns", "ns_per_lookup", "lookups_per_s",
)


def problem_of(exc: ValidationError) -> str:
    """The first thing a model found wrong, as 'missing scenario' or
    'plan has the wrong shape (Input should be a valid list)'."""
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"]) or "the file"
    if err["type"] == "missing":
        return f"missing {where}"
    if err["type"] == "value_error":
        return err["msg"].removeprefix("Value error, ")
    return f"{where} has the wrong shape ({err['msg']})"

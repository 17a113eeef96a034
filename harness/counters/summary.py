"""From a run's counts to per-lookup metrics with their source, and on to points.csv
and pyperf metadata. Pure functions over the run records; nothing here measures.

Each metric of a run is ``{"value", "source", "status", "detail"}``: a number from
``perf``, ``cachegrind`` or ``model`` (preferred in that order: counted beats
simulated beats modelled), or no number and the status saying why. A point's
figure is the median over its runs of the best source any run has.
"""

from __future__ import annotations

import math
import statistics

from harness.counters import COUNTED, NOT_COUNTED, NOT_PERMITTED, NOT_SUPPORTED
from harness.counters.eventsets import evaluate, formula_names

SOURCES = ("perf", "cachegrind", "model")
# l1d_fills_beyond_l3_per_lookup is AMD Zen's: L1D fills served from beyond the core's
# L3, which is not Intel's LLC-miss count; it has a column of its own, never that one.
HEADLINE = ("llc_misses_per_lookup", "dram_bytes_per_lookup", "llc_miss_ratio", "ipc",
            "dtlb_walks_per_lookup", "l1d_fills_beyond_l3_per_lookup")
# Which status to report when a metric's events differ: the one a user can act on first.
_STATUS_ORDER = (NOT_PERMITTED, NOT_COUNTED, NOT_SUPPORTED)

COUNTER_COLUMNS = [
    "llc_misses_per_lookup", "llc_misses_per_lookup_source",
    "dram_bytes_per_lookup", "dram_bytes_per_lookup_source",
    "llc_miss_ratio", "llc_miss_ratio_source",
    "ipc", "ipc_source",
    "dtlb_walks_per_lookup", "dtlb_walks_per_lookup_source",
    "l1d_fills_beyond_l3_per_lookup", "l1d_fills_beyond_l3_per_lookup_source",
    "llc_misses_per_lookup_cachegrind", "llc_misses_per_lookup_model",
    "task_clock_ms", "task_clock_ms_source", "region_ms",
    "page_faults", "page_faults_source", "perf_running_fraction",
]


def _missing(status: str, detail: str = "") -> dict:
    return {"value": None, "source": None, "status": status, "detail": detail}


def _number(value: float, source: str, **extra) -> dict:
    return {"value": value, "source": source, "status": COUNTED, "detail": ""} | extra


def perf_metrics(events: dict, formulas: dict[str, str], lookups: int) -> dict:
    """Each formula over perf's event records: a number, or the status of what is missing."""
    out = {}
    for metric, formula in formulas.items():
        names = formula_names(formula) - {"lookups"}
        records = [events.get(n) for n in names]
        if any(r is None for r in records):
            out[metric] = _missing(NOT_SUPPORTED, "not in the event set")
            continue
        missing = [r["status"] for r in records if r["status"] != COUNTED or r["value"] is None]
        if missing:
            status = next(s for s in _STATUS_ORDER if s in missing) if any(
                s in missing for s in _STATUS_ORDER) else NOT_COUNTED
            out[metric] = _missing(status, "; ".join(sorted(
                f"{n}: {events[n]['status']}" for n in names if events[n]["status"] != COUNTED)))
            continue
        try:
            value = evaluate(formula, {n: events[n]["value"] for n in names} | {"lookups": lookups})
        except ZeroDivisionError:
            out[metric] = _missing(NOT_COUNTED, "a divisor counted zero")
            continue
        fractions = [r["running_fraction"] for r in records if r["running_fraction"] is not None]
        out[metric] = _number(value, "perf", running_fraction=min(fractions) if fractions else None)
    return out


def cachegrind_metrics(record: dict) -> dict:
    if not record or record.get("error") or not record.get("lookups"):
        return {}
    c, lookups = record["counts"], record["lookups"]
    out = {"llc_misses_per_lookup": _number(c["llc_misses"] / lookups, "cachegrind"),
           "dram_bytes_per_lookup": _number(c["dram_bytes"] / lookups, "cachegrind")}
    if c["llc_loads"]:
        out["llc_miss_ratio"] = _number(c["llc_misses"] / c["llc_loads"], "cachegrind")
    return out


def model_metrics(record: dict) -> dict:
    if not record or record.get("error") or not record.get("lookups"):
        return {}
    lookups, line = record["lookups"], record["geometry"]["line_bytes"]
    return {"llc_misses_per_lookup": _number(record["llc_misses"] / lookups, "model"),
            "dram_bytes_per_lookup": _number(record["llc_misses"] * line / lookups, "model")}


def run_metrics(counters: dict, lookups_per_batch: int) -> dict:
    """All metrics of one run: per source, and the headline choice per metric."""
    perf = counters.get("perf") or {}
    by_source = {"perf": {}, "cachegrind": cachegrind_metrics(counters.get("cachegrind")),
                 "model": model_metrics(counters.get("model"))}
    if perf.get("events") is not None:
        region_batches = counters.get("batches", 0)
        by_source["perf"] = perf_metrics(perf["events"], counters.get("formulas", {}),
                                         region_batches * lookups_per_batch)
    chosen = {}
    for metric in sorted(set(HEADLINE) | set(by_source["perf"])):
        for source in SOURCES:
            m = by_source[source].get(metric)
            if m and m["value"] is not None:
                chosen[metric] = m
                break
        else:
            why_not = (counters.get("unavailable") or {}).get(metric)
            chosen[metric] = by_source["perf"].get(metric) or _missing(
                NOT_SUPPORTED if perf else NOT_COUNTED,
                why_not or ("no backend gives it" if perf else "perf was not used"))
    return {"chosen": chosen, "by_source": by_source}


def _event(counters: dict, name: str) -> dict | None:
    return ((counters.get("perf") or {}).get("events") or {}).get(name)


def point_counter_columns(ok_runs: list[dict]) -> dict:
    """The COUNTER_COLUMNS of a point from its successful runs' records."""
    row: dict = {}
    metrics = [(r.get("counters") or {}).get("metrics") or {} for r in ok_runs]
    for metric in HEADLINE:
        picks = [m["chosen"][metric] for m in metrics if metric in m.get("chosen", {})]
        numbers = [p for p in picks if p["value"] is not None]
        if numbers:
            best = min(SOURCES.index(p["source"]) for p in numbers)
            values = [p["value"] for p in numbers if SOURCES.index(p["source"]) == best]
            row[metric], row[f"{metric}_source"] = statistics.median(values), SOURCES[best]
        else:
            statuses = [p["status"] for p in picks] or [NOT_COUNTED]
            row[metric] = None
            row[f"{metric}_source"] = next((s for s in _STATUS_ORDER if s in statuses),
                                           statuses[0])
    for source in ("cachegrind", "model"):
        values = [m["by_source"][source]["llc_misses_per_lookup"]["value"] for m in metrics
                  if "llc_misses_per_lookup" in m.get("by_source", {}).get(source, {})]
        row[f"llc_misses_per_lookup_{source}"] = statistics.median(values) if values else None
    for column, event in (("task_clock_ms", "task_clock"), ("page_faults", "page_faults")):
        records = [e for e in (_event(r.get("counters") or {}, event) for r in ok_runs) if e]
        values = [e["value"] for e in records if e["status"] == COUNTED and e["value"] is not None]
        if values:
            row[column], row[f"{column}_source"] = statistics.median(values), "perf"
        else:
            statuses = [e["status"] for e in records] or [NOT_COUNTED]
            row[column], row[f"{column}_source"] = None, statuses[0]
    regions = [((r.get("counters") or {}).get("region") or {}).get("enabled_ns") for r in ok_runs]
    regions = [v for v in regions if v]
    row["region_ms"] = statistics.median(regions) / 1e6 if regions else None
    fractions = [e["running_fraction"] for r in ok_runs
                 for e in (((r.get("counters") or {}).get("perf") or {}).get("events") or {}).values()
                 if e.get("running_fraction") is not None]
    row["perf_running_fraction"] = min(fractions) if fractions else None
    return row


def counter_metadata(run: dict) -> dict:
    """pyperf run metadata (int/float/str values only) for one run's counters."""
    counters = run.get("counters") or {}
    md: dict = {}
    events = (counters.get("perf") or {}).get("events") or {}
    for name, e in events.items():
        ok = e["status"] == COUNTED and e["value"] is not None
        md[f"counter_{name}"] = float(e["value"]) if ok else e["status"]
        if ok and e.get("running_fraction") is not None:
            md[f"counter_{name}_running_fraction"] = float(e["running_fraction"])
    for source in ("cachegrind", "model"):
        rec = counters.get(source) or {}
        if rec.get("error"):
            md[f"{source}_error"] = str(rec["error"])[:200]
        elif source == "cachegrind" and rec.get("counts"):
            md.update({f"cachegrind_{k}": v for k, v in rec["counts"].items()})
            md["cachegrind_lookups"] = rec["lookups"]
        elif source == "model" and rec.get("lookups"):
            md.update(model_llc_misses=rec["llc_misses"], model_lookups=rec["lookups"])
    for metric, m in ((counters.get("metrics") or {}).get("chosen") or {}).items():
        md[metric] = float(m["value"]) if m["value"] is not None else m["status"]
        md[f"{metric}_source"] = m["source"] or m["status"]
    if counters.get("event_set"):
        md["counter_event_set"] = counters["event_set"]
    return {k: v for k, v in md.items()
            if isinstance(v, (int, float, str)) and v != "" and not (
                isinstance(v, float) and math.isnan(v))}

"""Pure statistics over per-batch latencies; no I/O, no clocks."""

from __future__ import annotations

import math

import numpy as np


def latency_summary(values_ns: list[int] | np.ndarray) -> dict:
    """Percentiles and moments of per-batch latencies in ns (all runs pooled)."""
    v = np.asarray(values_ns, dtype=np.float64)
    if v.size == 0:
        return {k: math.nan for k in ("p25", "p50", "p75", "p99", "mean", "stdev", "min", "max")} \
            | {"n": 0}
    p25, p50, p75, p99 = np.percentile(v, [25, 50, 75, 99])
    return {"p25": p25, "p50": p50, "p75": p75, "p99": p99, "mean": float(v.mean()),
            "stdev": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def point_figures(point: dict, values_ns) -> dict:
    """The derived per-point figures of points.csv from pooled per-batch latencies.

    Per-lookup figures divide by batch_size * pooling * features; throughput uses
    the median batch latency; GB/s counts the table bytes the lookups read.
    """
    s = latency_summary(values_ns)
    lookups = point["batch_size"] * point["pooling"] * point["features"]
    p50 = s["p50"]
    per_lookup = p50 / lookups if s["n"] else math.nan
    return {
        "latency_p50_ns": p50, "latency_p25_ns": s["p25"], "latency_p75_ns": s["p75"],
        "latency_p99_ns": s["p99"], "latency_mean_ns": s["mean"],
        "latency_stdev_ns": s["stdev"], "latency_min_ns": s["min"],
        "samples": s["n"],
        "ns_per_lookup": per_lookup,
        "lookups_per_s": 1e9 / per_lookup if s["n"] and per_lookup > 0 else math.nan,
        "gbytes_per_s": (point["bytes_per_lookup"] / per_lookup) if s["n"] and per_lookup > 0
        else math.nan,  # bytes per ns == GB/s
    }

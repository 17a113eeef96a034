"""Pure helpers that choose what a figure draws: kernel roles, slices and the reasons
points are missing. No matplotlib here, so every choice can be tested on a table.

Every kernel other than ``baseline`` is a compressed peer; ``memrec`` is the one the
report is about and is drawn highlighted. Series are a point's ``label``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

# MATCH_COLUMNS make two points comparable within one run (shared with the speedup
# ceiling); a column an older points.csv lacks is left out of the match.
from harness.store.models import MATCH_COLUMNS

BASELINE, MEMREC = "baseline", "memrec"


def role(kernel: str) -> str:
    """'baseline', 'memrec' (highlighted) or 'peer' (every other compressed kernel)."""
    return kernel if kernel in (BASELINE, MEMREC) else "peer"


def display_label(label: str, kernel: str) -> str:
    """The legend's name for a series: the point label, MEM-REC spelled as the paper does."""
    if kernel == MEMREC and label.lower().startswith("memrec"):
        return "MEM-REC" + label[len("memrec"):]
    return label


def series_order(points: pd.DataFrame) -> list[tuple[str, str]]:
    """(kernel, label) pairs in legend order: baseline, MEM-REC variants, then peers."""
    rank = {BASELINE: 0, MEMREC: 1, "peer": 2}
    pairs = {(k, l) for k, l in zip(points["kernel"], points["label"])}
    return sorted(pairs, key=lambda kl: (rank[role(kl[0])], kl[0], kl[1]))


def scenario_llc_ratio(points: pd.DataFrame) -> pd.Series:
    """Each point's table as the scenario sized it, in LLC multiples: a baseline scaled
    down to fit memory (``table_scale`` < 1) counts at its full size, so it is drawn
    beside the full-size compressed kernels of the same table, not dropped."""
    ratio = points["llc_ratio"].astype(float)
    if "table_scale" in points:
        scale = pd.to_numeric(points["table_scale"], errors="coerce")
        ratio = ratio.where(~(scale > 0), ratio / scale)
    return ratio


def largest_table(points: pd.DataFrame) -> pd.DataFrame:
    """Per machine, the points at its largest table (by LLC multiple, as sized)."""
    if points.empty:
        return points
    ratio = scenario_llc_ratio(points)
    biggest = ratio.groupby(points["machine"]).transform("max")
    return points[np.isclose(ratio, biggest, rtol=1e-6)]


def largest_batch(points: pd.DataFrame) -> pd.DataFrame:
    """Per machine, the points at its largest batch (per-call overhead amortised)."""
    if points.empty:
        return points
    biggest = points.groupby("machine")["batch_size"].transform("max")
    return points[points["batch_size"] == biggest]


def nearest_batch(points: pd.DataFrame, preferred: int) -> pd.DataFrame:
    """Per machine, the points at the batch size nearest ``preferred`` (ties: larger)."""
    if points.empty:
        return points
    keep = []
    for _, group in points.groupby("machine"):
        sizes = sorted(group["batch_size"].unique(), key=lambda b: (abs(b - preferred), -b))
        keep.append(group[group["batch_size"] == sizes[0]])
    return pd.concat(keep)


def thread_panels(points: pd.DataFrame) -> list[int]:
    """The thread counts a two-panel figure shows: 1 (the paper's one instance per
    core) and the most threads measured, where those differ."""
    threads = sorted(int(t) for t in points["threads"].unique())
    if not threads:
        return []
    return sorted({threads[0], threads[-1]})


def missing_notes(points: pd.DataFrame, by: str, unit: str = "",
                  shown: set | None = None) -> list[str]:
    """Why values of ``by`` (e.g. threads) have no measured point among ``points``.

    One line per missing value: how many points were skipped or failed and the most
    common reason, e.g. "threads 28: 27 points skipped (needs 28 cores ...)".
    ``shown`` are values already drawn; others with no ok point are reported.
    """
    lines = []
    for value, group in points.groupby(by):
        if shown is not None and value in shown:
            continue
        if (group["status"] == "ok").any():
            continue
        statuses = Counter(group["status"])
        reasons = Counter(r for r in group["reason"] if r)
        what = ", ".join(f"{n} {s}" for s, n in statuses.most_common())
        why = ": " + "; ".join(r for r, _ in reasons.most_common(2)) if reasons else ""
        shown_value = f"{value:g}" if isinstance(value, (int, float)) else str(value)
        lines.append(f"{by.replace('_', ' ')} {shown_value}{unit}: {what}{why}")
    return lines


def failed_notes(points: pd.DataFrame) -> list[str]:
    """One line per failed point among those a figure would draw."""
    failed = points[points["status"] == "failed"]
    return [f"failed: {pid}: {reason}" for pid, reason in zip(failed["point_id"],
                                                              failed["reason"])]


def match_baseline(points: pd.DataFrame) -> pd.DataFrame:
    """Pair every ok compressed point with the ok baseline point of the same run (result
    directory) at the same table, dim, batch, pooling, features, threads, index
    distribution, page size, layout and scaling.

    Returns one row per pair with the compressed point's columns and the baseline's
    latencies as ``base_p50_ns``, ``base_p25_ns``, ``base_p75_ns``, ``base_point_id``
    (and its ``quality`` as ``base_quality`` where points.csv has one).
    Where a machine has several baseline variants (backends), each pairs separately
    and ``base_label`` says which.
    """
    ok = points[points["status"] == "ok"]
    base = ok[ok["kernel"] == BASELINE]
    comp = ok[ok["kernel"] != BASELINE]
    keys = ["machine", *(c for c in ("source", *MATCH_COLUMNS) if c in points)]
    quality = ["quality"] if "quality" in points else []
    base = base[keys + ["point_id", "label", "latency_p50_ns", "latency_p25_ns",
                        "latency_p75_ns", *quality]].rename(columns={
                            "point_id": "base_point_id", "label": "base_label",
                            "latency_p50_ns": "base_p50_ns", "latency_p25_ns": "base_p25_ns",
                            "latency_p75_ns": "base_p75_ns", "quality": "base_quality"})
    return comp.merge(base, on=keys, how="inner")

"""Why the latencies differ: LLC misses and DRAM bytes per lookup vs table size,
baseline vs MEM-REC and peers, each series labelled with where its numbers came from
(``perf`` counted them, ``cachegrind`` simulated them, or a ``model`` estimated them).

A machine that could not count says so: when a value cell is empty its ``_source``
column holds the status (``not-supported``, ``not-permitted``, ``not-counted``), and
the panel explains it instead of drawing zeros.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from harness.report.figures import FigureSpec
from harness.report.load import Results
from harness.report.select import BASELINE, largest_batch, missing_notes, series_order
from harness.report.style import Page, Palette, log_axis, no_data, ratio_formatter

TITLE = "LLC misses and DRAM bytes per lookup"
ZEN_FILLS = "l1d_fills_beyond_l3_per_lookup"
METRICS = {
    "llc_misses_per_lookup": ("LLC misses per lookup", "LLC misses per lookup (count)"),
    "dram_bytes_per_lookup": ("DRAM bytes per lookup", "DRAM bytes read per lookup (B)"),
    # AMD Zen's core counts L1D fills by source, not LLC misses (no L2-prefetcher fills;
    # Intel's LLC-miss event counts its prefetchers' misses): a panel of its own, drawn
    # only where a Zen machine counted it, never overlaid on the LLC misses.
    ZEN_FILLS: ("AMD Zen: L1D fills from beyond the L3 per lookup (not LLC misses)",
                "L1D fills from beyond the L3 per lookup (count)"),
}
ALWAYS = ("llc_misses_per_lookup", "dram_bytes_per_lookup")
# The legend's qualifier of a series on the Zen panel: a different quantity, said so.
QUALIFIER = {ZEN_FILLS: "AMD L1D fills beyond L3"}
SOURCES = ("perf", "cachegrind", "model")
STATUS_WHY = {
    "not-supported": "perf reports the event <not supported> on this CPU "
                     "(e.g. a virtual machine without a virtual PMU)",
    "not-permitted": "perf was not allowed to count (kernel.perf_event_paranoid too high; "
                     "run as root or lower it)",
    "not-counted": "perf ran but did not count the event (not scheduled: multiplexing, "
                   "or the run was too short)",
    "not-recorded": "these results were stored by a harness that did not record counters",
}
COLUMNS = ["what", "metric", "machine", "threads", "batch_size", "kernel", "label", "source",
           "table_size", "llc_ratio", "value", "point_id"]


def _counted(points: pd.DataFrame) -> pd.Series:
    mask = pd.Series(False, index=points.index)
    for metric in METRICS:
        if metric in points:
            mask |= points[metric].notna()
    return mask


def _slice(results: Results) -> pd.DataFrame:
    """Per machine: one thread (its fewest) at its largest batch, preferring the points
    that were counted, so a machine that counted only some points still shows them."""
    parts = []
    for _, ok in results.ok.groupby("machine", sort=False):
        counted = ok[_counted(ok)]
        base = counted if not counted.empty else ok
        parts.append(largest_batch(base[base["threads"] == base["threads"].min()]))
    return pd.concat(parts) if parts else results.ok


def data(results: Results) -> pd.DataFrame:
    sel = _slice(results)
    rows = []
    for metric in METRICS:
        if metric not in sel:
            continue
        source_col = f"{metric}_source"
        for _, p in sel[sel[metric].notna()].iterrows():
            rows.append({"what": "measured", "metric": metric, "machine": p["machine"],
                         "threads": int(p["threads"]), "batch_size": int(p["batch_size"]),
                         "kernel": p["kernel"], "label": p["label"],
                         "source": p.get(source_col, "") or "unlabelled",
                         "table_size": p["table_size"], "llc_ratio": p["llc_ratio"],
                         "value": p[metric], "point_id": p["point_id"]})
    if rows:  # what one uncompressed row costs: dim x 4 bytes, in cache lines
        for _, p in sel[sel["kernel"] == BASELINE].drop_duplicates("machine").iterrows():
            line = results.machines[p["machine"]].line_bytes or 64
            row_bytes = float(p["bytes_per_lookup"])
            for metric, value in (("dram_bytes_per_lookup", row_bytes),
                                  ("llc_misses_per_lookup", row_bytes / line)):
                rows.append({"what": "one row", "metric": metric, "machine": p["machine"],
                             "kernel": BASELINE, "label": p["label"], "source": "model",
                             "value": value})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(["metric", "what", "machine", "kernel", "label", "source",
                              "llc_ratio"], ignore_index=True)


def why_not(results: Results, metric: str, sel: pd.DataFrame) -> list[str]:
    """Lines saying why a metric has no values: its column is absent, or per status."""
    if metric not in results.points:
        return [f"No {METRICS[metric][0]} in these results: points.csv has no {metric} column "
                "(stored by a harness that did not record counters)."]
    source_col = f"{metric}_source"
    statuses = Counter(sel[source_col]) if source_col in sel else Counter()
    lines = [f"No {METRICS[metric][0]} were counted on this slice."]
    for status, n in statuses.most_common():
        why = STATUS_WHY.get(status, "no reason recorded")
        lines.append(f"{n} point{'s' if n != 1 else ''} {status or 'empty'}: {why}.")
    if not statuses:
        lines.append("The value and source cells are empty.")
    return lines


def _scale(ax, values: np.ndarray) -> None:
    positive = values[values > 0]
    if positive.size and (values <= 0).any() and positive.max() / positive.min() > 20:
        # Linear near zero (where the zeros sit), logarithmic above; counts are never
        # negative, so the axis starts at 0 rather than mirroring into negatives.
        ax.set_yscale("symlog", linthresh=float(positive.min()))
        ax.set_ylim(bottom=0, top=float(positive.max()) * 2)
    elif positive.size and positive.max() / positive.min() > 20:
        log_axis(ax, "y", 10)
    else:
        ax.set_ylim(bottom=0)


def draw(frame: pd.DataFrame, results: Results):
    sel = _slice(results)
    measured = frame[frame["what"] == "measured"]
    notes = []
    for key, part in sel.groupby("machine", sort=False):
        for metric, (name, _) in METRICS.items():
            source_col = f"{metric}_source"
            if metric not in part or source_col not in part:
                continue
            if metric not in ALWAYS and part[metric].isna().all():
                continue  # not this vendor's quantity: nothing to explain
            missing = part[part[metric].isna()]
            if missing.empty or measured[measured["metric"] == metric].empty:
                continue  # an empty panel says why itself
            statuses = Counter(missing[source_col])
            status, n = statuses.most_common(1)[0]
            notes.append(f"{results.machines[key].hostname}: {name} not counted for "
                         f"{len(missing)} of {len(part)} points ("
                         + ", ".join(f"{c} {s or 'empty'}" for s, c in statuses.most_common())
                         + f"): {STATUS_WHY.get(status, 'no reason recorded')}")
    notes += missing_notes(results.points, "table_size", shown=set(sel["table_size"]))
    where = ""
    if not sel.empty:
        n = ", ".join(str(int(t)) for t in sorted(sel["threads"].unique()))
        where = (f"At {n} thread{'s' if n != '1' else ''}, batch "
                 f"{', '.join(str(int(b)) for b in sorted(sel['batch_size'].unique()))}. ")
    if measured.empty:
        subtitle = where + "No counter values in these results; each panel says why."
    else:
        subtitle = (where + "Each series is labelled with its source: perf = counted by the "
                    "CPU, cachegrind = simulated LLC, model = estimated. Hollow markers: not "
                    "counted by hardware. Dashed grey: one uncompressed row (dim x 4 B, in "
                    "cache lines for misses).")
    page = Page(TITLE, subtitle, results, notes=notes)
    panels = [m for m in METRICS if m in ALWAYS or not measured[measured["metric"] == m].empty]
    axes = page.axes(1, len(panels))
    palette = Palette(results)
    for ax, metric in zip(axes, panels):
        name, ylabel = METRICS[metric]
        ax.set_title(name)
        m = measured[measured["metric"] == metric]
        if m.empty:
            no_data(ax, why_not(results, metric, sel), title=name)
            continue
        for kernel, label in series_order(m):
            s_all = m[(m["kernel"] == kernel) & (m["label"] == label)]
            for (key, source), s in s_all.groupby(["machine", "source"], sort=False):
                style = palette.line(kernel, label, results.machines[key])
                if source != "perf":
                    style["markerfacecolor"] = "white"
                ax.plot(s["llc_ratio"], s["value"], **style)
                tag = f"{source}: {QUALIFIER[metric]}" if metric in QUALIFIER else source
                page.series(kernel, f"{label} [{tag}]", style)
        ref = frame[(frame["what"] == "one row") & (frame["metric"] == metric)]
        ref_style = {"color": "#999999", "linestyle": "--", "linewidth": 1.0}
        for _, r in ref.iterrows():
            ax.axhline(r["value"], **ref_style)
        if not ref.empty:
            page.reference("one uncompressed row (dim x 4 B)", ref_style)
        ax.axvline(1.0, color="#555555", linestyle=":", linewidth=1.4)
        log_axis(ax, "x", 2)
        ax.set_xticks(sorted(set(m["llc_ratio"]) | {1.0}))
        ax.xaxis.set_major_formatter(ratio_formatter())
        _scale(ax, np.concatenate([m["value"].to_numpy(float), ref["value"].to_numpy(float)]))
        ax.set_xlabel("uncompressed table size (x LLC, log scale; dotted: LLC)")
        ax.set_ylabel(ylabel)
    return page.finish()


FIGURE = FigureSpec(
    "counters", TITLE,
    "LLC misses and DRAM bytes per lookup vs table size, each labelled perf, cachegrind "
    "or model, or why none were counted",
    data, draw)

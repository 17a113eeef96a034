"""Scaling: lookups per second vs threads, for the smallest (cache-resident) and the
largest (DRAM-resident) table, at the largest batch, with linear scaling from each
series' fewest-thread point drawn for comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.report.figures import FigureSpec
from harness.report.load import Results
from harness.report.select import failed_notes, largest_batch, missing_notes, scenario_llc_ratio
from harness.report.quality import flagged, quality_of
from harness.report.style import Page, Palette, band, hollow_flagged, log_axis, no_data

TITLE = "Throughput vs threads (scaling)"
COLUMNS = ["panel", "machine", "kernel", "label", "table_size", "llc_ratio", "batch_size",
           "threads", "lookups_per_s", "lookups_per_s_at_p75", "lookups_per_s_at_p25",
           "linear_scaling", "point_id", "quality", "hollow"]


def data(results: Results) -> pd.DataFrame:
    sel = largest_batch(results.ok)
    rows = []
    for panel, pick in (("smallest table", "min"), ("largest table", "max")):
        sized = scenario_llc_ratio(sel)
        part = sel[np.isclose(sized, sized.groupby(sel["machine"]).transform(pick), rtol=1e-6)]
        lookups = part["batch_size"] * part["pooling"] * part["features"]
        frame = pd.DataFrame({
            "panel": panel, "machine": part["machine"], "kernel": part["kernel"],
            "label": part["label"], "table_size": part["table_size"],
            "llc_ratio": part["llc_ratio"], "batch_size": part["batch_size"].astype(int),
            "threads": part["threads"].astype(int), "lookups_per_s": part["lookups_per_s"],
            "lookups_per_s_at_p75": lookups / part["latency_p75_ns"] * 1e9,
            "lookups_per_s_at_p25": lookups / part["latency_p25_ns"] * 1e9,
            "point_id": part["point_id"], "quality": quality_of(part),
            "hollow": flagged(part)})
        first = frame.sort_values("threads").groupby(["machine", "kernel", "label"])
        base = first["lookups_per_s"].transform("first") / first["threads"].transform("first")
        frame["linear_scaling"] = base * frame["threads"]
        rows.append(frame)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COLUMNS)
    return out[COLUMNS].sort_values(["panel", "machine", "kernel", "label", "threads"],
                                    ignore_index=True)


def draw(frame: pd.DataFrame, results: Results):
    threads = sorted(int(t) for t in frame["threads"].unique())
    notes = missing_notes(results.points, "threads", shown=set(threads))
    notes += failed_notes(results.points[results.points["threads"].isin(threads)])
    tables = {p: ", ".join(sorted(set(frame.loc[frame["panel"] == p, "table_size"])))
              for p in ("smallest table", "largest table")}
    batches = ", ".join(str(b) for b in sorted(frame["batch_size"].unique()))
    subtitle = (f"Lookups per second (lookups in a batch / median batch latency) at batch "
                f"{batches}. Thin dashed: linear scaling from each series' fewest-thread "
                f"point. Error bars: throughput at the p75 and p25 batch latency (the "
                f"interquartile range of per-batch latency).")
    page = Page(TITLE, subtitle, results, notes=notes)
    if len(threads) < 2:
        no_data(page.axes()[0], [f"Scaling needs at least two thread counts; these results "
                                 f"have {len(threads)} ({', '.join(map(str, threads))})."]
                + notes)
        return page.finish()
    axes = page.axes(1, 2)
    palette = Palette(results)
    for ax, panel in zip(axes, ("smallest table", "largest table")):
        sel = frame[frame["panel"] == panel]
        for kernel, label, s, style in palette.each_series(sel):
            band(ax, s["threads"], s["lookups_per_s"], s["lookups_per_s_at_p75"],
                 s["lookups_per_s_at_p25"], style)
            hollow_flagged(ax, page, s, "threads", "lookups_per_s", style)
            ax.plot(s["threads"], s["linear_scaling"], color=style["color"],
                    linestyle=(0, (4, 3)), linewidth=0.8, alpha=0.7)
            page.series(kernel, label, style)
        page.reference("linear scaling (thin dashed, in the kernel's colour)",
                       {"color": "#777777", "linestyle": (0, (4, 3)), "linewidth": 0.8})
        log_axis(ax, "x", 2, sel["threads"])
        log_axis(ax, "y", 10)
        ax.set_title(f"{panel}: {tables[panel]}")
        ax.set_xlabel("threads (each pinned to its own CPU, log scale)")
        ax.set_ylabel("throughput (lookups per second, log scale)")
    return page.finish()


FIGURE = FigureSpec(
    "scaling", TITLE,
    "lookups per second vs threads for the smallest and largest table, with linear scaling",
    data, draw)

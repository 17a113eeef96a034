"""The paper's latency figure: embedding latency per batch vs batch size, baseline vs
MEM-REC and peers, one panel per thread count, at the largest table measured (the
DRAM-resident case the paper is about). Noisy or unstable points are drawn hollow."""

from __future__ import annotations

import math

import pandas as pd

from harness.report.figures import FigureSpec
from harness.report.load import Results
from harness.report.quality import flagged, quality_of
from harness.report.select import failed_notes, largest_table, missing_notes
from harness.report.style import (ERRORBAR_NOTE, Page, Palette, band, hollow_flagged,
                                  log_axis, no_data)
from harness.scenario.sizes import format_bytes

TITLE = "Embedding latency per batch vs batch size"
COLUMNS = ["machine", "threads", "kernel", "label", "table_size", "llc_ratio", "table_bytes",
           "batch_size", "latency_p50_us", "latency_p25_us", "latency_p75_us", "point_id",
           "quality", "hollow"]


def data(results: Results) -> pd.DataFrame:
    sel = largest_table(results.ok)
    out = pd.DataFrame({
        "machine": sel["machine"], "threads": sel["threads"].astype(int),
        "kernel": sel["kernel"], "label": sel["label"], "table_size": sel["table_size"],
        "llc_ratio": sel["llc_ratio"], "table_bytes": sel["table_bytes"],
        "batch_size": sel["batch_size"].astype(int),
        "latency_p50_us": sel["latency_p50_ns"] / 1e3,
        "latency_p25_us": sel["latency_p25_ns"] / 1e3,
        "latency_p75_us": sel["latency_p75_ns"] / 1e3, "point_id": sel["point_id"],
        "quality": quality_of(sel), "hollow": flagged(sel)},
        columns=COLUMNS)
    return out.sort_values(["machine", "threads", "kernel", "label", "batch_size"],
                           ignore_index=True)


def _table_text(frame: pd.DataFrame, results: Results) -> str:
    parts = []
    for key, group in frame.groupby("machine", sort=False):
        row = group.iloc[0]
        parts.append(f"{row['table_size']} ({format_bytes(row['table_bytes'])}) on "
                     f"{results.machines[key].hostname}")
    return "; ".join(parts)


def draw(frame: pd.DataFrame, results: Results):
    threads = sorted(frame["threads"].unique())
    notes = missing_notes(results.points, "threads", shown=set(threads))
    notes += failed_notes(results.points[results.points["threads"].isin(threads)])
    subtitle = (f"Median latency of one batch (one kernel call) at the largest table "
                f"measured: {_table_text(frame, results)}. One panel per thread count. "
                f"{ERRORBAR_NOTE['iqr']}." if not frame.empty else "")
    page = Page(TITLE, subtitle, results, notes=notes)
    if frame.empty:
        no_data(page.axes()[0], ["No measured points to draw."] + notes)
        return page.finish()
    ncols = min(3, len(threads))
    axes = page.axes(math.ceil(len(threads) / ncols), ncols)
    palette = Palette(results)
    for ax, t in zip(axes, threads):
        panel = frame[frame["threads"] == t]
        for kernel, label, s, style in palette.each_series(panel):
            band(ax, s["batch_size"], s["latency_p50_us"], s["latency_p25_us"],
                 s["latency_p75_us"], style)
            page.series(kernel, label, style)
            hollow_flagged(ax, page, s, "batch_size", "latency_p50_us", style)
        log_axis(ax, "x", 2, panel["batch_size"])
        log_axis(ax, "y", 10)
        ax.set_title(f"{t} thread{'s' if t != 1 else ''}")
        ax.set_xlabel("batch size (samples per kernel call, log scale)")
        ax.set_ylabel("latency per batch (µs, log scale)")
    low, high = frame["latency_p25_us"].min(), frame["latency_p75_us"].max()
    for ax in axes[:len(threads)]:  # one scale for every panel, so panels compare
        ax.set_ylim(low / 1.4, high * 1.4)
    for ax in axes[len(threads):]:
        ax.set_visible(False)
    return page.finish()


FIGURE = FigureSpec(
    "latency", TITLE,
    "baseline vs MEM-REC and peers, one panel per thread count, at the largest table",
    data, draw)

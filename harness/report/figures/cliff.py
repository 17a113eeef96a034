"""The cache cliff: ns per lookup vs uncompressed table size in LLC multiples, with
the LLC boundary and MEM-REC's token-table size marked. The baseline should step up
where its table leaves the LLC; MEM-REC's cost follows its own token table, not the
vocabulary's size."""

from __future__ import annotations

import pandas as pd

from harness.report.figures import FigureSpec
from harness.report.load import Results
from harness.report.select import (MEMREC, failed_notes, largest_batch, missing_notes,
                                   thread_panels)
from harness.report.quality import flagged, quality_of
from harness.report.style import (ERRORBAR_NOTE, Page, Palette, band, hollow_flagged, log_axis,
                                  no_data, ratio_formatter)
from harness.scenario.sizes import format_bytes

TITLE = "The cache cliff: time per lookup vs table size"
COLUMNS = ["what", "machine", "threads", "kernel", "label", "batch_size", "table_size",
           "llc_ratio", "table_bytes", "ns_per_lookup", "ns_per_lookup_p25",
           "ns_per_lookup_p75", "point_id", "quality", "hollow"]


def token_table_bytes(params: dict, dim: int) -> float | None:
    """Bytes of MEM-REC's token table (d rows of dim fp32), from the point's params."""
    rows = params.get("token_rows")
    return float(rows) * dim * 4 if isinstance(rows, (int, float)) else None


def data(results: Results) -> pd.DataFrame:
    ok = results.ok
    sel = largest_batch(ok[ok["threads"].isin(thread_panels(ok))])
    lookups = sel["batch_size"] * sel["pooling"] * sel["features"]
    points = pd.DataFrame({
        "what": "point", "machine": sel["machine"], "threads": sel["threads"].astype(int),
        "kernel": sel["kernel"], "label": sel["label"], "batch_size": sel["batch_size"],
        "table_size": sel["table_size"], "llc_ratio": sel["llc_ratio"],
        "table_bytes": sel["table_bytes"], "ns_per_lookup": sel["ns_per_lookup"],
        "ns_per_lookup_p25": sel["latency_p25_ns"] / lookups,
        "ns_per_lookup_p75": sel["latency_p75_ns"] / lookups, "point_id": sel["point_id"],
        "quality": quality_of(sel), "hollow": flagged(sel)},
        columns=COLUMNS)
    markers = {}  # one mark per distinct token-table size (several series may share one)
    mem = sel[sel["kernel"] == MEMREC].drop_duplicates(["machine", "label"])
    for _, p in mem.iterrows():
        nbytes = token_table_bytes(p["params_obj"], int(p["dim"]))
        if nbytes is None:
            continue
        ratio = nbytes / results.machines[p["machine"]].llc_bytes
        mark = markers.setdefault(round(ratio, 3), {
            "what": "token table", "machine": p["machine"], "kernel": p["kernel"],
            "label": p["params_written"].get("token_rows", p["label"]), "llc_ratio": ratio,
            "table_bytes": nbytes})
        if mark["machine"] != p["machine"]:
            mark["machine"] = "several"
    markers = list(markers.values())
    frame = pd.concat([points, pd.DataFrame(markers, columns=COLUMNS)], ignore_index=True) \
        if markers else points
    return frame.sort_values(["what", "machine", "threads", "kernel", "label", "llc_ratio"],
                             ignore_index=True)


def draw(frame: pd.DataFrame, results: Results):
    pts = frame[frame["what"] == "point"]
    marks = frame[frame["what"] == "token table"]
    threads = sorted(int(t) for t in pts["threads"].dropna().unique())
    notes = missing_notes(results.points, "threads", shown=set(threads))
    notes += missing_notes(results.points, "table_size", shown=set(pts["table_size"]))
    notes += failed_notes(results.points[results.points["threads"].isin(threads)])
    batches = ", ".join(str(int(b)) for b in sorted(pts["batch_size"].unique()))
    subtitle = (f"Median time per lookup (batch latency / lookups in the batch) at batch "
                f"{batches}, the largest measured. Dotted grey: the LLC boundary (table = 1x "
                f"LLC); dotted red: MEM-REC's token tables (d x dim x 4 B) on the same "
                f"scale. {ERRORBAR_NOTE['iqr']}.")
    page = Page(TITLE, subtitle if not pts.empty else "", results, notes=notes)
    if pts.empty:
        no_data(page.axes()[0], ["No measured points to draw."] + notes)
        return page.finish()
    axes = page.axes(1, len(threads))
    palette = Palette(results)
    for ax, t in zip(axes, threads):
        panel = pts[pts["threads"] == t]
        for kernel, label, s, style in palette.each_series(panel):
            band(ax, s["llc_ratio"], s["ns_per_lookup"], s["ns_per_lookup_p25"],
                 s["ns_per_lookup_p75"], style)
            hollow_flagged(ax, page, s, "llc_ratio", "ns_per_lookup", style)
            page.series(kernel, label, style)
        llc_style = {"color": "#555555", "linestyle": ":", "linewidth": 1.6}
        ax.axvline(1.0, **llc_style)
        ax.annotate("LLC", (1.0, 0.02), xycoords=ax.get_xaxis_transform(), xytext=(-3, 0),
                    textcoords="offset points", va="bottom", ha="right", rotation=90,
                    fontsize=8, color="#555555")
        page.reference("LLC boundary (table = 1x LLC)", llc_style)
        mark_style = {"color": "#b2182b", "linestyle": (0, (1, 2)), "linewidth": 1.4}
        for _, m in marks.iterrows():
            ax.axvline(m["llc_ratio"], **mark_style)
            size = (f" = {format_bytes(m['table_bytes'])}" if m["machine"] != "several"
                    and len(results.machines) == 1 else "")
            ax.annotate(f"token table d={m['label']}{size}", (m["llc_ratio"], 0.98),
                        xycoords=ax.get_xaxis_transform(), xytext=(3, 0),
                        textcoords="offset points", fontsize=7.5, color=mark_style["color"],
                        rotation=90, ha="left", va="top")
        if not marks.empty:
            page.reference("MEM-REC token table size", mark_style)
        xs = list(panel["llc_ratio"]) + list(marks["llc_ratio"]) + [1.0]
        log_axis(ax, "x", 2)
        ax.set_xlim(min(xs) / 1.6, max(xs) * 1.6)
        ax.xaxis.set_major_formatter(ratio_formatter())
        log_axis(ax, "y", 10)
        ax.set_xlabel("uncompressed table size (x LLC and bytes, log scale)"
                      if len(results.machines) == 1 else
                      "uncompressed table size (x LLC, log scale)")
        ax.set_ylabel("time per lookup (ns, log scale)")
        ax.set_title(f"{t} thread{'s' if t != 1 else ''}")
        ticks = sorted(set(panel["llc_ratio"]) | {1.0})
        ax.set_xticks(ticks)
        if len(results.machines) == 1:  # one LLC: the bytes each multiple stands for
            llc = next(iter(results.machines.values())).llc_bytes
            ax.set_xticklabels([f"{r:g}x\n{format_bytes(r * llc)}" for r in ticks])
    return page.finish()


FIGURE = FigureSpec(
    "cliff", TITLE,
    "ns per lookup vs table size / LLC, with the LLC boundary and MEM-REC's token table",
    data, draw)

"""Kernels against the machine's limits: each kernel's cost per table row it gathers,
and the bandwidth it achieves, beside the random-row gather curve `harness limits`
measured on the same machine at the same working set (a roofline for gathers).

A kernel at 1.0 of the limit gathers rows as fast as the machine's bare gather loop
does from a table of that size; MEM-REC gathers k token rows per lookup from a table
of its token table's size, the baseline one row from the whole vocabulary's table.
"""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.ticker import FuncFormatter

from harness.limits.analysis import curve_key, gather_cost_at
from harness.report.figures import FigureSpec
from harness.report.load import Results
from harness.report.select import largest_batch, thread_panels
from harness.report.style import Page, Palette, log_axis, no_data
from harness.scenario.sizes import format_bytes

TITLE = "Kernels against the machine's limits: gather cost per row"
COLUMNS = ["what", "machine", "threads", "kernel", "label", "row_bytes", "working_set_bytes",
           "ns_per_row", "limit_ns_per_row", "fraction_of_limit", "gbytes_per_s",
           "limit_gbytes_per_s", "limit_row_bytes", "point_id"]


def _curve_key(limits: dict, row_bytes: int, threads: int) -> tuple[int, int] | None:
    """The measured gather curve nearest this row size, at these threads (else 1)."""
    measured = {curve_key(key)
                for key in limits.get("gather", {})}
    for t in (threads, 1):
        rows = sorted({r for r, tt in measured if tt == t}, key=lambda r: abs(r - row_bytes))
        if rows:
            return rows[0], t
    return None


def data(results: Results) -> pd.DataFrame:
    ok = results.ok
    rows = []
    for key, limits in results.limits.items():
        sel = largest_batch(ok[ok["machine"] == key])
        sel = sel[sel["threads"].isin(thread_panels(sel))]
        for _, p in sel.iterrows():
            row_bytes = int(p["dim"]) * 4
            per_lookup = p["bytes_per_lookup"] / row_bytes  # rows (k for MEM-REC) per id
            ws = p["kernel_bytes"] / max(1.0, p["features"])
            curve = _curve_key(limits, row_bytes, int(p["threads"]))
            limit = gather_cost_at(limits, *curve, ws) if curve else None
            ns_row = p["ns_per_lookup"] / per_lookup if per_lookup else math.nan
            rows.append({
                "what": "point", "machine": key, "threads": int(p["threads"]),
                "kernel": p["kernel"], "label": p["label"], "row_bytes": row_bytes,
                "working_set_bytes": ws, "ns_per_row": ns_row,
                "limit_ns_per_row": limit if limit else math.nan,
                "fraction_of_limit": limit / ns_row if limit and ns_row else math.nan,
                "gbytes_per_s": p["gbytes_per_s"],
                "limit_gbytes_per_s": row_bytes / limit if limit else math.nan,
                "limit_row_bytes": curve[0] if curve else math.nan,
                "point_id": p["point_id"]})
        for name, curve in limits.get("gather", {}).items():
            row_bytes, threads = curve_key(name)
            if threads not in set(sel["threads"].astype(int)):
                continue
            for c in curve:
                rows.append({"what": "limit", "machine": key, "threads": threads,
                             "kernel": "gather", "label": f"gather {row_bytes} B rows",
                             "row_bytes": row_bytes,
                             "working_set_bytes": c["working_set_bytes"],
                             "limit_ns_per_row": c["ns_per_row"],
                             "limit_gbytes_per_s": c["gbytes_per_s"]})
    return pd.DataFrame(rows, columns=COLUMNS)


def draw(frame: pd.DataFrame, results: Results):
    if frame.empty or not (frame["what"] == "point").any():
        why = ("No `harness limits` result was given for these machines: run "
               "`python -m harness limits` and pass its directory to the report too."
               if not results.limits else "No measured kernel point on a machine with limits.")
        page = Page(TITLE, "", results)
        no_data(page.axes()[0], [why])
        return page.finish()
    pts, lim = frame[frame["what"] == "point"], frame[frame["what"] == "limit"]
    threads = sorted(pts["threads"].unique())
    eff = {k: v.get("effective_llc_bytes") for k, v in results.limits.items()}
    eff_text = "; ".join(f"{results.machines[k].hostname}: effective LLC "
                         f"{format_bytes(e) if e else 'not found'}" for k, e in eff.items())
    subtitle = ("Left: time per table row a kernel gathers (its ns per lookup / rows read per "
                "lookup: 1 for the baseline, k for MEM-REC) at its largest batch, against the "
                "measured random-row gather cost (grey lines, by row size) at the kernel's "
                "working set (its table bytes). Right: the fraction of that limit achieved "
                f"(1 = as fast as the bare gather loop). {eff_text}.")
    page = Page(TITLE, subtitle, results)
    axes = page.axes(len(threads), 2)
    palette = Palette(results)
    for i, t in enumerate(threads):
        left, right = axes[2 * i], axes[2 * i + 1]
        for (key, row), curve in lim[lim["threads"] == t].groupby(["machine", "row_bytes"]):
            curve = curve.sort_values("working_set_bytes")
            shade = {64: "#bbbbbb", 256: "#888888", 512: "#444444"}.get(int(row), "#999999")
            style = {"color": shade, "linestyle": "-", "linewidth": 1.2, "alpha": 0.9}
            left.plot(curve["working_set_bytes"], curve["limit_ns_per_row"], **style)
            page.reference(f"gather limit, {int(row)} B rows", style)
        panel = pts[pts["threads"] == t]
        for kernel, label, g, style in palette.each_series(panel):
            style = {**style, "linestyle": "none"}
            left.plot(g["working_set_bytes"], g["ns_per_row"], **style)
            right.plot(g["working_set_bytes"], g["fraction_of_limit"], **style)
            page.series(kernel, label, style)
        for ax in (left, right):
            log_axis(ax, "x", 2)
            ax.set_xlabel("working set: the kernel's table bytes (log scale)")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_bytes(v)))
        log_axis(left, "y", 10)
        left.set_ylabel("ns per row gathered (log scale)")
        left.set_title(f"{t} thread{'s' if t != 1 else ''}: cost per row")
        right.axhline(1.0, color="#555555", linestyle=":", linewidth=1.2)
        right.set_ylabel("fraction of the gather limit")
        right.set_ylim(0, max(1.2, float(pts["fraction_of_limit"].max(skipna=True) or 1) * 1.1))
        right.set_title(f"{t} thread{'s' if t != 1 else ''}: fraction of the limit achieved")
    return page.finish()


FIGURE = FigureSpec(
    "limits", TITLE,
    "each kernel's ns per row and GB/s against the measured gather curve (a roofline)",
    data, draw)

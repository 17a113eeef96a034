"""Footprint: bytes and compression ratio per kernel for the scenario's tables, beside
Criteo-TB's 96.14 GB and the paper's 2900x. Footprints come from the plan, so skipped
and failed points count too: a table's size does not depend on whether it ran."""

from __future__ import annotations

import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator

from harness.report.figures import FigureSpec
from harness.report.load import Results
from harness.report.paper import CRITEO_TB_BYTES, PAPER_COMPRESSION, PAPER_MEMREC_BYTES
from harness.report.select import BASELINE, MEMREC, display_label, series_order
from harness.report.style import Page, Palette
from harness.scenario.sizes import format_bytes

TITLE = "Footprint and compression per kernel"
COLUMNS = ["machine", "kernel", "label", "table_size", "llc_ratio", "features",
           "uncompressed_bytes", "kernel_bytes", "compression", "kernel_bytes_llc_ratio",
           "criteo_tb_compression"]
MAX_TABLE_ROWS = 14


def data(results: Results) -> pd.DataFrame:
    pts = results.points.drop_duplicates(["machine", "kernel", "label", "table_size"])
    rows = []
    for _, p in pts.iterrows():
        llc = results.machines[p["machine"]].llc_bytes
        # The run's own ratio (plan: uncompressed bytes of every feature's table / the
        # kernel's): table_bytes is per feature for equal tables but the sum of all of
        # them for a scenario's cardinalities, so it cannot be multiplied out here.
        ratio = pd.to_numeric(p.get("compression"), errors="coerce")
        uncompressed = (ratio * p["kernel_bytes"] if pd.notna(ratio)
                        else p["table_bytes"] * p["features"])
        rows.append({
            "machine": p["machine"], "kernel": p["kernel"], "label": p["label"],
            "table_size": p["table_size"], "llc_ratio": p["llc_ratio"],
            "features": int(p["features"]), "uncompressed_bytes": uncompressed,
            "kernel_bytes": p["kernel_bytes"], "compression": uncompressed / p["kernel_bytes"],
            "kernel_bytes_llc_ratio": p["kernel_bytes"] / llc,
            # One MEM-REC encoder serves all 26 features in the reference code, so its
            # footprint is what Criteo-TB's 96.14 GB would shrink to.
            "criteo_tb_compression": CRITEO_TB_BYTES / p["kernel_bytes"]
            if p["kernel"] == MEMREC else float("nan")})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(["machine", "kernel", "label", "llc_ratio"], ignore_index=True)


def _decimal(nbytes: float) -> str:
    """Decimal units, as the paper writes sizes: 33.2 MB, 96.1 GB."""
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes:.0f} B"


def _ratio(value: float) -> str:
    return f"{value:,.0f}x" if value >= 100 else f"{value:.3g}x"


def _table_rows(frame: pd.DataFrame, results: Results, sizes: list[str]):
    """(cells, colours) per (machine, kernel, label): footprint, ratio per table size."""
    palette = Palette(results)
    cells, colors = [], []
    many = len(results.machines) > 1
    for kernel, label in series_order(frame):
        series = frame[(frame["kernel"] == kernel) & (frame["label"] == label)]
        for key in results.machines:  # machines in the order the legend names them
            g = series[series["machine"] == key]
            if g.empty:
                continue
            by_size = dict(zip(g["table_size"], g["compression"]))
            name = display_label(label, kernel) + (
                f" ({results.machines[key].hostname})" if many else "")
            foot = ("= the table" if kernel == BASELINE
                    else _decimal(g["kernel_bytes"].iloc[0]))
            llc = "" if kernel == BASELINE else f"{g['kernel_bytes_llc_ratio'].iloc[0]:.3g}x"
            criteo = g["criteo_tb_compression"].iloc[0]
            cells.append([name, foot, llc]
                         + [_ratio(by_size[s]) if s in by_size else "-" for s in sizes]
                         + [_ratio(criteo) if criteo == criteo else "n/a"])
            colors.append(palette.colors.get((kernel, label), "#000000"))
    return cells, colors


def draw(frame: pd.DataFrame, results: Results):
    sizes = list(frame.sort_values("llc_ratio")["table_size"].unique())
    hosts = [m.hostname for m in results.machines.values()]
    subtitle = (f"Compression = uncompressed bytes (table x features) / the kernel's bytes; "
                f"below 1x the kernel is larger than the table. Criteo-TB: MLPerf DLRM v1's "
                f"26 tables, {CRITEO_TB_BYTES / 1e9:.2f} GB; the paper compresses it "
                f"{PAPER_COMPRESSION}x, to {PAPER_MEMREC_BYTES / 1e6:.1f} MB. Last column: "
                f"what Criteo-TB would shrink by with this MEM-REC encoder shared by all 26 "
                f"features, as the reference code does.")
    page = Page(TITLE, subtitle, results, legend=False)
    cells, colors = _table_rows(frame, results, sizes)
    shown = cells[:MAX_TABLE_ROWS]
    if len(cells) > MAX_TABLE_ROWS:
        page.notes.append(f"{len(cells) - MAX_TABLE_ROWS} more kernel rows are in the CSV.")
    header = (["kernel", "footprint", "footprint / LLC"] + sizes + ["Criteo-TB ÷"])
    table_bytes = []
    for size in sizes:
        part = frame[frame["table_size"] == size].drop_duplicates("machine")
        by_host = dict(zip(part["machine"], part["uncompressed_bytes"]))
        table_bytes.append(" / ".join(format_bytes(by_host[k]) if k in by_host else "-"
                                      for k in results.machines))
    sizes_row = ([f"uncompressed table ({' / '.join(hosts)})", "", ""] + table_bytes
                 + [f"{CRITEO_TB_BYTES / 1e9:.2f} GB"])
    reference = (["MEM-REC paper (Criteo-TB checkpoint)", f"{PAPER_MEMREC_BYTES / 1e6:.1f} MB",
                  ""] + [""] * len(sizes) + [f"{PAPER_COMPRESSION}x"])
    rows = [sizes_row] + shown + [reference]
    comp = frame[frame["kernel"] != BASELINE].drop_duplicates(["machine", "kernel", "label"])
    table_height = 0.032 * (len(rows) + 1)
    available = page.top - (page.bottom + 0.045)
    with_bars = 0 < len(comp) <= 6 and table_height < available * 0.6
    if with_bars:
        ax_table, ax_bar = page.axes(2, 1, height_ratios=(table_height,
                                                          available - table_height - 0.1))
    else:
        (ax_table,) = page.axes(1, 1)
    ax_table.axis("off")
    rest = (1 - 0.40 - 0.09 - 0.09 - 0.09) / max(1, len(sizes))
    widths = [0.40, 0.09, 0.09] + [rest] * len(sizes) + [0.09]
    height = min(1.0, table_height / (available if not with_bars else table_height))
    table = ax_table.table(cellText=rows, colLabels=header, colWidths=widths,
                           cellLoc="center", colLoc="center", bbox=[0, 1 - height, 1, height])
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row, col), cell in table.get_celld().items():
        cell.set_edgecolor("#cccccc")
        if row == 0:
            cell.set_text_props(fontweight="bold")
        elif row == 1 or row == len(rows):
            cell.set_facecolor("#f2f2f2" if row == 1 else "#eef6f5")
        elif col == 0:
            cell.set_text_props(color=colors[row - 2], fontweight="bold")
        if col == 0:
            cell.set_text_props(ha="left")
            cell.PAD = 0.02
    ax_table.set_title("compression ratio at each of the scenario's table sizes", fontsize=9)
    if not with_bars:
        return page.finish()

    palette = Palette(results)
    colors = [palette.colors.get((k, l), "#999999") for k, l in zip(comp["kernel"], comp["label"])]
    ax_bar.barh(range(len(comp)), comp["kernel_bytes"], color=colors, height=0.5)
    for i, (k, l, b, c) in enumerate(zip(comp["kernel"], comp["label"], comp["kernel_bytes"],
                                         colors)):
        ax_bar.text(b * 1.15, i, f"{display_label(l, k)}: {_decimal(b)}", va="center",
                    fontsize=8, color=c, bbox={"facecolor": "white", "edgecolor": "none",
                                               "alpha": 0.85, "pad": 1.5})
    ax_bar.set_yticks([])
    ax_bar.invert_yaxis()
    refs = [(CRITEO_TB_BYTES, f"Criteo-TB {CRITEO_TB_BYTES / 1e9:.2f} GB", "#2a9d8f"),
            (PAPER_MEMREC_BYTES, f"the paper's MEM-REC: {PAPER_MEMREC_BYTES / 1e6:.1f} MB",
             "#e76f51")]
    refs += [(m.llc_bytes, f"LLC {format_bytes(m.llc_bytes)} ({m.hostname})", "#555555")
             for m in results.machines.values()]
    styles = ("--", "-.", ":", (0, (5, 1, 1, 1)))
    for i, (value, text, color) in enumerate(refs):
        ax_bar.axvline(value, color=color, linestyle=styles[min(i, 3)], linewidth=1.4,
                       label=text)
    ax_bar.legend(loc="lower right", frameon=True, fontsize=8, framealpha=0.9)
    ax_bar.set_xscale("log")
    ax_bar.set_xlim(min([*comp["kernel_bytes"], PAPER_MEMREC_BYTES]) / 3, CRITEO_TB_BYTES * 3)
    ax_bar.xaxis.set_major_locator(LogLocator(base=10))
    ax_bar.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _decimal(v)))
    ax_bar.set_xlabel("bytes the compressed kernel owns (decimal units, log scale)")
    ax_bar.set_title("compressed footprints beside Criteo-TB, the paper's MEM-REC and the LLC",
                     fontsize=9)
    return page.finish()


FIGURE = FigureSpec(
    "footprint", TITLE,
    "bytes and compression ratio per kernel, with Criteo-TB's 96.14 GB and the paper's 2900x",
    data, draw)

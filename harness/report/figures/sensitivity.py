"""MEM-REC sensitivity: time per lookup vs k (token hashes), k' (weight hashes) and the
token table's size, each with the other parameters held fixed. Points that differ in
more than one parameter are drawn unjoined, so no line suggests a sweep that did not
happen; the baseline at the same slice is the horizontal reference."""

from __future__ import annotations

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from harness.report.figures import FigureSpec
from harness.report.load import Results
from harness.report.select import BASELINE, MEMREC, largest_batch, largest_table
from harness.report.quality import FLAGGED, quality_of
from harness.report.style import (ERRORBAR_NOTE, MACHINE_STYLES, Page, band, hollow_flagged,
                                  log_axis, no_data, wrap)
from harness.scenario.sizes import format_bytes

TITLE = "MEM-REC sensitivity: k, k' and token-table size"
PARAMS = {  # panel -> (x label, names of the parameter in the group text)
    "k": "k: token-table hashes per id",
    "k_weight": "k': weight-table hashes per id",
    "token_rows": "token-table size (d x dim x 4 B, log scale)",
}
# Qualitative colours: groups are configurations, not kernels (all are MEM-REC).
GROUP_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22")
SHORT = {"k": "k", "k_weight": "k'", "token_rows": "d", "weight_rows": "d'",
         "backend": "backend"}
COLUMNS = ["what", "panel", "machine", "held_fixed", "x", "token_table_bytes", "threads",
           "batch_size", "table_size", "ns_per_lookup", "ns_per_lookup_p25",
           "ns_per_lookup_p75", "point_id", "quality", "hollow"]


def _slice(results: Results) -> pd.DataFrame:
    ok = results.ok
    ok = ok[ok["threads"] == ok["threads"].min()]
    return largest_table(largest_batch(ok))


def data(results: Results) -> pd.DataFrame:
    sel = _slice(results)
    sel = sel.assign(quality=quality_of(sel))
    mem = sel[sel["kernel"] == MEMREC]
    one_backend = len({p.get("backend") for p in mem["params_obj"]}) <= 1
    rows = []
    for panel in PARAMS:
        for _, p in mem.iterrows():
            params = p["params_obj"]
            if panel not in params:
                continue
            lookups = p["batch_size"] * p["pooling"] * p["features"]
            token_bytes = params.get("token_rows", 0) * p["dim"] * 4
            written = p["params_written"]
            fixed = " ".join(f"{SHORT.get(k, k)}={written.get(k, v)}"
                             for k, v in params.items()
                             if k != panel and not (k == "backend" and one_backend))
            rows.append({"what": "memrec", "panel": panel, "machine": p["machine"],
                         "held_fixed": fixed,
                         "x": token_bytes if panel == "token_rows" else params[panel],
                         "token_table_bytes": token_bytes, "threads": int(p["threads"]),
                         "batch_size": int(p["batch_size"]), "table_size": p["table_size"],
                         "ns_per_lookup": p["ns_per_lookup"],
                         "ns_per_lookup_p25": p["latency_p25_ns"] / lookups,
                         "ns_per_lookup_p75": p["latency_p75_ns"] / lookups,
                         "point_id": p["point_id"], "quality": p["quality"],
                         "hollow": p["quality"] in FLAGGED})
    for _, p in sel[sel["kernel"] == BASELINE].iterrows():
        rows.append({"what": "baseline", "machine": p["machine"], "held_fixed": p["label"],
                     "threads": int(p["threads"]), "batch_size": int(p["batch_size"]),
                     "table_size": p["table_size"], "ns_per_lookup": p["ns_per_lookup"],
                     "point_id": p["point_id"]})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(["what", "panel", "machine", "held_fixed", "x"],
                             ignore_index=True, na_position="first")


def draw(frame: pd.DataFrame, results: Results):
    mem = frame[frame["what"] == "memrec"]
    base = frame[frame["what"] == "baseline"]
    if not frame.empty:
        first = frame.iloc[0]
        where = (f"At {first['threads']} thread{'s' if first['threads'] != 1 else ''}, batch {first['batch_size']}, table "
                 f"{first['table_size']} (the largest measured). ")
    else:
        where = ""
    subtitle = (where + "Lines join MEM-REC points that differ only in the panel's parameter "
                "(the others, listed in each panel, held fixed); unjoined markers differ in "
                f"more than one. {ERRORBAR_NOTE['iqr']}.")
    notes = []
    swept = mem.groupby(["panel", "machine", "held_fixed"])["x"].nunique()
    if not mem.empty and not (swept > 1).any():
        notes.append("No parameter was swept with the others held fixed: these MEM-REC "
                     "configurations differ in more than one parameter, so no line joins them.")
    page = Page(TITLE, subtitle, results, notes=notes)
    groups = max((mem[mem["panel"] == p]["held_fixed"].nunique() for p in PARAMS), default=0)
    axes = page.axes(1, 3, below=0.05 + 0.02 * groups)
    if mem.empty:
        for ax, panel in zip(axes, PARAMS):
            no_data(ax, ["No MEM-REC points measured at this slice."], title=panel)
        return page.finish()
    colors = GROUP_COLORS
    group_color = {g: colors[i % len(colors)]
                   for i, g in enumerate(sorted(mem["held_fixed"].unique()))}
    base_style = {"color": "#333333", "linestyle": "--", "linewidth": 1.2}
    for ax, (panel, xlabel) in zip(axes, PARAMS.items()):
        sel = mem[mem["panel"] == panel]
        name = {"k": "k", "k_weight": "k'", "token_rows": "token-table size"}[panel]
        ax.set_title(f"vs {name}")
        if sel["x"].nunique() < 2:
            values = ", ".join(sorted({format_bytes(v) if panel == "token_rows" else f"{v:g}"
                                       for v in sel["x"]}))
            no_data(ax, [f"No sweep of {name}: every MEM-REC point here has {name} = "
                         f"{values}.", "Sweep it in a scenario (any kernel parameter may "
                         "be a list) to draw this panel."], title=f"vs {name}")
            continue
        for (fixed, key), s in sel.groupby(["held_fixed", "machine"], sort=True):
            machine = results.machines[key]
            linestyle, marker = MACHINE_STYLES[machine.index % len(MACHINE_STYLES)]
            style = {"color": group_color[fixed], "marker": marker,
                     "linestyle": linestyle if len(s) > 1 else "none", "linewidth": 2.0,
                     "markersize": 6}
            band(ax, s["x"], s["ns_per_lookup"], s["ns_per_lookup_p25"],
                 s["ns_per_lookup_p75"], style)
            hollow_flagged(ax, page, s, "x", "ns_per_lookup", style)
        for _, b in base.iterrows():
            ax.axhline(b["ns_per_lookup"], **base_style)
        if panel == "token_rows":
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_locator(LogLocator(base=4))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_bytes(v)))
            ax.xaxis.set_minor_formatter(NullFormatter())
            llcs = sorted({results.machines[k].llc_bytes for k in sel["machine"].unique()})
            for llc in llcs:
                ax.axvline(llc, color="#555555", linestyle=":", linewidth=1.4)
            ax.annotate("LLC" if len(llcs) == 1 else "LLCs", (llcs[0], 0.02),
                        xycoords=ax.get_xaxis_transform(), xytext=(-3, 0),
                        textcoords="offset points", rotation=90, ha="right", va="bottom",
                        fontsize=8, color="#555555")
        else:
            ax.set_xticks(sorted(set(sel["x"])))
        log_axis(ax, "y", 10)
        ax.margins(x=0.12)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("time per lookup (ns, log scale)")
        handles = [Line2D([], [], color=group_color[g], marker="o", linestyle="-")
                   for g in sorted(sel["held_fixed"].unique())]
        ax.legend(handles, [wrap(g, 40) for g in sorted(sel["held_fixed"].unique())],
                  title="held fixed", fontsize=7, title_fontsize=7, loc="upper center",
                  bbox_to_anchor=(0.5, -0.14), frameon=False)
    if not base.empty:
        page.reference("baseline at the same slice", base_style)
    return page.finish()


FIGURE = FigureSpec(
    "sensitivity", TITLE,
    "MEM-REC time per lookup vs k, k' and token-table size, others held fixed",
    data, draw)

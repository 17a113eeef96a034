"""The paper's speedup figure: baseline latency / compressed latency, matched point by
point (same run, table, dim, batch, pooling, features, threads, distribution, pages),
vs batch size (at the largest table) and vs table size in LLC multiples (at the
batch nearest 128, the reference inference benchmark's), with the paper's "up to
3.4x" drawn for comparison, and, where a `harness limits` result of the machine is known,
the speedup the machine allows each pair (harness/limits/ceiling.py: the baseline's gather
floor over k token rows + k' weight reads + the output write) drawn dotted beside it.

A pair with a noisy or unstable point is drawn hollow; the page's headline is the
robust figure of harness.report.quality (the best 95% lower bound over pairs of ok
points), never the largest ratio."""

from __future__ import annotations

import pandas as pd

from harness.limits.ceiling import (judge, ns_per_lookup,
                                    speedup_ceiling)
from harness.report.figures import FigureSpec
from harness.report.load import Results
from harness.report.paper import PAPER_SPEEDUP
from harness.report.quality import CLEAN, FLAGGED, headline, quality_of
from harness.report.select import (largest_table, match_baseline,
                                   missing_notes, nearest_batch, thread_panels)
from harness.report.spread import ratio_of_medians_ci
from harness.report.style import (ERRORBAR_NOTE, Page, Palette, band, hollow_flagged,
                                  log_axis, no_data, ratio_axis, ratio_formatter)

TITLE = "Speedup of compressed embeddings over the baseline"
PAPER_BATCH = 128  # the reference code's inference benchmark batch
PANELS = ("vs batch size", "vs table size")
COLUMNS = ["panel", "machine", "threads", "kernel", "label", "x", "table_size", "llc_ratio",
           "batch_size", "speedup", "ci95_lo", "ci95_hi", "baseline_p50_ns",
           "compressed_p50_ns", "point_id", "baseline_point_id", "speedup_ceiling",
           "ceiling_fraction", "ceiling_note", "quality", "baseline_quality", "clean",
           "hollow"]


def _ceiling(results: Results, p) -> dict:
    """The speedup this pair's machine allows, from its limits result (or why none)."""
    base = results.points[(results.points["machine"] == p["machine"])
                          & (results.points["point_id"] == p["base_point_id"])]
    c = speedup_ceiling(results.limits.get(p["machine"]), base.iloc[0].to_dict(), p.to_dict())
    speedup = p["base_p50_ns"] / p["latency_p50_ns"]
    # A side faster than its modelled floor sets it; above 1.05, which side left its
    # floor (harness.limits.ceiling.judge).
    j = judge(c, ns_per_lookup(base.iloc[0]), ns_per_lookup(p), speedup)
    return {"speedup_ceiling": j["speedup_ceiling"], "ceiling_fraction": j["ceiling_fraction"],
            "ceiling_note": c["reason"] or "; ".join(
                [c["parts"]["curve"], *c["notes"], *([j["why"]] if j["why"] else [])])}


def data(results: Results) -> pd.DataFrame:
    pairs = match_baseline(results.points)
    if pairs.empty:
        return pd.DataFrame(columns=COLUMNS)
    threads = thread_panels(pairs)
    pairs = pairs[pairs["threads"].isin(threads)].copy()
    pairs["quality"], pairs["baseline_quality"] = quality_of(pairs), quality_of(
        pairs, "base_quality")
    # Several baselines in one run (backends): each pairing is its own series.
    several = pairs.groupby(["source", "point_id"])["base_label"].transform("nunique") > 1 \
        if "source" in pairs else pd.Series(False, index=pairs.index)
    pairs.loc[several, "label"] = pairs.loc[several, "label"] + " vs " + \
        pairs.loc[several, "base_label"]
    rows = []
    for panel, sel, x in ((PANELS[0], largest_table(pairs), "batch_size"),
                          (PANELS[1], nearest_batch(pairs, PAPER_BATCH), "llc_ratio")):
        for _, p in sel.iterrows():
            lo, hi = ratio_of_medians_ci(results.values_ns(p["machine"], p["base_point_id"]),
                                         results.values_ns(p["machine"], p["point_id"]))
            rows.append({"panel": panel, "machine": p["machine"], "threads": int(p["threads"]),
                         "kernel": p["kernel"], "label": p["label"], "x": p[x],
                         "table_size": p["table_size"], "llc_ratio": p["llc_ratio"],
                         "batch_size": int(p["batch_size"]),
                         "speedup": p["base_p50_ns"] / p["latency_p50_ns"],
                         "ci95_lo": lo, "ci95_hi": hi, "baseline_p50_ns": p["base_p50_ns"],
                         "compressed_p50_ns": p["latency_p50_ns"], "point_id": p["point_id"],
                         "baseline_point_id": p["base_point_id"], "quality": p["quality"],
                         "baseline_quality": p["baseline_quality"],
                         # a headline needs both sides ok; either side flagged: hollow
                         "clean": p["quality"] == CLEAN and p["baseline_quality"] == CLEAN,
                         "hollow": p["quality"] in FLAGGED or p["baseline_quality"] in FLAGGED,
                         } | _ceiling(results, p))
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(
        ["panel", "threads", "machine", "kernel", "label", "x"], ignore_index=True)


def _slices(frame: pd.DataFrame) -> str:
    tables = sorted(set(frame.loc[frame["panel"] == PANELS[0], "table_size"]))
    batches = sorted(set(frame.loc[frame["panel"] == PANELS[1], "batch_size"]))
    return (f"Left: at the largest table ({', '.join(tables)}); right: at batch "
            f"{', '.join(map(str, batches))} (nearest the reference benchmark's "
            f"{PAPER_BATCH}). Above 1x the compressed kernel is faster; speedup = baseline median "
            f"latency / compressed median latency.")


CEILING_STYLE = {"color": "#444444", "linestyle": ":", "marker": "o",
                 "markerfacecolor": "white", "linewidth": 1.2}


def _ceilings(frame: pd.DataFrame) -> str:
    """How close the kernels came to what the machine allows (median over pairs)."""
    reached = frame["ceiling_fraction"].dropna()
    if reached.empty:
        return ""
    return (f"Median {reached.median():.2f} of the speedup this machine allows "
            f"({len(reached)} pair{'s' if len(reached) != 1 else ''}; dotted: the ceiling). ")


def draw(frame: pd.DataFrame, results: Results):
    notes = missing_notes(results.points, "threads",
                          shown=set(frame["threads"]) if not frame.empty else None)
    no_ci = frame[frame["ci95_lo"].isna() | frame["ci95_hi"].isna()] if not frame.empty else frame
    if len(no_ci):
        notes.append(f"{len(no_ci)} point(s) without a 95% interval (no per-batch samples in "
                     f"pyperf.json), drawn without an error bar: "
                     f"{', '.join(no_ci['point_id'].astype(str).head(3))}")
    if not frame.empty:
        for note in sorted(set(frame.loc[frame["speedup_ceiling"].isna(), "ceiling_note"])):
            hosts = sorted({results.machines[m].hostname for m in frame.loc[
                frame["ceiling_note"] == note, "machine"]})
            notes.append(f"no speedup ceiling drawn ({', '.join(hosts)}): {note}")
    if frame.empty:
        page = Page(TITLE, "", results, notes=notes)
        no_data(page.axes()[0], [
            "No speedup to draw: no compressed point has an ok baseline point at the same "
            "machine, table, batch, pooling, features, threads and index distribution.",
            "Run baseline and MEM-REC in one scenario to compare them."])
        return page.finish()
    threads = sorted(frame["threads"].unique())
    subtitle = (f"{headline(frame, PAPER_SPEEDUP)} {_ceilings(frame)}{_slices(frame)} "
                f"{ERRORBAR_NOTE['ci']}.")
    page = Page(TITLE, subtitle, results, notes=notes)
    axes = page.axes(len(threads), 2)
    palette = Palette(results)
    # Limits follow the medians and the references; a very wide interval runs off the
    # axis rather than squashing every curve.
    lo_y = min(frame["speedup"].min(), 0.5) / 1.6
    hi_y = max(frame["speedup"].max(), frame["speedup_ceiling"].max(skipna=True)
               if frame["speedup_ceiling"].notna().any() else 0, PAPER_SPEEDUP) * 1.6
    for row, t in enumerate(threads):
        for col, panel in enumerate(PANELS):
            ax = axes[row * 2 + col]
            sel = frame[(frame["threads"] == t) & (frame["panel"] == panel)]
            for kernel, label, s, style in palette.each_series(sel):
                # A point without an interval (no samples in pyperf.json) gets no bar,
                # not a zero-width one that would claim a tight interval.
                band(ax, s["x"], s["speedup"], s["ci95_lo"], s["ci95_hi"], style)
                hollow_flagged(ax, page, s, "x", "speedup", style)
                page.series(kernel, label, style)
                ceiling = s[s["speedup_ceiling"].notna()]
                if not ceiling.empty:
                    # The same series' ceiling: same colour and marker, dotted and hollow.
                    ax.plot(ceiling["x"], ceiling["speedup_ceiling"], **{
                        **style, "linestyle": ":", "markerfacecolor": "white",
                        "linewidth": 1.2})
                    page.reference("dotted, hollow: the speedup this machine allows "
                                   "(harness limits' gather floors)", CEILING_STYLE)
            ref = {"color": "#2a9d8f", "linestyle": (0, (6, 3)), "linewidth": 1.4}
            ax.axhline(PAPER_SPEEDUP, **ref)
            ax.text(0.01, PAPER_SPEEDUP, f" paper: up to {PAPER_SPEEDUP}x", va="bottom",
                    color=ref["color"], fontsize=8, transform=ax.get_yaxis_transform())
            parity = {"color": "#777777", "linestyle": "-", "linewidth": 0.9}
            ax.axhline(1.0, **parity)
            page.reference(f"paper: up to {PAPER_SPEEDUP}x faster lookups", ref)
            page.reference("1x: as fast as the baseline", parity)
            ratio_axis(ax, "y")
            ax.set_ylim(lo_y, hi_y)
            if panel == PANELS[0]:
                log_axis(ax, "x", 2, sel["x"])
                ax.set_xlabel("batch size (samples per kernel call, log scale)")
            else:
                log_axis(ax, "x", 2, sel["x"])
                ax.xaxis.set_major_formatter(ratio_formatter())
                ax.set_xlabel("uncompressed table size (multiples of the LLC, log scale)")
            ax.set_ylabel("speedup: baseline / compressed (log)")
            ax.set_title(f"{panel}, {t} thread{'s' if t != 1 else ''}")
            if sel.empty:
                ax.text(0.5, 0.5, "no matched points", ha="center", transform=ax.transAxes)
    return page.finish()


FIGURE = FigureSpec(
    "speedup", TITLE,
    "baseline / MEM-REC latency vs batch size and vs table size in LLC multiples, "
    "with the paper's up to 3.4x",
    data, draw)

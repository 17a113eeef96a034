"""Serving pages, from stored ``harness serve`` results only: the knee, the capacity at
the latency bound, and the speedup by NUMA placement.

- ``serve_knee``: p99 (and p50) latency against offered load per kernel, the bound
  drawn across; queues form where the curve turns up. Overloaded rates sit on the
  top edge as crosses: their percentiles are not measured, only that they failed.
- ``serve_capacity``: the highest offered rate whose p99 stays within the bound,
  baseline vs MEM-REC, with the ratio; a rate at the top of the sweep is a lower
  bound (">="), and a kernel meeting no rate has no bar, said in words.
- ``serve_placement``: per placement, MEM-REC's speedup over the baseline at one
  batch alone and at the bound; one-node machines say which placements were
  skipped and why.

Same shape as the run report's figures (a FigureSpec: ``data`` is exactly what is
drawn, ``draw`` makes the page), over ``ServeResults`` instead of run results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.report.figures import FigureSpec
from harness.report.select import display_label, role
from harness.report.style import BASELINE_COLOR, MEMREC_COLORS, PAGE_SIZE, PEER_COLORS, wrap
from harness.store.serving import load_serve

SLICE = ["machine", "table_size", "batch_size", "threads", "pages", "placement"]


@dataclass
class ServeResults:
    """Serving results of one or more directories as tables (one row per point x rate)."""

    rates: pd.DataFrame
    points: pd.DataFrame
    slo_ms: float
    footer: list[str] = field(default_factory=list)


def load_serve_results(directories: list[Path]) -> ServeResults:
    import json

    rate_rows, point_rows, footer, slo = [], [], [], None
    for directory in directories:
        data = load_serve(directory)
        manifest = json.loads((Path(directory) / "manifest.json").read_text())
        machine = manifest.get("machine", {})
        host = f"{machine.get('hostname', '?')} ({machine.get('model_name', '?')})"
        slo = data["serve"]["slo_ms"] if slo is None else slo
        footer.append(f"{host} | served {manifest.get('created', '?')[:16]} | pinned CPUs "
                      f"{manifest.get('effective', {}).get('pinning_cpus', '?')} | "
                      f"{data['serve']['batching']['policy']} batching | SLO p99 <= "
                      f"{data['serve']['slo_ms']:g} ms | commit "
                      f"{str(manifest.get('git', {}).get('commit', '?'))[:10]}")
        for entry in data["points"]:
            p = entry["point"]
            base = {"machine": host, "kernel": p["kernel"], "label": p["label"],
                    "table_size": p["table_size"], "batch_size": p["batch_size"],
                    "threads": p["threads"], "pages": p.get("pages", "default"),
                    "placement": p.get("placement", "local"), "point_id": entry["point_id"]}
            within = entry.get("within_slo") or {}
            point_rows.append(dict(base, status=entry["status"], reason=entry["reason"],
                                   batch_alone_p50_ns=entry.get("batch_alone_p50_ns"),
                                   max_qps=within.get("max_qps"),
                                   within_note="" if within.get("clean", True) or
                                   within.get("max_qps") is None else within.get("reason", ""),
                                   at_top=bool(entry["rates"]) and within.get("max_qps")
                                   == entry["rates"][-1]["rate_qps"],
                                   top_rate=entry["rates"][-1]["rate_qps"] if entry["rates"]
                                   else None))
            for rate in entry["rates"]:
                rate_rows.append(dict(base, **{k: rate.get(k) for k in (
                    "rate_qps", "status", "reason", "p50_ns", "p99_ns", "p999_ns",
                    "achieved_qps", "mean_batch")}))
    return ServeResults(pd.DataFrame(rate_rows), pd.DataFrame(point_rows), slo or 0.0, footer)


def _color(kernel: str, index: int) -> str:
    kind = role(kernel)
    if kind == "baseline":
        return BASELINE_COLOR
    return (MEMREC_COLORS if kind == "memrec" else PEER_COLORS)[index % 6]


def _page(title: str, results: ServeResults, notes: list[str]):
    fig = Figure(figsize=PAGE_SIZE)
    fig.suptitle(title, fontsize=13, x=0.02, ha="left")
    text = [wrap(n, 170) for n in notes[:6]] + results.footer
    fig.text(0.02, 0.02, "\n".join(text), fontsize=7, va="bottom")
    return fig


def _slices(frame: pd.DataFrame) -> list[tuple]:
    return sorted({tuple(row) for row in frame[SLICE].itertuples(index=False)}, key=str)


def _slice_title(key: tuple) -> str:
    machine, size, batch, threads, pages, placement = key
    return (f"{size}, batch <= {batch}, {threads} thread{'s' if threads != 1 else ''}, "
            f"pages {pages}, placement {placement}")


# -- the knee ----------------------------------------------------------------------
KNEE_COLUMNS = SLICE + ["kernel", "label", "rate_qps", "status", "p50_ns", "p99_ns",
                        "achieved_qps", "mean_batch"]


def knee_data(results: ServeResults) -> pd.DataFrame:
    if results.rates.empty:
        return pd.DataFrame(columns=KNEE_COLUMNS)
    frame = results.rates[results.rates["status"].isin(["ok", "overloaded"])]
    return frame[KNEE_COLUMNS].sort_values(SLICE + ["kernel", "label", "rate_qps"],
                                           ignore_index=True)


def knee_draw(frame: pd.DataFrame, results: ServeResults):
    notes = [f"p99 latency from each request's scheduled arrival to its completion "
             f"(queueing included); dotted: p50. Crosses: overloaded (served slower than "
             f"offered: the queue grew throughout, so that p99 depends on the schedule's "
             f"length); on the top edge: serving stopped. Dashed line: the bound, "
             f"{results.slo_ms:g} ms."]
    fig = _page("Tail latency vs offered load (the knee)", results, notes)
    slices = _slices(frame)[:4] if not frame.empty else []
    if not slices:
        fig.text(0.5, 0.5, "no served rate to draw", ha="center")
        return fig
    axes = fig.subplots(1, len(slices), squeeze=False)[0]
    fig.subplots_adjust(top=0.86, bottom=0.22, left=0.06, right=0.98, wspace=0.25)
    for ax, key in zip(axes, slices):
        sel = frame[(frame[SLICE] == pd.Series(key, index=SLICE)).all(axis=1)]
        top = max(float(sel["p99_ns"].max(skipna=True) or 0) / 1e6, results.slo_ms) * 3
        for i, ((kernel, label), series) in enumerate(sel.groupby(["kernel", "label"])):
            ok = series[series["status"] == "ok"]
            color = _color(kernel, i)
            ax.plot(ok["rate_qps"], ok["p99_ns"] / 1e6, "-o", color=color, markersize=4,
                    label=display_label(label, kernel))
            ax.plot(ok["rate_qps"], ok["p50_ns"] / 1e6, ":", color=color, linewidth=1)
            over = series[series["status"] == "overloaded"]
            measured = over["p99_ns"].notna()
            ax.plot(over["rate_qps"], np.where(measured, over["p99_ns"] / 1e6, top), "x",
                    color=color, markersize=8, clip_on=False)
        ax.axhline(results.slo_ms, color="black", linestyle="--", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(top=top * 1.05)
        ax.set_xlabel("offered load (requests/s)")
        ax.set_ylabel("latency (ms)")
        ax.set_title(wrap(_slice_title(key), 45), fontsize=8)
        ax.legend(fontsize=7)
    return fig


# -- capacity at the bound -----------------------------------------------------------
CAPACITY_COLUMNS = SLICE + ["kernel", "label", "max_qps", "at_top", "top_rate",
                            "ratio_to_baseline", "status", "reason", "within_note"]


def capacity_data(results: ServeResults) -> pd.DataFrame:
    points = results.points
    if points.empty:
        return pd.DataFrame(columns=CAPACITY_COLUMNS)
    rows = []
    for _, p in points[points["status"] == "ok"].iterrows():
        same = points[(points[SLICE] == p[SLICE]).all(axis=1) & (points["kernel"] == "baseline")
                      & (points["status"] == "ok")]
        base = same["max_qps"].iloc[0] if len(same) else None
        ratio = (p["max_qps"] / base if p["max_qps"] is not None and base
                 and not pd.isna(base) and not pd.isna(p["max_qps"]) else np.nan)
        rows.append({**{k: p[k] for k in CAPACITY_COLUMNS if k in p and k != "ratio_to_baseline"},
                     "ratio_to_baseline": ratio})
    return pd.DataFrame(rows, columns=CAPACITY_COLUMNS)


def capacity_draw(frame: pd.DataFrame, results: ServeResults):
    notes = [f"Highest offered rate whose p99 stayed within {results.slo_ms:g} ms, of the rates "
             f"swept; '>=' marks the top of the sweep (the true limit lies above). Ratio: "
             f"the kernel's rate over the baseline's, same slice."]
    missing = frame[frame["max_qps"].isna()] if not frame.empty else frame
    for _, row in missing.iterrows():
        name = display_label(row["label"], row["kernel"])
        notes.append(f"{name} ({_slice_title(tuple(row[SLICE]))}): no rate within the bound")
    doubtful = frame[frame["within_note"] != ""] if not frame.empty else frame
    for _, row in doubtful.iterrows():  # not a knee: a lower rate missed the bound
        name = display_label(row["label"], row["kernel"])
        notes.append(f"{name} ({_slice_title(tuple(row[SLICE]))}): {row['within_note']}")
    fig = _page("Maximum load at the latency bound: baseline vs MEM-REC", results, notes)
    if frame.empty:
        fig.text(0.5, 0.5, "no served point to draw", ha="center")
        return fig
    ax = fig.subplots()
    fig.subplots_adjust(top=0.86, bottom=0.3, left=0.08, right=0.98)
    names = [f"{display_label(r['label'], r['kernel'])}\n{r['table_size']}, b{r['batch_size']}, "
             f"t{r['threads']}, {r['placement']}" for _, r in frame.iterrows()]
    heights = frame["max_qps"].fillna(0).astype(float)
    ax.bar(range(len(frame)), heights,
           color=[_color(k, i) for i, k in enumerate(frame["kernel"])])
    for i, (_, row) in enumerate(frame.iterrows()):
        if pd.isna(row["max_qps"]):
            ax.text(i, 0, "none", ha="center", va="bottom", fontsize=8)
            continue
        text = (">= " if row["at_top"] else "") + f"{row['max_qps']:g}"
        if row["kernel"] != "baseline" and not pd.isna(row["ratio_to_baseline"]):
            text += f"\n{row['ratio_to_baseline']:.2f}x baseline"
        ax.text(i, row["max_qps"], text, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(frame)), names, fontsize=7)
    ax.set_ylabel(f"requests/s with p99 <= {results.slo_ms:g} ms")
    return fig


# -- speedup by placement ---------------------------------------------------------------
PLACEMENT_COLUMNS = ["machine", "table_size", "batch_size", "threads", "pages", "placement",
                     "kernel", "label", "speedup_alone", "capacity_ratio", "status", "reason"]


def placement_data(results: ServeResults) -> pd.DataFrame:
    points = results.points
    if points.empty:
        return pd.DataFrame(columns=PLACEMENT_COLUMNS)
    rows = []
    for _, p in points[points["kernel"] != "baseline"].iterrows():
        same = points[(points[SLICE] == p[SLICE]).all(axis=1) & (points["kernel"] == "baseline")]
        base = same.iloc[0] if len(same) else None
        alone = (base["batch_alone_p50_ns"] / p["batch_alone_p50_ns"]
                 if base is not None and p["status"] == "ok" and base["status"] == "ok"
                 and p["batch_alone_p50_ns"] else np.nan)
        cap = (p["max_qps"] / base["max_qps"] if base is not None and p["max_qps"]
               and base["max_qps"] and not pd.isna(base["max_qps"]) else np.nan)
        rows.append({**{k: p[k] for k in PLACEMENT_COLUMNS if k in p},
                     "speedup_alone": alone, "capacity_ratio": cap})
    return pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)


def placement_draw(frame: pd.DataFrame, results: ServeResults):
    skipped = results.points[results.points["status"] == "skipped"] if not \
        results.points.empty else results.points
    notes = ["Speedup alone: baseline / MEM-REC median latency of one full batch served "
             "alone; at the bound: the ratio of the highest rates within the SLO."]
    notes += sorted({f"placement {r['placement']} skipped: {r['reason']}"
                     for _, r in skipped.iterrows()})
    fig = _page("Speedup by NUMA placement", results, notes)
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty or ok["placement"].nunique() < 2:
        fig.text(0.5, 0.5, wrap("One placement measured here (a one-node machine, or the "
                                "scenario chose one): nothing to compare across placements. "
                                "On a two-socket machine sweep memory.placement: [local, "
                                "remote, interleave].", 90), ha="center", va="center")
        return fig
    ax = fig.subplots()
    fig.subplots_adjust(top=0.86, bottom=0.25, left=0.08, right=0.98)
    placements = list(dict.fromkeys(ok["placement"]))
    x = np.arange(len(placements))
    for offset, column, name in ((-0.2, "speedup_alone", "one batch alone"),
                                 (0.2, "capacity_ratio", "at the bound")):
        values = [ok.loc[ok["placement"] == pl, column].median() for pl in placements]
        ax.bar(x + offset, values, width=0.4, label=name)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(x, placements)
    ax.set_ylabel("MEM-REC over baseline (x)")
    ax.legend()
    return fig


FIGURES = (
    FigureSpec("serve_knee", "Tail latency vs offered load (the knee)",
               "p99 latency against offered load per kernel, with the bound", knee_data,
               knee_draw),
    FigureSpec("serve_capacity", "Maximum load at the latency bound: baseline vs MEM-REC",
               "highest rate within the SLO per kernel, with the ratio", capacity_data,
               capacity_draw),
    FigureSpec("serve_placement", "Speedup by NUMA placement",
               "MEM-REC over baseline per placement, alone and at the bound", placement_data,
               placement_draw),
)


def write_serve_report(directories: list[Path], out: Path, data_dir: Path | None) -> int:
    """A PDF of the serving pages (and each page's data as CSV); returns the page count."""
    from harness.report.pdf import write_pdf

    return write_pdf(out, {"CreationDate": None}, load_serve_results(directories), FIGURES,
                     data_dir)

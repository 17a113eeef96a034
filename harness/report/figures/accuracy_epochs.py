"""Test AUC after each epoch, one line per model, one panel per requested compression
(the baseline in every panel): how many more epochs a compressed embedding needs to
come near the uncompressed one, if it does (the paper: MEM-REC 6 epochs, DLRM 1)."""

from __future__ import annotations

import math

import pandas as pd

from harness.report.figures import FigureSpec
from harness.report.figures.accuracy_compression import BEST_STYLE, kind_color
from harness.report.style import Page, no_data

TITLE = "Test AUC vs epoch, per compression"
COLUMNS = ["machine", "source", "kind", "label", "model_id", "requested", "compression",
           "epoch", "train_s", "train_auc", "test_auc", "test_logloss", "best_test_auc"]


def data(results) -> pd.DataFrame:
    done = results.models[results.models["status"] == "done"]
    return done.reindex(columns=COLUMNS).sort_values(
        ["machine", "compression", "kind", "epoch"], ignore_index=True)


def draw(frame: pd.DataFrame, results):
    subtitle = ("Test AUC after each epoch of training (train AUC, on a fixed sample of the "
                "training set, is in the CSV). One panel per requested compression; the "
                "baseline (uncompressed) is drawn in each, dotted: the best achievable AUC.")
    page = Page(TITLE, subtitle, results)
    compressed = frame[frame["kind"] != "baseline"]
    levels = list(dict.fromkeys(compressed.sort_values("compression")["requested"]))
    if frame.empty:
        no_data(page.axes()[0], ["No trained model to draw."])
        return page.finish()
    levels = levels or ["1x"]
    ncols = min(3, len(levels))
    axes = page.axes(math.ceil(len(levels) / ncols), ncols)
    kinds = list(dict.fromkeys(frame["kind"]))
    baseline = frame[frame["kind"] == "baseline"]
    best = frame["best_test_auc"].dropna()
    for ax, level in zip(axes, levels):
        panel = pd.concat([baseline, compressed[compressed["requested"] == level]])
        for model_id, s in panel.groupby("model_id", sort=False):
            kind = s["kind"].iloc[0]
            style = {"color": kind_color(kind, kinds), "marker": "o", "linewidth": 1.4,
                     "linestyle": "--" if kind == "baseline" else "-"}
            ax.plot(s["epoch"], s["test_auc"], **style)
            page.series(kind, kind, style)
        if not best.empty:
            ax.axhline(best.iloc[0], **BEST_STYLE)
        ax.set_title(f"{level} compression" if level != "1x" else "baseline only")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test AUC")
        ax.set_xticks(sorted(panel["epoch"].dropna().unique().astype(int)))
    if not best.empty:
        page.reference(f"best achievable AUC {best.iloc[0]:.4f}", BEST_STYLE)
    for ax in axes[len(levels):]:
        ax.set_visible(False)
    return page.finish()


FIGURE = FigureSpec("accuracy_epochs", TITLE,
                    "test AUC after each epoch, per compression, baseline in each panel",
                    data, draw)

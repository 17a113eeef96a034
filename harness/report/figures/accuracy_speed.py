"""Speedup beside AUC loss: the paper's claim ("faster at the same AUC") on one page.

For each kind trained by ``harness accuracy`` and measured by ``harness run`` (the run
directories given to the same report), the median speedup over the baseline (baseline
ns per lookup over the kind's, pairing points of equal table, batch, pooling and
threads; ``ok`` points only) beside the kind's test AUC loss against the baseline at
its last epoch. A speed point is paired with the trained model of its kind whose
compression is nearest, within a factor of 2; anything unpaired is named in a note.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.report.figures import FigureSpec
from harness.report.figures.accuracy_compression import kind_color
from harness.report.style import Page, footer_lines, no_data

TITLE = "Speedup beside AUC loss, per kind and compression"
COLUMNS = ["kind", "model_id", "accuracy_compression", "speed_compression",
           "speedup_median", "speed_points", "test_auc", "baseline_test_auc",
           "auc_loss", "accuracy_machine", "speed_machine"]
MATCH = ["machine", "threads", "batch_size", "pooling", "features", "table_size", "dim"]


def speedups(points: pd.DataFrame) -> pd.DataFrame:
    """Per ok point of a compressed kernel, its speedup over the matching baseline."""
    ok = points[points["status"] == "ok"]
    keys = [c for c in MATCH if c in ok]
    base = ok[ok["kernel"] == "baseline"].groupby(keys)["ns_per_lookup"].median()
    rows = []
    for _, p in ok[ok["kernel"] != "baseline"].iterrows():
        key = tuple(p[c] for c in keys)
        if key in base.index:
            rows.append({"kind": p["kernel"], "machine": p["machine"],
                         "compression": p["compression"],
                         "speedup": base[key] / p["ns_per_lookup"]})
    return pd.DataFrame(rows, columns=["kind", "machine", "compression", "speedup"])


def data(results) -> pd.DataFrame:
    if results.speed is None:
        return pd.DataFrame(columns=COLUMNS)
    final = results.final
    baseline = final[final["kind"] == "baseline"]
    base_auc = baseline["test_auc"].iloc[-1] if not baseline.empty else math.nan
    speed = speedups(results.speed.points)
    rows = []
    for (kind, machine, comp), s in speed.groupby(["kind", "machine", "compression"]):
        models = final[(final["kind"] == kind) & (final["compression"] > 0)]
        if models.empty or not comp > 0:
            continue
        distance = np.abs(np.log(models["compression"].astype(float) / comp))
        nearest = models.loc[distance.idxmin()]
        if distance.min() > math.log(2):
            continue
        rows.append({"kind": kind, "model_id": nearest["model_id"],
                     "accuracy_compression": nearest["compression"],
                     "speed_compression": comp, "speedup_median": s["speedup"].median(),
                     "speed_points": len(s), "test_auc": nearest["test_auc"],
                     "baseline_test_auc": base_auc,
                     "auc_loss": base_auc - nearest["test_auc"],
                     "accuracy_machine": nearest["machine"], "speed_machine": machine})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(
        ["kind", "speed_compression"], ignore_index=True)


def draw(frame: pd.DataFrame, results):
    notes = []
    if not frame.empty and (frame["accuracy_machine"] != frame["speed_machine"]).any():
        notes.append("Speed and accuracy were measured on different machines for some rows "
                     "(see the CSV's accuracy_machine and speed_machine).")
    trained = set(results.final["kind"]) - {"baseline"}
    unpaired = sorted(trained - set(frame["kind"]))
    if unpaired:
        notes.append(f"No speed point within 2x of a trained compression for: "
                     f"{', '.join(unpaired)}.")
    notes += [f"speed: {line}" for line in footer_lines(results.speed)]
    subtitle = ("Left: median speedup of the embedding lookup over the baseline (run "
                "results given with the accuracy results; ok points only). Right: test AUC "
                "lost against the baseline after the last epoch (positive: worse). A kind "
                "is as good as claimed where it is right of 1 on the left and near 0 on "
                "the right.")
    page = Page(TITLE, subtitle, results, notes=notes, legend=False)
    if frame.empty:
        no_data(page.axes()[0], ["No kind was both measured for speed and trained for "
                                 "accuracy at a compression within 2x."] + notes)
        return page.finish()
    left, right = page.axes(1, 2)
    labels = [f"{r['kind']} {r['speed_compression']:.3g}x\n"
              f"(trained {r['accuracy_compression']:.3g}x)"
              for _, r in frame.iterrows()]
    y = np.arange(len(frame))
    kinds = list(dict.fromkeys(frame["kind"]))
    colors = [kind_color(k, kinds) for k in frame["kind"]]
    left.barh(y, frame["speedup_median"], color=colors, height=0.6)
    left.axvline(1.0, color="#333333", linewidth=1)
    left.set_yticks(y, labels, fontsize=7)
    left.set_xlabel("speedup over baseline (x)")
    right.barh(y, frame["auc_loss"], color=colors, height=0.6)
    right.axvline(0.0, color="#333333", linewidth=1)
    right.set_yticks(y, [""] * len(y))
    right.set_xlabel("test AUC loss vs baseline")
    for ax in (left, right):
        ax.invert_yaxis()
    return page.finish()


FIGURE = FigureSpec("accuracy_speed", TITLE,
                    "median speedup and AUC loss of each kind, side by side", data, draw)

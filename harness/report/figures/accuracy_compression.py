"""Test AUC vs compression, one series per embedding kind, at each model's last epoch,
with the Pareto front at equal bytes (no other model is both smaller and better), the
baseline's AUC and the best AUC the data allows (the generator's own probabilities)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.report.figures import FigureSpec
from harness.report.style import Page, log_axis, no_data

TITLE = "Test AUC vs compression, per embedding kind (Pareto front at equal bytes)"
COLUMNS = ["machine", "source", "kind", "label", "model_id", "requested", "compression",
           "embedding_bytes", "epoch", "test_auc", "test_logloss", "baseline_test_auc",
           "best_test_auc", "on_pareto_front"]
# One colour per kind on every accuracy page (MEM-REC red, as in the speed figures).
KIND_COLORS = {"baseline": "#333333", "memrec": "#d62728", "bloom": "#ff7f0e",
               "hashing_trick": "#1f77b4", "qr": "#2ca02c", "robez": "#9467bd",
               "ttrec": "#17becf"}
BEST_STYLE = {"color": "#8c564b", "linestyle": ":"}


def kind_color(kind: str, kinds: list[str] | None = None) -> str:
    return KIND_COLORS.get(kind, "#7f7f7f")


def pareto(frame: pd.DataFrame) -> pd.Series:
    """True for models no other model beats on both bytes (fewer) and AUC (higher)."""
    on = pd.Series(False, index=frame.index)
    for _, group in frame.groupby("source"):
        best = -np.inf
        for i, row in group.sort_values(["embedding_bytes", "test_auc"],
                                        ascending=[True, False]).iterrows():
            if row["test_auc"] > best:
                on[i], best = True, row["test_auc"]
    return on


def data(results) -> pd.DataFrame:
    final = results.final.copy()
    baseline = final[final["kind"] == "baseline"].set_index("source")["test_auc"]
    final["baseline_test_auc"] = final["source"].map(baseline)
    final["on_pareto_front"] = pareto(final)
    return final.reindex(columns=COLUMNS).sort_values(
        ["machine", "kind", "compression"], ignore_index=True)


def draw(frame: pd.DataFrame, results):
    notes = [f"{r['model_id']}: failed: {r['reason']}" for _, r in
             results.models[results.models["status"] == "failed"].iterrows()]
    notes += [f"{r['model_id']}: not trained ({r['status']})" for _, r in
              results.models[results.models["status"].isin(["pending", "running"])]
              .iterrows()]
    epochs = sorted(frame["epoch"].dropna().unique().astype(int).tolist())
    subtitle = ("Each model's test AUC after its last epoch "
                f"(epoch {', '.join(map(str, epochs))}) against its compression: the "
                "baseline's embedding bytes over its own, for all 26 features together. "
                "Dashed: the Pareto front (no model smaller and better). Dotted: the best "
                "AUC the data allows (the generating model's probabilities).")
    page = Page(TITLE, subtitle, results, notes=notes)
    ax = page.axes()[0]
    if frame.empty:
        no_data(ax, ["No trained model to draw."] + notes)
        return page.finish()
    kinds = list(dict.fromkeys(frame["kind"]))
    for kind in kinds:
        s = frame[frame["kind"] == kind].sort_values("compression")
        style = {"color": kind_color(kind, kinds), "marker": "o", "linewidth": 1.4}
        ax.plot(s["compression"], s["test_auc"], **style)
        page.series(kind, kind, style)
    front = frame[frame["on_pareto_front"]].sort_values("compression")
    ax.plot(front["compression"], front["test_auc"], linestyle="--", color="#777777",
            linewidth=1, zorder=1)
    page.reference("Pareto front", {"color": "#777777", "linestyle": "--"})
    best = frame["best_test_auc"].dropna()
    if not best.empty:
        ax.axhline(best.iloc[0], **BEST_STYLE)
        page.reference(f"best achievable AUC {best.iloc[0]:.4f}", BEST_STYLE)
    log_axis(ax, "x", 10)
    ax.set_xlabel("compression (baseline bytes / embedding bytes, log scale)")
    ax.set_ylabel("test AUC")
    return page.finish()


FIGURE = FigureSpec("accuracy_compression", TITLE,
                    "quality lost per kind at each compression, Pareto front at equal bytes",
                    data, draw)

"""The accuracy results as a table: per model, bytes, compression, last-epoch test AUC
and log loss, AUC lost against the baseline and against the best achievable AUC, its
best epoch, and training seconds per epoch; failed or untrained models with why."""

from __future__ import annotations

import pandas as pd

from harness.report.figures import FigureSpec
from harness.report.style import Page, no_data
from harness.scenario.sizes import format_bytes

TITLE = "Accuracy per embedding kind: the numbers"
COLUMNS = ["source", "model_id", "status", "embedding_bytes", "compression", "epochs",
           "test_auc", "test_logloss", "auc_loss_vs_baseline", "auc_gap_to_best",
           "best_epoch", "best_epoch_test_auc", "train_s_per_epoch", "reason"]
SHOWN = 24  # rows that fit the page; the CSV has them all


def data(results) -> pd.DataFrame:
    rows = []
    for (source, model_id), s in results.models.groupby(["source", "model_id"], sort=False):
        s = s.sort_values("epoch")
        last = s.iloc[-1]
        trained = s.dropna(subset=["test_auc"])
        best = trained.loc[trained["test_auc"].idxmax()] if not trained.empty else None
        rows.append({
            "source": source, "model_id": model_id, "status": last["status"],
            "embedding_bytes": last["embedding_bytes"], "compression": last["compression"],
            "epochs": len(trained), "test_auc": last.get("test_auc"),
            "test_logloss": last.get("test_logloss"),
            "auc_loss_vs_baseline": last.get("test_auc_loss_vs_baseline"),
            "auc_gap_to_best": (last["best_test_auc"] - last["test_auc"])
            if pd.notna(last.get("best_test_auc")) and pd.notna(last.get("test_auc"))
            else None,
            "best_epoch": None if best is None else int(best["epoch"]),
            "best_epoch_test_auc": None if best is None else best["test_auc"],
            "train_s_per_epoch": trained["train_s"].mean() if not trained.empty else None,
            "reason": last.get("reason") or ""})
    return pd.DataFrame(rows, columns=COLUMNS)


def _cell(value, fmt: str) -> str:
    return "" if value is None or pd.isna(value) else format(value, fmt)


def draw(frame: pd.DataFrame, results):
    best = results.models["best_test_auc"].dropna()
    subtitle = ("Last epoch's test AUC and log loss; AUC lost against the baseline (same "
                "epoch) and against the best achievable AUC"
                + (f" ({best.iloc[0]:.4f}, the generating model's own probabilities)"
                   if not best.empty else " (unknown for real data)")
                + "; the epoch with the best test AUC; mean training seconds per epoch.")
    notes = [f"{r['model_id']}: {r['status']}: {r['reason']}" for _, r in frame.iterrows()
             if r["status"] != "done"]
    if len(frame) > SHOWN:
        notes.append(f"{len(frame) - SHOWN} more models in the CSV")
    page = Page(TITLE, subtitle, results, notes=notes, legend=False)
    ax = page.axes()[0]
    if frame.empty:
        no_data(ax, ["No models stored."])
        return page.finish()
    ax.axis("off")
    header = ["model", "status", "bytes", "compr.", "epochs", "test AUC", "log loss",
              "loss vs base", "gap to best", "best epoch", "s/epoch"]
    cells = [[r["model_id"], r["status"], format_bytes(int(r["embedding_bytes"])),
              _cell(r["compression"], ".0f") + "x", str(r["epochs"]),
              _cell(r["test_auc"], ".4f"), _cell(r["test_logloss"], ".4f"),
              _cell(r["auc_loss_vs_baseline"], "+.4f"), _cell(r["auc_gap_to_best"], "+.4f"),
              _cell(r["best_epoch"], ".0f"), _cell(r["train_s_per_epoch"], ".1f")]
             for _, r in frame.head(SHOWN).iterrows()]
    table = ax.table(cellText=cells, colLabels=header, loc="upper center", cellLoc="right")
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    table.auto_set_column_width(list(range(len(header))))
    table.scale(1, 1.25)
    return page.finish()


FIGURE = FigureSpec("accuracy_table", TITLE,
                    "per model: bytes, compression, AUC, loss vs baseline and best, epochs",
                    data, draw)

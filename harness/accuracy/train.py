"""Train one model for the scenario's epochs; score it after each on train and test.

Adam on every parameter (dense gradients: the kernels' torch backends take none of
embedding_bag's sparse options), binary cross-entropy on the logit, samples shuffled
per epoch from a seeded generator. After each epoch the model is scored, in
evaluation mode, on the test set and on the first ``eval_samples`` training samples:
log loss and ROC AUC by scikit-learn. The training time of an epoch (the loop only,
not the scoring) is measured with ``time.perf_counter_ns``.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score

from harness.accuracy.synthetic import ClickData

SCORE_BATCH = 16384


def tensors(data: ClickData) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(np.ascontiguousarray(data.dense)),
            torch.from_numpy(np.ascontiguousarray(data.ids)),
            torch.from_numpy(np.ascontiguousarray(data.labels)))


def metrics(labels: np.ndarray, p: np.ndarray) -> dict:
    """Log loss and ROC AUC of probabilities ``p`` (AUC is undefined for one class)."""
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    auc = roc_auc_score(labels, p) if 0 < labels.sum() < labels.shape[0] else None
    return {"logloss": float(log_loss(labels, p, labels=[0, 1])),
            "auc": None if auc is None else float(auc)}


@torch.no_grad()
def predict(model, data: ClickData) -> np.ndarray:
    model.eval()
    dense, ids, _ = tensors(data)
    out = [torch.sigmoid(model(dense[i:i + SCORE_BATCH], ids[i:i + SCORE_BATCH]))
           for i in range(0, len(data), SCORE_BATCH)]
    return torch.cat(out).numpy()


class Diverged(RuntimeError):
    """The loss became NaN or infinite: the model is recorded as failed, with when."""


def train(model, train_data: ClickData, test_data: ClickData, cfg, seed: int,
          on_epoch: Callable[[dict], None] | None = None) -> list[dict]:
    """Train for ``cfg.epochs`` (the scenario's train block); one record per epoch."""
    gen = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    dense, ids, labels = tensors(train_data)
    scored = train_data.slice(0, min(len(train_data), cfg.eval_samples))
    records = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(train_data), generator=gen)
        total, batches = 0.0, 0
        start = time.perf_counter_ns()
        for i in range(0, len(train_data), cfg.batch_size):
            rows = order[i:i + cfg.batch_size]
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(dense[rows], ids[rows]), labels[rows])
            loss.backward()
            optimiser.step()
            total += loss.item()
            batches += 1
            if not math.isfinite(total):
                raise Diverged(f"loss became {total} in epoch {epoch}, batch {batches}")
        train_ns = time.perf_counter_ns() - start
        on_train = metrics(scored.labels, predict(model, scored))
        on_test = metrics(test_data.labels, predict(model, test_data))
        record = {"epoch": epoch, "train_ns": train_ns, "batches": batches,
                  "train_loss_running": total / max(1, batches),
                  "train_logloss": on_train["logloss"], "train_auc": on_train["auc"],
                  "test_logloss": on_test["logloss"], "test_auc": on_test["auc"]}
        records.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return records


def best_achievable(test_data: ClickData) -> dict | None:
    """The generator's own probabilities on the test set (synthetic data only)."""
    if test_data.best_p is None:
        return None
    return metrics(test_data.labels, test_data.best_p)

"""The one reader and writer of an accuracy result directory.

A directory holds, each written atomically (``harness.store.fileio``) and rewritten
after every epoch, so an interruption loses at most the epoch in progress:

- ``accuracy.json``: ``format_version``, the data's description and the generator's
  best achievable test AUC and log loss (synthetic data), and one record per model
  (kind at one size): its parameters, embedding bytes, compression, status
  (``pending``, ``running``, ``done``, ``failed`` with the reason) and per-epoch
  train/test log loss and AUC and training time;
- ``accuracy.csv``: the same, one row per model and epoch (models without epochs get
  one row with their status), for pandas and spreadsheets;
- ``manifest.json``: ``kind: accuracy``, the scenario as given and as effective,
  requested and effective threads and CPUs, the machine, library versions, the git
  commit, start and end times and state.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from harness.errors import UsageError
from harness.store.fileio import atomic_write_json, atomic_write_text

FORMAT_VERSION = 1
ACCURACY_FILE = "accuracy.json"
CSV_FILE = "accuracy.csv"
MANIFEST_FILE = "manifest.json"
KIND = "accuracy"
CSV_COLUMNS = ["model_id", "kind", "label", "requested", "params", "embedding_bytes",
               "baseline_bytes", "compression", "status", "reason", "epoch", "train_s",
               "train_logloss", "train_auc", "test_logloss", "test_auc", "best_test_auc",
               "best_test_logloss", "test_auc_loss_vs_baseline"]


def new_accuracy(data: dict, best: dict | None, specs) -> dict:
    """The accuracy.json of a new run: every model pending."""
    return {"format_version": FORMAT_VERSION, "kind": KIND, "data": data,
            "best_achievable": best,
            "models": [{"model_id": s.model_id, "kind": s.kind, "label": s.label,
                        "requested": s.requested, "params": s.params,
                        "layout": s.layout, "embedding_bytes": s.embedding_bytes,
                        "baseline_bytes": s.baseline_bytes,
                        "compression": s.compression, "notes": s.notes,
                        "status": "pending", "reason": "", "epochs": []}
                       for s in specs]}


def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def csv_rows(acc: dict) -> list[dict]:
    """One row per model and epoch; the AUC loss is against the baseline's same epoch."""
    best = acc.get("best_achievable") or {}
    baseline = {e["epoch"]: e["test_auc"] for m in acc["models"] if m["kind"] == "baseline"
                for e in m["epochs"]}
    rows = []
    for m in acc["models"]:
        head = {c: m.get(c) for c in CSV_COLUMNS if c in m}
        for e in m["epochs"] or [{}]:
            ref = baseline.get(e.get("epoch"))
            loss = (ref - e["test_auc"]) if ref is not None and e.get("test_auc") is not None \
                else None
            rows.append({**head, "epoch": e.get("epoch"),
                         "train_s": e["train_ns"] / 1e9 if "train_ns" in e else None,
                         **{k: e.get(k) for k in ("train_logloss", "train_auc",
                                                  "test_logloss", "test_auc")},
                         "best_test_auc": best.get("auc"),
                         "best_test_logloss": best.get("logloss"),
                         "test_auc_loss_vs_baseline": loss})
    return rows


def write_accuracy(directory: Path, acc: dict) -> None:
    """Write accuracy.json and accuracy.csv (atomically; a full disk is exit 2)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(acc):
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    try:
        atomic_write_json(directory / ACCURACY_FILE, acc)
        atomic_write_text(directory / CSV_FILE, out.getvalue())
    except OSError as exc:
        raise UsageError(f"{directory}: cannot write the accuracy results: {exc}") from None


def write_manifest(directory: Path, manifest: dict) -> None:
    try:
        atomic_write_json(directory / MANIFEST_FILE, manifest)
    except OSError as exc:
        raise UsageError(f"{directory / MANIFEST_FILE}: cannot write: {exc}") from None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: missing (an accuracy result directory holds "
                         f"{ACCURACY_FILE}, {CSV_FILE} and {MANIFEST_FILE})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}: not JSON ({exc.msg}; truncated?)") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return data


def is_accuracy_dir(directory: Path) -> bool:
    """Whether ``directory`` holds an accuracy result (its manifest says so)."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("kind") == KIND
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False


def load_accuracy(directory: str | Path) -> tuple[dict, dict]:
    """(manifest, accuracy) of a result directory, checked; UsageError naming the file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such result directory")
    manifest = _read_json(directory / MANIFEST_FILE)
    acc = _read_json(directory / ACCURACY_FILE)
    for name, data in ((MANIFEST_FILE, manifest), (ACCURACY_FILE, acc)):
        if data.get("kind") != KIND:
            raise UsageError(f"{directory / name}: kind {data.get('kind')!r} is not an "
                             f"accuracy result")
        version = data.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise UsageError(f"{directory / name}: format_version {version!r}; this harness "
                             f"reads up to {FORMAT_VERSION} (a newer harness wrote it?)")
    models = acc.get("models")
    if not isinstance(models, list) or not all(isinstance(m, dict) and "model_id" in m
                                               and isinstance(m.get("epochs"), list)
                                               for m in models):
        raise UsageError(f"{directory / ACCURACY_FILE}: models is not a list of model "
                         f"records with epochs")
    return manifest, acc

"""Accuracy pages of ``harness report`` from stored accuracy results (written here,
no training), alone and beside a speed run (the stored ``vm`` fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from harness.store import accuracy as results
from harness.accuracy.sizing import ModelSpec
from harness.errors import UsageError
from harness.report.accuracy import report, split_directories
from harness.report.figures.accuracy_compression import pareto

FIXTURE_RUN = Path(__file__).parent / "fixtures" / "results" / "vm"


def _accuracy_dir(tmp_path: Path) -> Path:
    out = tmp_path / "acc"
    out.mkdir()
    base = 1_000_000
    specs = [ModelSpec("baseline", "baseline", "baseline", "1x", {}, base, base),
             ModelSpec("memrec@100x", "memrec", "memrec", "100x", {"k": 2}, base // 100, base),
             ModelSpec("qr@100x", "qr", "qr", "100x", {"collisions": 9}, base // 100, base),
             ModelSpec("ttrec@1000x", "ttrec", "ttrec", "1000x", {"rank": 1}, base // 1000,
                       base)]
    acc = results.new_accuracy({"source": "synthetic"}, {"auc": 0.79, "logloss": 0.45}, specs)
    for model, aucs in zip(acc["models"], ([0.77, 0.76], [0.75, 0.765], [0.70], [])):
        model["status"] = "done" if aucs else "failed"
        model["reason"] = "" if aucs else "Diverged: loss became nan in epoch 1, batch 3"
        model["epochs"] = [{"epoch": e, "train_ns": 10**9, "train_logloss": 0.5,
                            "train_auc": a + 0.01, "test_logloss": 0.5, "test_auc": a}
                           for e, a in enumerate(aucs, start=1)]
    manifest = json.loads((FIXTURE_RUN / "manifest.json").read_text())
    results.write_accuracy(out, acc)
    results.write_manifest(out, {"format_version": 1, "kind": "accuracy",
                                 "machine": manifest["machine"],
                                 "scenario": {"name": "acc"}, "git": {"commit": "abc"},
                                 "effective": {"pinning_cpus": "0"}})
    return out


def test_accuracy_pages_alone_and_beside_a_speed_run(tmp_path):
    acc = _accuracy_dir(tmp_path)
    assert split_directories([acc, FIXTURE_RUN]) == ([acc], [FIXTURE_RUN])
    assert report([FIXTURE_RUN], tmp_path / "x.pdf", None) is None  # not ours to draw

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert report([acc], tmp_path / "a.pdf", tmp_path / "a") == 3
    compression = pd.read_csv(tmp_path / "a" / "accuracy_compression.csv")
    final = compression.set_index("model_id")["test_auc"].to_dict()
    assert final == {"baseline": 0.76, "memrec@100x": 0.765, "qr@100x": 0.70}  # last epochs
    epochs = pd.read_csv(tmp_path / "a" / "accuracy_epochs.csv")
    assert len(epochs) == 5
    table = pd.read_csv(tmp_path / "a" / "accuracy_table.csv").set_index("model_id")
    assert table.loc["memrec@100x", "best_epoch"] == 2
    assert table.loc["memrec@100x", "auc_gap_to_best"] == pytest.approx(0.79 - 0.765)
    assert table.loc["ttrec@1000x", "status"] == "failed"
    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "a.pdf").pages)
    assert "Test AUC vs compression" in text and "ttrec@1000x: failed: Diverged" in text

    assert report([acc, FIXTURE_RUN], tmp_path / "b.pdf", tmp_path / "b") == 4
    speed = pd.read_csv(tmp_path / "b" / "accuracy_speed.csv")
    row = speed.set_index("kind").loc["memrec"]
    assert row["model_id"] == "memrec@100x" and row["speedup_median"] > 0
    assert row["auc_loss"] == pytest.approx(0.76 - 0.765)


def test_pareto_front_keeps_only_models_nobody_beats_on_bytes_and_auc():
    frame = pd.DataFrame({"source": "s", "embedding_bytes": [100, 10, 10, 1],
                          "test_auc": [0.8, 0.79, 0.7, 0.75]})
    assert pareto(frame).tolist() == [True, True, False, True]


def test_an_accuracy_dir_without_trained_models_is_exit_2(tmp_path):
    acc = _accuracy_dir(tmp_path)
    data = json.loads((acc / "accuracy.json").read_text())
    for model in data["models"]:
        model.update(status="pending", epochs=[])
    (acc / "accuracy.json").write_text(json.dumps(data))
    with pytest.raises(UsageError, match="no trained"):
        report([acc], tmp_path / "a.pdf", None)

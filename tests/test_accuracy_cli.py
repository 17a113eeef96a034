"""``python -m harness accuracy`` as a user runs it: a tiny scenario end to end (train,
store, resume, report) and bad input (exit 2 with a line naming what is wrong)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_accuracy import CRITEO_LINES

TINY = """\
name: tiny
seed: 1
threads: 1
data:
  synthetic:
    train_samples: 3000
    test_samples: 1000
    cardinality_scale: 0.0001
    bias_scale: 2.0
model: {dim: 8, bottom: [8], top: [8]}
train: {epochs: 2, batch_size: 500, lr: 0.01, eval_samples: 500}
kinds:
  - kind: baseline
  - kind: memrec
    compression: 10
"""


def harness(repo: Path, *args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], cwd=cwd or repo,
                          env=env, capture_output=True, text=True, timeout=300)


def test_accuracy_trains_stores_resumes_and_reports(repo, tmp_path):
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    out = tmp_path / "out"
    done = harness(repo, "accuracy", scenario, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "best achievable test AUC" in done.stderr
    acc = json.loads((out / "accuracy.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert acc["format_version"] == 1 and manifest["kind"] == "accuracy"
    assert manifest["state"] == "complete" and manifest["effective"]["threads"] == 1
    assert [m["status"] for m in acc["models"]] == ["done", "done"]
    assert [len(m["epochs"]) for m in acc["models"]] == [2, 2]
    memrec = acc["models"][1]
    assert memrec["model_id"] == "memrec@10x" and 9 < memrec["compression"] < 11
    assert 0.5 < acc["best_achievable"]["auc"] <= 1
    assert len((out / "accuracy.csv").read_text().splitlines()) == 1 + 4

    # A resumed run retrains nothing that is done.
    again = harness(repo, "accuracy", scenario, "--resume", out)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("not retrained") == 2
    assert json.loads((out / "accuracy.json").read_text())["models"] == acc["models"]

    # A resumed run must be the same experiment.
    scenario.write_text(TINY.replace("seed: 1", "seed: 2"))
    other = harness(repo, "accuracy", scenario, "--resume", out)
    assert other.returncode == 2 and "cannot resume" in other.stderr

    pdf = tmp_path / "acc.pdf"
    report = harness(repo, "report", out, "-o", pdf)
    assert report.returncode == 0, report.stderr
    assert pdf.stat().st_size > 0
    assert (tmp_path / "acc-data" / "accuracy_compression.csv").is_file()
    assert (tmp_path / "acc-data" / "accuracy_epochs.csv").is_file()


@pytest.mark.parametrize("kinds, expected", [
    ("  - kind: ttrec\n    compression: 100000\n",
     "tiny.yaml:14: kinds[0].compression[0]: ttrec cannot be made"),
    ("  - kind: bloom\n    compression: 10\n    z: 3\n",
     "tiny.yaml:13: kinds[0]: z does not apply to bloom"),
])
def test_bad_scenario_exits_2_naming_the_parameter(repo, tmp_path, kinds, expected):
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY.split("kinds:\n")[0] + "kinds:\n" + kinds)
    result = harness(repo, "accuracy", scenario, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # nothing created for a bad request


def test_malformed_and_missing_data_exit_2_with_file_and_line(repo, tmp_path):
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    data = tmp_path / "train.txt"
    data.write_text("\n".join(CRITEO_LINES + ["1\t2\t3"]) + "\n")
    result = harness(repo, "accuracy", scenario, "--data", data, "--out", tmp_path / "o")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{data}:4: 3 tab-separated fields" in result.stderr
    missing = harness(repo, "accuracy", scenario, "--data", tmp_path / "none.txt")
    assert missing.returncode == 2 and "none.txt: no such data file" in missing.stderr


def test_validate_knows_accuracy_scenarios(repo, tmp_path):
    ok = harness(repo, "validate", "scenarios/accuracy.yaml")
    assert ok.returncode == 0, ok.stderr
    assert "scenarios/accuracy.yaml: ok (accuracy), 16 models" in ok.stdout
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY.replace("compression: 10", "compression: 1000000"))
    bad = harness(repo, "validate", scenario)
    assert bad.returncode == 2 and "tiny.yaml:15: kinds[1].compression[0]" in bad.stderr

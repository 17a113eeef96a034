"""Functional tests: the real CLI as a subprocess, real workers, tiny scenarios."""

import csv
import json

import pytest

from cli import run_harness as harness
from cli import run_python

pytestmark = pytest.mark.slow


def rows(out_dir):
    return list(csv.DictReader(open(out_dir / "points.csv")))


def test_ci_quick_end_to_end(repo, tmp_path):
    out = tmp_path / "res"
    proc = harness("run", repo / "scenarios/ci.yaml", "--quick", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert {"pyperf.json", "points.csv", "manifest.json"} <= {p.name for p in out.iterdir()}
    assert not (out / ".work").exists()
    points = rows(out)
    assert len(points) == 4 and all(p["status"] == "ok" for p in points)
    for p in points:
        assert float(p["ns_per_lookup"]) > 0 and float(p["gbytes_per_s"]) > 0
        assert p["cores"] == p["cpus_run_on"]  # the worker ran where it was pinned
        assert p["table_alignment_bytes"] == "4096"
        # whether to believe it: judged for every point (a busy machine may say noisy)
        assert p["quality"] in ("ok", "noisy", "unstable") and p["batches_taken"] == "20"
        assert (p["quality"] == "ok") == (p["quality_reason"] == "") or "not assessed" in \
            p["quality_reason"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["scenario"]["quick"] is True
    assert manifest["machine"]["llc_bytes"] > 0 and manifest["versions"]["torch"].startswith("2.13.0")
    assert manifest["requested"]["threads"] == [1]
    assert manifest["git"]["commit"]
    stats = run_python("-m", "pyperf", "stats", out / "pyperf.json")
    assert stats.returncode == 0 and "Median" in stats.stdout


SCENARIO = """\
name: functional
threads: [1, 64]
tables: {sizes: ["0.25x LLC"], dim: 32}
batch_sizes: [32]
pooling: [2]
kernels:
  - kernel: baseline
  - {kernel: memrec, token_rows: 1000, k: 2, weight_rows: 100, k_weight: 1, backend: numpy}
measure: {warmups: 1, batches: 5, repeats: 2, timeout_s: %s}
"""


def test_skipped_points_and_repeats(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO % 300)
    out = tmp_path / "res"
    proc = harness("run", path, "--out", out)
    assert proc.returncode == 0, proc.stderr
    by_status = {}
    for r in rows(out):
        by_status.setdefault(r["status"], []).append(r)
    assert len(by_status["ok"]) == 2 and all(r["runs"] == "2" for r in by_status["ok"])
    assert len(by_status["skipped"]) == 2
    assert "needs 64 cores" in by_status["skipped"][0]["reason"]
    assert "needs 64 cores" in proc.stderr  # the summary lists why
    assert (out / "pyperf.json").exists()


def test_worker_timeout_is_a_failed_point_and_the_run_goes_on(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text((SCENARIO % 0.05).replace("repeats: 2", "repeats: 1"))
    out = tmp_path / "res"
    proc = harness("run", path, "--out", out)
    assert proc.returncode == 1
    failed = [r for r in rows(out) if r["status"] == "failed"]
    assert len(failed) == 2 and all("timed out" in r["reason"] for r in failed)
    assert json.loads((out / "manifest.json").read_text())["complete"]
    assert "Traceback" not in proc.stderr


def test_nothing_runnable_exits_2(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text((SCENARIO % 300).replace("threads: [1, 64]", "threads: [64]"))
    proc = harness("run", path, "--out", tmp_path / "res")
    assert proc.returncode == 2 and "no point of this scenario can run" in proc.stderr
    assert "needs 64 cores" in proc.stderr


def test_dry_run_and_existing_dir(repo, tmp_path):
    proc = harness("run", repo / "scenarios/skylake.yaml", "--quick", "--dry-run")
    assert proc.returncode == 0 and "skip" in proc.stdout and "run " in proc.stdout
    assert "estimate: " in proc.stdout and "rates from nominal figures" in proc.stdout
    out = tmp_path / "res"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    proc = harness("run", repo / "scenarios/ci.yaml", "--out", out)
    assert proc.returncode == 2 and "already holds results" in proc.stderr


def test_out_holding_other_files_is_refused_and_left_alone(repo, tmp_path):
    out = tmp_path / "mine"
    (out / ".work").mkdir(parents=True)
    files = {out / "points.csv": "my own table\n", out / "pyperf.json": "{}",
             out / ".work" / "notes.txt": "keep me"}
    for path, text in files.items():
        path.write_text(text)
    for command in (["run", repo / "scenarios/ci.yaml", "--quick"],
                    ["limits", "--quick", "--sizes", "1/64", "--rows", "64"]):
        proc = harness(*command, "--out", out)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == [
            f"error: {out}: not empty and not a result of this harness; a new result would "
            f"overwrite or delete what is there (.work/, points.csv, pyperf.json): choose an "
            f"empty or new directory"]
    assert all(path.read_text() == text for path, text in files.items())
    assert sorted(p.name for p in out.iterdir()) == [".work", "points.csv", "pyperf.json"]


def test_bad_scenario_never_tracebacks(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: x\nthreads: 1\ntables: {sizes: ['4x LCC']}\nkernels: []\n")
    proc = harness("run", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "tables.sizes[0]" in proc.stderr and "batch_sizes" in proc.stderr

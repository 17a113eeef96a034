"""Functional: the fused kernels and the peers through the real CLI and workers."""

import csv
import json
import os

import pytest

from cli import run_harness

pytestmark = pytest.mark.slow

SCENARIO = """\
name: kernels
threads: [2]
tables: {sizes: ["2000 rows"], dim: 32}
# 384 ids a batch: above kernels.memrec.SERIAL_MAX_IDS, so the pool's 2 threads run it.
batch_sizes: [128]
pooling: [3]
kernels:
  - {kernel: memrec, token_rows: 500, k: 2, weight_rows: 50, k_weight: 2, backend: fused,
     prefetch: [0, 4]}
  - {kernel: hashing_trick, rows: 300}
  - {kernel: bloom, token_rows: 300, k: 3}
  - {kernel: qr, collisions: 7}
  - {kernel: robez, size: 5000, z: 8}
  - {kernel: ttrec, rank: 4}
measure: {warmups: 1, batches: 4, repeats: 1, timeout_s: 300}
"""

SHARED = """\
name: shared
threads: [1]
tables:
  cardinalities: [5000, 3, 70000]
  layout: shared
  dim: 16
  scale_to_fit: true
batch_sizes: [32]
pooling: [2]
kernels:
  - {kernel: baseline, backend: numpy}
  - {kernel: memrec, token_rows: 1000, k: 2, weight_rows: 100, k_weight: 1, backend: fused}
  - {kernel: qr, collisions: 16}
measure: {warmups: 1, batches: 3, repeats: 1, timeout_s: 300}
"""


def run(tmp_path, text, *extra):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    out = tmp_path / "res"
    proc = run_harness("run", path, "--out", out, *extra)
    return proc, out


def test_fused_and_peers_run_verified_and_pinned(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs to check per-thread placement")
    proc, out = run(tmp_path, SCENARIO)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(out / "points.csv")))
    assert rows and all(r["status"] == "ok" for r in rows)
    assert {r["kernel"] for r in rows} == {"memrec", "hashing_trick", "bloom", "qr", "robez",
                                           "ttrec"}
    by_kernel = {r["kernel"]: r for r in rows}
    assert float(by_kernel["memrec"]["compression"]) == pytest.approx(2000 * 128 / (500 * 128 + 200))
    assert by_kernel["robez"]["bytes_per_lookup"] == "128"
    for r in rows:
        assert r["cores"] == r["cpus_run_on"]
        assert json.loads(r["params"])["backend"] == "fused" and r["effective_threads"] == "2"
    fused2 = next(p for p in (out / "raw").iterdir()
                  if p.name.startswith("memrec-fused") and ".t2" in p.name)
    record = json.loads((fused2 / "r0.json").read_text())
    assert record["verified"]["bags"] == 64
    info = record["kernel_info"]
    assert info["numba_threads"] == 2 and info["prefetch_ids_ahead"] in (0, 4)
    if info["numba_threading_layer"] == "omp":
        # libgomp pinned each pool thread to one CPU of the point's set.
        singles = {t["allowed"] for t in record["affinity"]["threads"] if "," not in t["allowed"]
                   and "-" not in t["allowed"]}
        assert singles == {"0", "1"}, record["affinity"]["threads"]


def test_shared_layout_with_cardinalities(tmp_path):
    # 515 MiB leaves ~2.5 MiB for tables beside the 512 MiB a worker is reckoned to
    # need: the baseline's 4.8 MB of tables must shrink; MEM-REC's 64 kB need not.
    proc, out = run(tmp_path, SHARED, "--memory-limit", "515MiB")
    assert proc.returncode == 0, proc.stderr
    rows = {r["kernel"]: r for r in csv.DictReader(open(out / "points.csv"))}
    assert all(r["status"] == "ok" and r["layout"] == "shared" for r in rows.values())
    memrec = rows["memrec"]
    assert memrec["table_rows"] == "75003" and memrec["features"] == "3"
    assert float(memrec["compression"]) == pytest.approx(75003 * 64 / (1000 * 64 + 400))
    assert memrec["table_scale"] == "1" and memrec["note"] == ""
    base = rows["baseline"]
    assert 0 < float(base["table_scale"]) < 1 and "scaled to" in base["note"]
    assert float(base["compression"]) == 1  # against itself at the size it ran
    manifest = json.loads((out / "manifest.json").read_text())
    point = next(p for p in manifest["plan"] if p["kernel"] == "baseline")
    assert len(point["feature_rows"]) == 3 and point["feature_rows"][1] >= 1
    assert sum(point["feature_rows"]) == int(base["table_rows"]) < 75003

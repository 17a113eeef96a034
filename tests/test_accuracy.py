"""harness.accuracy: the synthetic stream, the Criteo reader, sizing at equal bytes,
trainable kernels, one epoch of training, and the result files. Tiny data; seconds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from harness.accuracy import criteo, sizing, synthetic
from harness.store import accuracy as results
from harness.accuracy import model as modelling
from harness.accuracy import train as training
from harness.accuracy.scenario import Kind, Model, Synthetic, Train, load_accuracy_scenario
from harness.errors import UsageError

TINY = Synthetic(train_samples=4000, test_samples=2000, cardinality_scale=0.0001,
                 min_rows=10, zipf_alpha=1.2, bias_scale=2.0, interaction_scale=0.3)

CRITEO_LINES = [
    # label, 13 ints (some missing, one negative), 26 hex (some missing)
    "1\t" + "\t".join(["5", "", "-3"] + ["1"] * 10) + "\t"
    + "\t".join(["68fd1e64", ""] + ["0a1b2c3d"] * 24),
    "0\t" + "\t".join(["0"] * 13) + "\t" + "\t".join(["ffffffff"] * 26),
    "0\t" + "\t".join([""] * 13) + "\t" + "\t".join([""] * 26),
]


def test_synthetic_stream_is_seeded_shaped_and_has_a_known_best():
    train_a, test_a = synthetic.generate(TINY, seed=3)
    train_b, _ = synthetic.generate(TINY, seed=3)
    train_c, _ = synthetic.generate(TINY, seed=4)
    assert train_a.dense.shape == (4000, 13) and train_a.ids.shape == (4000, 26)
    assert np.array_equal(train_a.ids, train_b.ids)
    assert not np.array_equal(train_a.ids, train_c.ids)
    assert all(train_a.ids[:, f].max() < rows for f, rows in enumerate(train_a.rows))
    assert train_a.ids.min() >= 0 and train_a.dense.min() >= 0
    assert abs(train_a.labels.mean() - TINY.ctr) < 0.05
    best = training.best_achievable(test_a)
    assert 0.6 < best["auc"] < 1.0  # the generator's probabilities rank well


def test_zipf_ids_are_skewed_and_not_ordered_by_id():
    ids = synthetic.zipf_ids(np.random.default_rng(0), 1000, 1.2, 50_000)
    counts = np.bincount(ids, minlength=1000)
    assert counts.max() > 20 * np.median(counts)
    # Ranks are shuffled onto ids: an id's number says nothing of its frequency (in rank
    # order the correlation would be -1).
    assert abs(spearmanr(np.arange(1000), counts).statistic) < 0.2


def test_criteo_reader_parses_missing_values_as_criteo_writes_them(tmp_path):
    path = tmp_path / "day_0.txt"
    path.write_text("\n".join(CRITEO_LINES) + "\n")
    data = criteo.read_criteo(path, max_rows=1000)
    assert data.labels.tolist() == [1, 0, 0]
    assert data.dense[0, :3].tolist() == [5, 0, 0]          # missing and negative -> 0
    assert data.ids[0, 0] == 1 + 0x68FD1E64 % 999           # hex modulo max_rows - 1, + 1
    assert data.ids[0, 1] == 0 and data.ids[2].tolist() == [0] * 26  # missing -> id 0
    assert data.ids.max() < 1000


@pytest.mark.parametrize("bad, what", [
    ("2\t" + "\t".join(["0"] * 39), "label '2'"),
    ("0\t" + "\t".join(["0"] * 38), "39 tab-separated fields"),
    ("0\tx" + "\t0" * 12 + "\t0" * 26, "I1 'x' is not an integer"),
    ("0" + "\t0" * 13 + "\tzz" + "\t0" * 25, "C1 'zz' is not hexadecimal"),
])
def test_criteo_malformed_line_names_file_and_line(tmp_path, bad, what):
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(CRITEO_LINES[:2] + [bad]) + "\n")
    with pytest.raises(UsageError) as exc:
        criteo.read_criteo(path, max_rows=100)
    assert f"{path}:3:" in str(exc.value) and what in str(exc.value)


def test_criteo_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such data file"):
        criteo.read_criteo(tmp_path / "nope.txt", max_rows=100)


@pytest.mark.parametrize("kind, extra", [
    ("hashing_trick", {}), ("bloom", {"k": 2}), ("memrec", {"k": 2, "k_weight": 1}),
    ("robez", {"z": 8}), ("qr", {}), ("ttrec", {})])
def test_every_kind_fits_its_budget(kind, extra):
    total, dim = 40_000, 16
    target = total * dim * 4 // 50
    params, nbytes = sizing.resolve_kind(Kind(kind=kind, compression=[50], **extra),
                                         target, total, dim, "f:1: kinds[0].compression[0]")
    assert 0 < nbytes <= target
    assert nbytes > target / 4  # not absurdly below the budget either


def _scenario(tmp_path, kinds: str) -> Path:
    path = tmp_path / "acc.yaml"
    path.write_text("name: t\ndata:\n  synthetic:\n    train_samples: 100\n"
                    "    cardinality_scale: 0.001\nkinds:\n" + kinds)
    return path


def test_a_kind_that_cannot_reach_its_size_names_the_parameter(tmp_path):
    path = _scenario(tmp_path, "  - kind: baseline\n  - kind: qr\n    compression: [10, 1000]\n")
    loaded = load_accuracy_scenario(path)
    rows = synthetic.scaled_cardinalities(0.001, 10)
    with pytest.raises(UsageError) as exc:
        sizing.model_specs(loaded, rows)
    assert f"{path}:9: kinds[1].compression[1]: qr cannot be made" in str(exc.value)


def test_scenario_unknown_key_names_file_line_and_path(tmp_path):
    path = _scenario(tmp_path, "  - kind: memrec\n    compresion: 10\n")
    with pytest.raises(UsageError) as exc:
        load_accuracy_scenario(path)
    assert f"{path}:8: kinds[0].compresion: unknown key" in str(exc.value)


def _spec(kind: str, params: dict, rows: list[int], dim: int) -> sizing.ModelSpec:
    total = sum(rows) * dim * 4
    return sizing.ModelSpec(kind, kind, kind, "t", params, total // 10, total)


KIND_PARAMS = {
    "baseline": {}, "hashing_trick": {"rows": 50}, "bloom": {"token_rows": 50, "k": 2},
    "memrec": {"token_rows": 40, "k": 2, "weight_rows": 64, "k_weight": 1},
    "qr": {"collisions": 8}, "robez": {"size": 300, "z": 4}, "ttrec": {"rank": 2},
}


@pytest.mark.parametrize("kind", sorted(KIND_PARAMS))
def test_each_kernel_trains_through_its_own_tables(kind):
    """One step moves every table of the kernel itself: the parameters are its memory."""
    rows, dim = [30, 7, 100], 8
    model = modelling.build_model(_spec(kind, KIND_PARAMS[kind], rows, dim), rows,
                                  Model(dim=dim, bottom=[8], top=[8]), seed=0)
    tables = list(model.embedding.tables)
    assert tables and all(t.requires_grad for t in tables)
    before = [t.detach().clone() for t in tables]
    dense = torch.rand(16, 13) * 10
    ids = torch.stack([torch.randint(0, r, (16,)) for r in rows], dim=1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        model(dense, ids), torch.ones(16))
    loss.backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in tables)
    optimiser.step()
    assert all(not torch.equal(a, b.detach()) for a, b in zip(before, tables))
    kernel = model.embedding.kernel
    if kind in ("baseline",):
        assert np.array_equal(kernel.table, tables[0].detach().numpy())
    if kind in ("memrec", "bloom", "hashing_trick"):
        assert np.array_equal(kernel.token_table, tables[0].detach().numpy())


def test_one_epoch_learns_something_and_records_what_the_report_needs():
    train_data, test_data = synthetic.generate(TINY, seed=0)
    rows = train_data.rows
    spec = _spec("baseline", {}, rows, 8)
    model = modelling.build_model(spec, rows, Model(dim=8, bottom=[16], top=[16]), seed=0)
    seen = []
    records = training.train(model, train_data, test_data,
                             Train(epochs=1, batch_size=256, lr=0.01, eval_samples=1000),
                             seed=0, on_epoch=seen.append)
    assert seen == records and len(records) == 1
    r = records[0]
    assert r["train_ns"] > 0 and r["batches"] == 16
    assert 0.55 < r["test_auc"] <= 1.0  # above chance: the biases are learnable
    assert r["test_logloss"] > 0


def test_results_round_trip_and_refuse_a_newer_format(tmp_path):
    rows = [10, 20]
    specs = [_spec("baseline", {}, rows, 4), _spec("qr", {"collisions": 3}, rows, 4)]
    acc = results.new_accuracy({"source": "synthetic"}, {"auc": 0.8, "logloss": 0.4}, specs)
    acc["models"][0].update(status="done", epochs=[
        {"epoch": 1, "train_ns": 2_000_000_000, "train_logloss": 0.5, "train_auc": 0.7,
         "test_logloss": 0.51, "test_auc": 0.69}])
    results.write_accuracy(tmp_path, acc)
    results.write_manifest(tmp_path, {"format_version": 1, "kind": "accuracy"})
    assert results.is_accuracy_dir(tmp_path)
    manifest, back = results.load_accuracy(tmp_path)
    assert back == json.loads(json.dumps(acc))
    lines = (tmp_path / results.CSV_FILE).read_text().splitlines()
    assert lines[0].split(",") == results.CSV_COLUMNS and len(lines) == 3
    assert ",done,,1,2," in lines[1] and ",pending," in lines[2]
    results.write_manifest(tmp_path, {"format_version": 99, "kind": "accuracy"})
    with pytest.raises(UsageError, match="format_version 99"):
        results.load_accuracy(tmp_path)


@pytest.mark.parametrize("quick", [False, True])
def test_shipped_accuracy_scenario_resolves_every_kind(repo, quick):
    loaded = load_accuracy_scenario(repo / "scenarios" / "accuracy.yaml", quick=quick)
    cfg = loaded.scenario.data.synthetic
    specs = sizing.model_specs(loaded, synthetic.scaled_cardinalities(
        cfg.cardinality_scale, cfg.min_rows))
    kinds = {s.kind for s in specs}
    assert kinds == {"baseline", "memrec", "bloom", "hashing_trick", "qr", "robez", "ttrec"}
    memrec = sorted(s.compression for s in specs if s.kind == "memrec")
    assert [round(c, -1) for c in memrec[:2]] == [100, 1010] and memrec[2] > 2900

"""Shared layout, per-table cardinalities, scaling to fit, and the footprint command."""

import json

import numpy as np
import pytest

from harness.execute import layout
from harness.errors import UsageError
from harness.scenario.kernelspec import KERNELS
from harness.execute.plan import make_plan
from harness.scenario.schema import load_scenario
from kernels import hashing
from kernels.baseline import Baseline
from kernels.memrec import MemRec

from cli import run_harness as harness

CRITEO_TB_ROWS = 187_767_399
CRITEO_TB_BYTES = 96_136_908_288


def scenario(tmp_path, tables: str, kernels: str = "  - kernel: baseline\n"):
    """A scenario file whose tables: block is ``tables`` (lines at top level of it)."""
    table_lines = "".join(f"  {line}\n" for line in tables.splitlines())
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nthreads: [1]\ntables:\n" + table_lines
                    + "batch_sizes: [4]\nkernels:\n" + kernels)
    return path


def test_shared_bags_salt_and_concat():
    ids_a, ids_b = np.array([1, 2, 3, 4]), np.array([5, 6, 7, 8])
    offsets = np.array([0, 2])  # two samples, pooling 2
    keys, off = layout.shared_bags([(ids_a, offsets), (ids_b, offsets)], "concat", [10, 20])
    assert keys.tolist() == [1, 2, 15, 16, 3, 4, 17, 18] and off.tolist() == [0, 4]
    keys, off = layout.shared_bags([(ids_a, offsets), (ids_b, offsets)], "salt", [10, 20])
    salted_b = (ids_b + hashing.FEATURE_SALT).tolist()
    assert keys.tolist() == [1, 2, *salted_b[:2], 3, 4, *salted_b[2:]] and off.tolist() == [0, 4]


def test_shared_memrec_bag_is_the_sum_of_salted_features():
    """One bag per sample over a shared table equals summing each feature's salted lookups."""
    m = MemRec(1000, 8, 2, 100, 1, seed=3, backend="fused")
    a, b = np.array([7, 2**40]), np.array([7, 9])
    keys, offsets = layout.shared_bags([(a, np.arange(2)), (b, np.arange(2))], "salt", [0, 0])
    got = m.lookup(keys, offsets)
    salted_b = hashing.as_keys_numpy(b, 1).view(np.int64)
    want = m.lookup(a) + m.lookup(salted_b)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(m.lookup(b), m.lookup(salted_b))  # the salt changes the rows


def test_shared_baseline_is_stacked_tables():
    point = {"layout": "shared", "feature_rows": [3, 5], "table_rows": 8, "features": 2,
             "dim": 4, "seed": 0, "params": {"backend": "numpy"}}
    kernels = layout.build_kernels(point, KERNELS["baseline"], 1 << 20)
    assert len(kernels) == 1 and kernels[0].rows == 8
    (keys, offsets), = layout.arrange(point, KERNELS["baseline"],
                                      [(np.array([2]), np.array([0])),
                                       (np.array([4]), np.array([0]))])
    assert keys.tolist() == [2, 7]
    per_feature = dict(point, layout="per-feature")
    assert [k.rows for k in layout.build_kernels(per_feature, KERNELS["baseline"], 1)] == [3, 5]


def test_cardinalities_validate(tmp_path):
    loaded = load_scenario(scenario(tmp_path, "cardinalities: [10, 20, 30]\nlayout: shared"))
    assert loaded.scenario.tables.features == 3


@pytest.mark.parametrize("tables,line,needle", [
    ("cardinalities: [10, 0]", 4, "tables.cardinalities[1]: Input should be greater than or equal to 1"),
    ("cardinalities: [10]\nsizes: ['1x LLC']", 3, "tables: give either sizes"),
    ("dim: 8", 3, "tables: give either sizes"),
    ("cardinalities: [10, 20]\nfeatures: 3", 3, "features is 3 but cardinalities lists 2"),
    ("sizes: ['1x LLC']\nscale_to_fit: true", 3, "scale_to_fit applies only to cardinalities"),
    ("sizes: ['1x LLC']\nlayout: stacked", 5, "tables.layout: Input should be 'per-feature' or"),
    ("sizes: ['1x LLC']\ncardinality: [3]", 5, "unknown key (did you mean 'cardinalities'?)"),
])
def test_table_errors_name_file_line_and_key(tmp_path, tables, line, needle):
    path = scenario(tmp_path, tables)
    with pytest.raises(UsageError) as info:
        load_scenario(path)
    text = "\n".join(info.value.problems)
    assert needle in text and f"{path}:{line}:" in text, text


@pytest.mark.parametrize("kernel,needle", [
    ("{kernel: robez, size: 1000, z: 0}", "s.yaml:7: kernels[0].z: Input should be greater than 0"),
    ("{kernel: qr, collisions: 4, backend: cuda}", "kernels[0].backend: Input should be 'torch', 'numpy' or 'fused'"),
    ("{kernel: bloom, token_rows: 10, k_weight: 1}", "kernels[0].k_weight: unknown key"),
    ("{kernel: memrec, token_rows: 10, weight_rows: 10, prefetch: -1}", "kernels[0].prefetch: Input should be greater than or equal to 0"),
    ("{kernel: hashing_trik, rows: 10}", "unknown kernel 'hashing_trik' (did you mean "
                                         "'hashing_trick'?)"),
])
def test_peer_kernel_errors(tmp_path, kernel, needle):
    path = scenario(tmp_path, "sizes: ['1x LLC']", f"  - {kernel}\n")
    with pytest.raises(UsageError) as info:
        load_scenario(path)
    assert needle in "\n".join(info.value.problems)


def test_criteo_tb_plan_scales_the_baseline_only(repo, zen3_vm):
    loaded = load_scenario(repo / "scenarios/criteo_tb.yaml", quick=True)
    plan = make_plan(loaded, zen3_vm, memory_budget=12 * 2**30)
    base = next(p for p in plan.points if p.kernel == "baseline")
    memrec = next(p for p in plan.points if p.kernel == "memrec")
    assert base.status == "planned" and base.table_scale < 0.13
    assert base.kernel_bytes <= 12 * 2**30 and "scaled to" in base.note
    assert base.uncompressed_bytes == base.kernel_bytes  # compression 1 at the size it ran
    assert base.table_bytes == sum(base.feature_rows) * 512
    assert len(base.feature_rows) == 26 and sum(base.feature_rows) == base.table_rows
    assert memrec.table_scale == 1 and memrec.note == ""
    assert memrec.feature_rows[0] == 39_884_406 and memrec.table_rows == CRITEO_TB_ROWS
    assert memrec.kernel_bytes == 64000 * 512 + 64000 * 4
    assert memrec.uncompressed_bytes == CRITEO_TB_BYTES
    assert memrec.uncompressed_bytes / memrec.kernel_bytes == pytest.approx(2911.1, abs=0.1)
    assert memrec.layout == "shared" and memrec.point_id.endswith(".shared")


def test_without_scale_to_fit_big_tables_are_skipped(tmp_path, zen3_vm):
    path = scenario(tmp_path, "cardinalities: [40000000, 40000000]")
    plan = make_plan(load_scenario(path), zen3_vm, memory_budget=8 * 2**30)
    assert plan.points[0].status == "skipped" and "over the budget" in plan.points[0].reason


def test_per_feature_cardinalities_sum_each_table(tmp_path, zen3_vm):
    kernels = ("  - kernel: baseline\n  - {kernel: qr, collisions: 10}\n"
               "  - {kernel: memrec, token_rows: 100, weight_rows: 10}\n")
    path = scenario(tmp_path, "cardinalities: [1000, 55]\ndim: 4", kernels)
    points = {p.kernel: p for p in make_plan(load_scenario(path), zen3_vm).points}
    assert points["baseline"].kernel_bytes == 1055 * 16
    assert points["qr"].kernel_bytes == ((100 + 10) + (6 + 10)) * 16
    assert points["memrec"].kernel_bytes == 2 * (100 * 16 + 40)  # one encoder per feature


def test_footprint_criteo_tb(repo):
    proc = harness("footprint", repo / "scenarios/criteo_tb.yaml", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    rows = {r["label"]: r for r in out["footprints"]}
    assert rows["memrec 2911x"]["baseline_bytes"] == CRITEO_TB_BYTES
    assert rows["memrec 2911x"]["compression"] == pytest.approx(2911.1, abs=0.1)
    assert rows["memrec 2911x"]["backends"] == ["fused", "torch"]
    assert rows["memrec checkpoint (2484x)"]["bytes"] == 38_700_000
    text = harness("footprint", repo / "scenarios/criteo_tb.yaml").stdout
    assert "96,136,908,288" in text and "2911.1x" in text


def test_footprint_llc_relative_and_bad_input(repo, tmp_path):
    proc = harness("footprint", repo / "scenarios/zen3-vm.yaml", "--llc", "32MiB", "--json")
    rows = json.loads(proc.stdout)["footprints"]
    first = rows[0]
    assert first["table_size"] == "0.25x LLC" and first["baseline_bytes"] == 8 * 2**20
    assert rows[0]["kernel"] == "baseline" and rows[0]["compression"] == 1
    assert rows[1]["bytes"] == 2048 * 512 + 75000 * 4
    proc = harness("footprint", repo / "scenarios/zen3-vm.yaml", "--llc", "lots")
    assert proc.returncode == 2 and "--llc" in proc.stderr and "Traceback" not in proc.stderr
    proc = harness("footprint", tmp_path / "missing.yaml")
    assert proc.returncode == 2 and "no such scenario file" in proc.stderr


def test_baseline_footprint_matches_the_kernel():
    assert Baseline(1000, 16, backend="numpy").nbytes == 1000 * 64

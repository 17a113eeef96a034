"""The speed benchmark's analysis (benchmarks/speed.py) on synthetic points, and its
scenarios' validity; the benchmark itself is run by hand, never timed in tests."""

import importlib.util
import json

import pytest

from harness.scenario import load_scenario

LLC = 32 * 2**20


def _speed_module(repo):
    spec = importlib.util.spec_from_file_location("speed", repo / "benchmarks" / "speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(kernel, ns, llc_ratio, threads=1, batch=2048, **params):
    return {"kernel": kernel, "params": json.dumps(params), "llc_ratio": str(llc_ratio),
            "threads": str(threads), "batch_size": str(batch), "dim": "128",
            "ns_per_lookup": str(ns), "status": "ok"}


def test_speed_table_ratios(repo):
    speed = _speed_module(repo)
    token_rows = LLC // 8 // 512
    memrec = dict(token_rows=token_rows, k=2, weight_rows=75000, k_weight=2)
    runs = [[_row("baseline", 20.0, 0.125), _row("baseline", 100.0, 64),
             _row("memrec", 50.0, 64, backend="fused", prefetch=8, **memrec),
             _row("memrec", 60.0, 64, backend="fused", prefetch=0, **memrec),
             _row("memrec", 90.0, 64, backend="torch", **memrec)],
            [_row("baseline", 30.0, 0.125), _row("baseline", 100.0, 64),
             _row("memrec", 40.0, 64, backend="fused", prefetch=8, **memrec),
             _row("memrec", 90.0, 64, backend="torch", **memrec)]]
    (row,) = speed.speed_table(runs, LLC)
    assert row["fused_ns"] == 45.0 and row["base_row_ns"] == 25.0  # medians over rounds
    assert row["floor"] == pytest.approx(45 / 50) and row["floor_ok"]
    assert row["torch_speedup"] == pytest.approx(2.0) and row["torch_ok"]
    assert row["vs_64x"] == pytest.approx(100 / 45) and row["big_applies"] and row["big_ok"]
    assert row["fused_pf0_ns"] == 60.0
    text = speed.format_table([row])
    assert "1/8" in text and "MISS" not in text
    assert "torch: 1/1" in speed.summary([row])
    assert speed.format_table([row], markdown=True).startswith("| thr |")


def test_speed_table_marks_misses_and_missing(repo):
    speed = _speed_module(repo)
    memrec = dict(token_rows=LLC // 2 // 512, k=4, weight_rows=75000, k_weight=2)
    (row,) = speed.speed_table([[_row("memrec", 200.0, 64, backend="fused", **memrec)]], LLC)
    assert row["floor"] is None and not row["floor_ok"] and not row["big_applies"]
    assert "MISS" in speed.format_table([row])


@pytest.mark.parametrize("name", ["speed_baseline", "speed_memrec"])
def test_benchmark_scenarios_validate(repo, name):
    for quick in (False, True):
        assert load_scenario(repo / "benchmarks" / "scenarios" / f"{name}.yaml", quick).scenario

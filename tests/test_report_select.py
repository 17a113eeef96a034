"""Pure choices behind the figures: roles, matching, missing-point reasons, spreads,
and how peers (every kernel other than baseline) are drawn beside MEM-REC."""

import json
import math

import numpy as np
import pandas as pd
import pyperf
import pytest

from harness.report.select import (display_label, match_baseline, missing_notes,
                                   nearest_batch, role, series_order, thread_panels)
from harness.report.spread import ratio_of_medians_ci


def frame(rows):
    base = {"machine": "m", "table_rows": 100, "dim": 8, "batch_size": 64, "pooling": 1,
            "features": 1, "threads": 1, "distribution": "uniform", "status": "ok",
            "reason": "", "latency_p50_ns": 100.0, "latency_p25_ns": 90.0,
            "latency_p75_ns": 110.0, "kernel": "baseline", "label": "baseline (torch)"}
    return pd.DataFrame([{**base, "point_id": f"p{i}", **r} for i, r in enumerate(rows)])


def test_roles_and_legend_order():
    assert [role(k) for k in ("baseline", "memrec", "hashing", "qr", "robez")] == \
        ["baseline", "memrec", "peer", "peer", "peer"]
    points = frame([{"kernel": "qr", "label": "qr"}, {"kernel": "memrec", "label": "memrec b"},
                    {}, {"kernel": "memrec", "label": "memrec a"}])
    assert series_order(points) == [("baseline", "baseline (torch)"), ("memrec", "memrec a"),
                                    ("memrec", "memrec b"), ("qr", "qr")]
    assert display_label("memrec (fused) d=1 k=2", "memrec") == "MEM-REC (fused) d=1 k=2"
    assert display_label("my label", "memrec") == "my label"


def test_match_baseline_pairs_only_like_with_like():
    points = frame([
        {},                                                       # baseline b64 t1
        {"kernel": "memrec", "label": "mr", "latency_p50_ns": 50.0},   # pairs
        {"kernel": "hashing", "label": "h", "latency_p50_ns": 25.0},   # peer pairs too
        {"kernel": "memrec", "label": "mr", "batch_size": 128},    # no baseline at b128
        {"kernel": "memrec", "label": "mr", "threads": 2},        # no baseline at t2
        {"kernel": "memrec", "label": "mr", "machine": "other"},  # other machine
        {"kernel": "memrec", "label": "mr", "status": "failed", "batch_size": 32},
    ])
    pairs = match_baseline(points)
    assert sorted(pairs["kernel"]) == ["hashing", "memrec"]
    assert set(pairs["base_point_id"]) == {"p0"}
    speedups = dict(zip(pairs["kernel"], pairs["base_p50_ns"] / pairs["latency_p50_ns"]))
    assert speedups == {"memrec": 2.0, "hashing": 4.0}


def test_missing_notes_say_why():
    points = frame([{"threads": 1}, {"threads": 28, "status": "skipped",
                                     "reason": "needs 28 cores"},
                    {"threads": 28, "status": "skipped", "reason": "needs 28 cores"},
                    {"threads": 4, "status": "failed", "reason": "timed out"}])
    notes = missing_notes(points, "threads")
    assert notes == ["threads 4: 1 failed: timed out",
                     "threads 28: 2 skipped: needs 28 cores"]
    assert missing_notes(points, "threads", shown={4, 28}) == []


def test_slices():
    points = frame([{"batch_size": b} for b in (16, 128, 1024)] + [{"threads": 8}])
    assert set(nearest_batch(points, 100)["batch_size"]) == {128}
    assert thread_panels(points) == [1, 8]


def test_ratio_ci_brackets_the_ratio_and_is_repeatable():
    rng = np.random.default_rng(1)
    a, b = rng.normal(300, 10, 200), rng.normal(100, 5, 200)
    lo, hi = ratio_of_medians_ci(a, b)
    assert lo < np.median(a) / np.median(b) < hi
    assert (lo, hi) == ratio_of_medians_ci(a, b)
    assert all(math.isnan(v) for v in ratio_of_medians_ci([], b))


@pytest.fixture
def with_peer(tmp_path):
    """The vm fixture plus a peer kernel: MEM-REC's rows relabelled as 'hashing'."""
    import shutil
    from pathlib import Path

    src = Path(__file__).parent / "fixtures" / "results" / "vm"
    d = tmp_path / "peer"
    shutil.copytree(src, d)
    points = pd.read_csv(d / "points.csv", keep_default_na=False, dtype=str)
    one = points[(points["kernel"] == "memrec") & points["label"].str.contains("k=1 ")]
    peer = one.assign(kernel="hashing", label="hashing (torch) rows=8192",
                      point_id=one["point_id"].str.replace("memrec", "hashing"))
    pd.concat([points, peer]).to_csv(d / "points.csv", index=False)
    # The files of one run agree: the peer's points are in the plan and in pyperf.json.
    renamed = dict(zip(one["point_id"], peer["point_id"]))
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["plan"] += [dict(e, point_id=renamed[e["point_id"]], kernel="hashing")
                         for e in manifest["plan"] if e["point_id"] in renamed]
    (d / "manifest.json").write_text(json.dumps(manifest))
    suite = pyperf.BenchmarkSuite.load(str(d / "pyperf.json"))
    for bench in list(suite.get_benchmarks()):
        if bench.get_name() in renamed:
            runs = [pyperf.Run(r.values, warmups=r.warmups, collect_metadata=False,
                               metadata=dict(r.get_metadata(), name=renamed[bench.get_name()]))
                    for r in bench.get_runs()]
            suite.add_benchmark(pyperf.Benchmark(runs))
    (d / "pyperf.json").unlink()
    suite.dump(str(d / "pyperf.json"))
    return d


def test_peers_are_drawn_beside_memrec_which_is_highlighted(with_peer):
    from harness.report.figures import figure
    from harness.report.load import load_results
    from harness.report.style import report_style

    results = load_results([with_peer])
    with report_style():
        frame_ = figure("speedup").data(results)
        fig = figure("speedup").draw(frame_, results)
    assert "hashing" in set(frame_["kernel"])
    from harness.report.style import Palette

    colors = Palette(results).colors
    peer_color = colors[("hashing", "hashing (torch) rows=8192")]
    memrec_colors = {c for (k, _), c in colors.items() if k == "memrec"}
    assert peer_color not in memrec_colors
    widths = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if len(line.get_xdata()) > 1 and line.get_linestyle() != "None":  # series lines
                widths.setdefault(line.get_color(), set()).add(line.get_linewidth())
    assert min(w for c in memrec_colors for w in widths[c]) > max(widths[peer_color])
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any(t.startswith("hashing") for t in legend)
    assert any(t.startswith("MEM-REC") for t in legend)


def test_one_configuration_is_one_series_on_every_machine():
    from pathlib import Path

    from harness.report.load import load_results

    fixtures = Path(__file__).parent / "fixtures" / "results"
    points = load_results([fixtures / "vm", fixtures / "skx"]).points
    by_machine = points.groupby("machine")["label"].apply(set)
    assert len(by_machine) == 2 and by_machine.iloc[0] == by_machine.iloc[1]
    assert "memrec (torch) d=0.125x LLC k=2 d'=4096 k'=1" in by_machine.iloc[0]
    # the resolved sizes still differ, and the stored label is kept
    mem = points[points["label"] == "memrec (torch) d=0.125x LLC k=2 d'=4096 k'=1"]
    assert mem.groupby("machine")["params_obj"].first().map(lambda p: p["token_rows"]) \
        .nunique() == 2
    assert mem["point_label"].str.contains("d=8192").any()


def test_series_names_from_entries():
    from harness.scenario.kernelspec import KERNELS, variants
    from harness.report.series import entry_name

    MemRecParams = KERNELS["memrec"].params_model
    entry = MemRecParams.model_validate({"kernel": "memrec", "token_rows": "0.125x LLC",
                                         "k": [1, 2], "weight_rows": 4096})
    names = [entry_name("memrec", entry, v) for v in variants(entry)]
    assert names == ["memrec (torch) d=0.125x LLC k=1 d'=4096 k'=1",
                     "memrec (torch) d=0.125x LLC k=2 d'=4096 k'=1"]
    labelled = MemRecParams.model_validate({"kernel": "memrec", "label": "MEM-REC small",
                                            "token_rows": 1000, "k": [1, 2],
                                            "weight_rows": 100})
    assert [entry_name("memrec", labelled, v) for v in variants(labelled)] == \
        ["MEM-REC small k=1", "MEM-REC small k=2"]


def test_match_baseline_keeps_page_sizes_and_runs_apart():
    """Review finding: a MEM-REC point on huge pages was paired with the baseline on
    4 KiB pages (and every page size with every other), and runs with each other."""
    points = frame([
        {"pages": "4k", "source": "run1"}, {"pages": "thp", "source": "run1"},
        {"kernel": "memrec", "label": "mr", "pages": "4k", "source": "run1"},
        {"kernel": "memrec", "label": "mr", "pages": "thp", "source": "run1"},
        {"kernel": "memrec", "label": "mr", "pages": "4k", "source": "run2"},  # no baseline
    ])
    pairs = match_baseline(points)
    assert sorted(zip(pairs["point_id"], pairs["base_point_id"])) == [("p2", "p0"), ("p3", "p1")]
    legacy = frame([{}, {"kernel": "memrec", "label": "mr"}]).drop(columns=["distribution"])
    assert len(match_baseline(legacy)) == 1  # an older points.csv: matched on what it has


def test_footprint_uses_the_runs_own_ratio_with_cardinalities():
    """Review finding: table_bytes is the sum over a scenario's cardinalities, so
    multiplying it by the features overstated compression by that many times."""
    from types import SimpleNamespace

    from harness.report.figures import footprint

    points = frame([
        {"table_size": "3 tables", "llc_ratio": 1.0, "features": 3, "table_bytes": 8000 * 32,
         "kernel_bytes": 8000 * 32, "compression": 1.0},
        {"kernel": "memrec", "label": "mr", "table_size": "3 tables", "llc_ratio": 1.0,
         "features": 3, "table_bytes": 8000 * 32, "kernel_bytes": 9900, "compression": 25.86},
    ])
    results = SimpleNamespace(points=points,
                              machines={"m": SimpleNamespace(llc_bytes=32 << 20)})
    got = dict(zip(footprint.data(results)["kernel"], footprint.data(results)["compression"]))
    assert got == pytest.approx({"baseline": 1.0, "memrec": 25.86})


def test_a_scaled_down_baseline_counts_at_the_size_the_scenario_gave_it():
    from harness.report.select import largest_table

    points = frame([
        {"llc_ratio": 7367.0, "table_scale": 7367.0 / 63413.0},  # scaled to fit memory
        {"kernel": "memrec", "label": "mr", "llc_ratio": 63413.0, "table_scale": 1.0},
        {"kernel": "memrec", "label": "mr", "llc_ratio": 2.0, "table_scale": 1.0},
    ])
    assert sorted(largest_table(points)["point_id"]) == ["p0", "p1"]

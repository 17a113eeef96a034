"""Claims come only from clean data (issue 15, item 6): the speedup page's headline is a
robust figure from pairs of ok points, noisy and unstable points are drawn hollow and
listed with their reasons, and compare / the CI gate do not judge them."""

import json

import pytest
from matplotlib.lines import Line2D

from harness.__main__ import main
from harness.report.figures import figure
from harness.report.load import load_results
from harness.report.quality import headline
from harness.report.titlepage import quality_lines, title_page
from synthetic_results import write_result_dir

SPEEDUP_PAGE = figure("speedup")

# One table, eight batch sizes: eight matched pairs whose true speedup is exactly 2x
# (100 us / 50 us) and whose samples are noisy-ish (few batches), all ok.
MANY_PAIRS = """\
name: curse
threads: [1]
tables: {sizes: ["4000 rows"], dim: 16}
batch_sizes: [16, 32, 64, 128, 256, 512, 1024, 2048]
kernels:
  - kernel: baseline
  - {kernel: memrec, token_rows: 100, k: 2, weight_rows: 50, k_weight: 1}
measure: {warmups: 1, batches: 20, repeats: 2}
"""


# The synthetic scenario's points (tests/synthetic_results.py).
BASELINE = "baseline-torch.rows{}.dim16.b64.p1.t1"
MEMREC = "memrec-torch-d100-k2-dw50-kw1-per_id-hash_in_kernel.rows{}.dim16.b64.p1.t1"
POINTS = [f.format(rows) for rows in (1000, 4000) for f in (BASELINE, MEMREC)]


@pytest.fixture
def spoiled(tmp_path, zen3_vm):
    """The synthetic run with the large table's baseline descheduled (500x slower) and
    flagged noisy, as the issue's 508x headline was; every other point ok."""
    d, big_base = tmp_path / "spoiled", BASELINE.format(4000)
    points = write_result_dir(d, zen3_vm, levels={big_base: 50_000_000}, extra_columns={
        "quality": {p: "noisy" if p == big_base else "ok" for p in POINTS},
        "quality_reason": {big_base: "interference 41% of the pinned CPUs' time (threshold "
                                     "5%); 812 involuntary switches"}})
    assert sorted(p.point_id for p in points) == sorted(POINTS)
    return d, big_base


def test_headline_ignores_a_noisy_point_with_a_huge_ratio(spoiled):
    d, big_base = spoiled
    frame = SPEEDUP_PAGE.data(load_results([d]))
    huge = frame[frame["baseline_point_id"] == big_base]
    assert (huge["speedup"] > 500).all() and not huge["clean"].any() and huge["hollow"].all()
    text = headline(frame, 3.4)
    small = frame[frame["clean"]].iloc[0]
    assert text.startswith(f"Headline (robust): at least {small['ci95_lo']:.2f}x")
    assert "1000 rows" in text and "4000 rows" not in text
    assert "over 1 matched pair(s) of ok points (1 pair(s) with a noisy, unstable or " \
           "unassessed point left out)" in text
    assert f"{huge['speedup'].iloc[0]:.2f}" not in text


def test_headline_is_the_best_lower_bound_not_the_largest_ratio(tmp_path, zen3_vm):
    """The winner's curse: of eight noisy-ish estimates of the same 2x, the largest is
    above 2x by chance, here at the one configuration whose samples scatter most. The
    headline is the best 95% lower bound, at another configuration, nearer the truth."""
    wild = [f"{kind}.rows4000.dim16.b2048.p1.t1" for kind in
            ("baseline-torch", "memrec-torch-d100-k2-dw50-kw1-per_id-hash_in_kernel")]
    d = tmp_path / "curse"
    write_result_dir(d, zen3_vm, scenario_text=MANY_PAIRS, seed=7,
                     extra_columns={"quality": "ok"},
                     spreads={"baseline": 0.1, "memrec": 0.1} | {w: 0.4 for w in wild})
    frame = SPEEDUP_PAGE.data(load_results([d]))
    pairs = frame.drop_duplicates("point_id")
    assert len(pairs) == 8 and pairs["clean"].all()
    largest = pairs.loc[pairs["speedup"].idxmax()]
    best = pairs.loc[pairs["ci95_lo"].idxmax()]
    # the curse this test is about did happen, at the wild pair, and is not the headline
    assert largest["speedup"] > 2.05 and largest["batch_size"] == 2048
    assert best["batch_size"] != 2048
    text = headline(frame, 3.4)
    assert text.startswith(f"Headline (robust): at least {best['ci95_lo']:.2f}x, the best "
                           f"lower bound of a 95% interval over 8 matched pair(s) of ok "
                           f"points (")
    assert f"batch {best['batch_size']}," in text and "batch 2048" not in text
    assert f"{largest['speedup']:.2f}x" not in text
    assert abs(best["ci95_lo"] - 2.0) < abs(largest["speedup"] - 2.0)


def test_no_headline_without_assessed_ok_pairs(tmp_path, zen3_vm):
    """Results from before quality was assessed are drawn, but make no claim."""
    d = tmp_path / "old"
    write_result_dir(d, zen3_vm)
    frame = SPEEDUP_PAGE.data(load_results([d]))
    assert len(frame) and not frame["clean"].any() and not frame["hollow"].any()
    text = headline(frame, 3.4)
    assert text.startswith("No headline figure: none of the 2 matched pair(s) has both "
                           "points ok") and "not assessed" in text


def test_noisy_points_are_hollow_in_the_figures_and_listed_with_reasons(spoiled):
    d, big_base = spoiled
    results = load_results([d])
    frame = SPEEDUP_PAGE.data(results)
    fig = SPEEDUP_PAGE.draw(frame, results)
    hollow_x = set(frame.loc[frame["hollow"], "x"])
    drawn_open = {x for ax in fig.axes for line in ax.get_lines()
                  if isinstance(line, Line2D) and line.get_markerfacecolor() == "white"
                  and line.get_linestyle() == "None" for x in line.get_xdata()}
    assert hollow_x and hollow_x <= drawn_open
    for name in ("latency", "cliff", "scaling"):  # every figure that draws points
        drawn = figure(name).data(results)
        drawn = drawn[drawn["point_id"].notna()]
        assert list(drawn.loc[drawn["hollow"].astype(bool), "point_id"]) == [big_base], name
        assert set(drawn.loc[~drawn["hollow"].astype(bool), "quality"]) == {"ok"}, name
    lines = quality_lines(results.points)
    assert lines == [f"noisy: {big_base}: interference 41% of the pinned CPUs' time "
                     f"(threshold 5%); 812 involuntary switches"]
    page = title_page(results, results.sources[0], None, 1, 1)
    assert "Quality: noisy or unstable points (drawn hollow) and why" in \
        {t.get_text() for t in page.texts}


# -- compare and the gate -------------------------------------------------------------

def compare(capsys, *args):
    status = main(["compare", *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture
def slower_but_noisy(tmp_path, zen3_vm):
    """NEW's MEM-REC points are 30% slower, and flagged: the slowdown is the machine's."""
    memrec = [MEMREC.format(rows) for rows in (1000, 4000)]
    write_result_dir(tmp_path / "base", zen3_vm, seed=1, extra_columns={"quality": "ok"})
    write_result_dir(tmp_path / "new", zen3_vm, seed=2, levels={"memrec": 50_000 * 1.3},
                     extra_columns={"quality": {p: "unstable" if p in memrec else "ok"
                                                for p in POINTS},
                                    "quality_reason": {m: "IQR 23% of the median (limit 10%)"
                                                       for m in memrec}})
    return tmp_path / "base", tmp_path / "new", memrec


def test_compare_marks_noisy_points_incomparable_and_the_gate_does_not_fail(
        slower_but_noisy, capsys, tmp_path):
    base, new, memrec = slower_but_noisy
    status, out, err = compare(capsys, base, new, "--json", tmp_path / "c.json",
                               "--markdown", tmp_path / "c.md")
    assert status == 0, out + err  # neither failed (the slowdown) ...
    assert "no regression (0 slower, 0 faster, 2 same, 2 incomparable; 2 of the " \
           "incomparable noisy or unstable)" in out
    for m in memrec:
        line = next(x for x in out.splitlines() if x.startswith("incomparable (noisy)")
                    and m in x)
        assert f"unstable in NEW ({m}): IQR 23% of the median (limit 10%)" in line
    report = json.loads((tmp_path / "c.json").read_text())
    assert sorted(report["noisy"]) == sorted(memrec) and report["summary"]["noisy"] == 2
    assert all(c["noisy"] == (c["point_id"] in memrec) for c in report["changes"])
    assert "incomparable (noisy)" in (tmp_path / "c.md").read_text()


def test_include_noisy_judges_them(slower_but_noisy, capsys):
    base, new, memrec = slower_but_noisy
    status, out, _ = compare(capsys, base, new, "--include-noisy")
    assert status == 1 and "REGRESSION: 2 point(s)" in out
    assert "--include-noisy" in out and "incomparable (noisy)" not in out


def test_only_noisy_points_neither_pass_nor_fail(tmp_path, zen3_vm, capsys):
    """Nothing clean to judge: exit 2 with compare.json's exit_status 2, which the CI
    gate (.ci/run) turns into a warning, not a pass and not a failure."""
    write_result_dir(tmp_path / "base", zen3_vm, seed=1, extra_columns={"quality": "ok"})
    write_result_dir(tmp_path / "new", zen3_vm, seed=2, levels={"memrec": 50_000 * 1.3},
                     extra_columns={"quality": "noisy"})
    status, out, err = compare(capsys, tmp_path / "base", tmp_path / "new",
                               "--json", tmp_path / "c.json")
    assert status == 2 and "4 noisy or unstable" in err
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["exit_status"] == 2 and len(report["noisy"]) == 4
    assert report["summary"]["slower"] == 0 and report["summary"]["new_failures"] == 0


def test_speedup_metric_is_noisy_when_its_baseline_is(spoiled, tmp_path, zen3_vm, capsys):
    d, big_base = spoiled
    clean = tmp_path / "clean"
    write_result_dir(clean, zen3_vm, extra_columns={"quality": "ok"})
    status, out, _ = compare(capsys, clean, d, "--metric", "speedup")
    big_memrec = MEMREC.format(4000)
    line = next(x for x in out.splitlines() if big_memrec in x)
    assert line.startswith("incomparable (noisy)") and f"noisy in NEW ({big_base})" in line
    assert status == 0

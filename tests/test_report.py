"""The report: every figure rendered from stored result fixtures, the PDF's pages and
text, several machines overlaid, and bad input answered with exit status 2.

Fixtures (tests/fixtures/results/, made by tests/fixtures/make_report_fixtures.py):
``vm`` is a real run on a 2-vCPU VM with modelled counter values; ``skx`` is a run
sized against a fake Skylake-SP (38.5 MiB LLC) with skipped and failed points and
counters recorded as not-supported.
"""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from harness.__main__ import main
from harness.report.cli import figure_main
from harness.report.figures import FIGURE_MODULES, all_figures, figure
from harness.report.load import load_results
from harness.report.style import report_style

from cli import assert_usage_error, run_harness, run_python

FIXTURES = Path(__file__).parent / "fixtures" / "results"
VM, SKX = FIXTURES / "vm", FIXTURES / "skx"
REPO = Path(__file__).resolve().parent.parent
TITLE_PAGE = "MEM-REC vs baseline embedding lookups"


def pages_text(pdf: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(pdf).pages]


def flat(text: str) -> str:
    """Page text with line breaks and repeated spaces folded, for phrase checks."""
    return " ".join(text.split())


def test_fixtures_are_what_the_tests_assume():
    vm = pd.read_csv(VM / "points.csv")
    skx = pd.read_csv(SKX / "points.csv")
    assert set(vm["status"]) == {"ok", "skipped"}
    assert set(skx["status"]) == {"ok", "skipped", "failed"}
    assert set(vm["llc_misses_per_lookup_source"].dropna()) == {"model"}
    assert set(skx["dram_bytes_per_lookup_source"].dropna()) >= {"not-supported"}
    assert skx["dram_bytes_per_lookup"].isna().all()


def test_report_of_one_machine(tmp_path):
    out = tmp_path / "one.pdf"
    proc = run_harness("report", VM, "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    texts = pages_text(out)
    figures = all_figures()
    assert len(texts) == 1 + len(figures)
    assert TITLE_PAGE in flat(texts[0])
    for spec, text in zip(figures, texts[1:]):
        assert spec.title in flat(text), spec.name
        assert "pinned CPUs 0-1" in text  # the provenance footer on every figure
    # the data drawn, one CSV per figure
    for spec in figures:
        assert (tmp_path / "one-data" / f"{spec.name}.csv").is_file()


def test_report_overlays_machines_and_explains_what_is_missing(tmp_path):
    out = tmp_path / "two.pdf"
    assert main(["report", str(VM), str(SKX), "-o", str(out), "--no-data"]) == 0
    texts = [flat(t) for t in pages_text(out)]
    assert len(texts) == 2 + len(FIGURE_MODULES)
    assert texts[0].startswith(TITLE_PAGE + " vm: AMD EPYC")  # oldest run first
    skx_page = texts[1]
    assert skx_page.startswith("Results 2 of 2 skx-fake:")
    assert "Platinum 8180" in skx_page and "38.5 MiB" in skx_page
    assert "failed: baseline-torch.rows19712.dim128.b32.p1.t1" in skx_page
    assert "timed out after 300 s" in skx_page
    assert "skipped: needs 64 cores" in skx_page
    assert "not-supported" in skx_page           # counter status on the title page
    latency = texts[2]
    for machine in ("vm: AMD EPYC, LLC 32 MiB", "skx-fake:", "LLC 38.5 MiB"):
        assert machine in latency                # the legend names each CPU and LLC
    counters = texts[2 + FIGURE_MODULES.index("counters")]
    assert "[model]" in counters                 # every series says where it came from
    assert "not-supported" in counters           # and the machine that could not count


def test_counters_panel_says_why_none_were_counted(tmp_path):
    out = tmp_path / "c.pdf"
    assert figure_main("counters", [str(SKX), "-o", str(out)]) == 0
    text = flat(pages_text(out)[0])
    assert "No LLC misses per lookup were counted" in text
    assert "not-supported" in text and "<not supported>" in text
    assert pd.read_csv(out.with_suffix(".csv")).empty  # nothing drawn, nothing listed


def test_results_without_counter_columns(tmp_path):
    d = tmp_path / "old"
    shutil.copytree(VM, d)
    points = pd.read_csv(d / "points.csv")
    points.drop(columns=[c for c in points if "per_lookup_source" in c
                         or c in ("llc_misses_per_lookup", "dram_bytes_per_lookup")]) \
        .to_csv(d / "points.csv", index=False)
    out = tmp_path / "c.pdf"
    assert figure_main("counters", [str(d), "-o", str(out)]) == 0
    assert "has no llc_misses_per_lookup column" in flat(pages_text(out)[0])
    # beside results that have the columns, its points say they were not recorded
    mixed = load_results([d, SKX]).points
    old = mixed[mixed["source"] == str(d)]
    assert set(old["llc_misses_per_lookup_source"]) == {"not-recorded"}
    assert figure_main("counters", [str(d), str(SKX), "-o", str(out)]) == 0
    assert "not-recorded: these results were stored by a harness" in flat(pages_text(out)[0])


@pytest.mark.parametrize("name", FIGURE_MODULES)
def test_each_figure_script_writes_figure_and_its_data(name, tmp_path):
    out = tmp_path / f"{name}.pdf"
    assert figure_main(name, [str(VM), str(SKX), "-o", str(out)]) == 0
    texts = pages_text(out)
    assert len(texts) == 1 and figure(name).title in flat(texts[0])
    written = pd.read_csv(out.with_suffix(".csv"))
    with report_style():
        expected = figure(name).data(load_results([VM, SKX]))
    assert len(written) == len(expected) and list(written.columns) == list(expected.columns)


def test_script_runs_alone_from_a_checkout(tmp_path):
    out = tmp_path / "latency.png"
    proc = run_python(REPO / "reports" / "latency.py", VM, "-o", out,
                      "--csv", tmp_path / "drawn.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "drawn.csv").is_file()


def test_one_entry_point_takes_the_figure_name(tmp_path):
    """reports/figure.py NAME is the script; reports/NAME.py are aliases of it."""
    out = tmp_path / "scaling.png"
    proc = run_python(REPO / "reports" / "figure.py", "scaling", VM, "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.with_suffix(".csv").is_file()
    assert_usage_error(run_python(REPO / "reports" / "figure.py", "nope", VM, "-o", out),
                       "invalid choice: 'nope'")
    aliases = {path.stem for path in (REPO / "reports").glob("*.py")} - {"figure"}
    assert aliases == set(FIGURE_MODULES)


def test_svg_output(tmp_path):
    out = tmp_path / "cliff.svg"
    assert figure_main("cliff", [str(VM), "-o", str(out)]) == 0
    assert "The cache cliff" in out.read_text()


def _marker_points(fig) -> int:
    """Data points drawn with a marker on every axis of a page."""
    n = 0
    for ax in fig.axes:
        for line in ax.get_lines():
            # error-bar caps are markers too ("_"); data points are the series' markers
            if line.get_marker() not in (None, "None", "", " ", "_", "|") \
                    and len(line.get_xdata()):
                n += len(line.get_xdata())
    return n


@pytest.mark.parametrize("name,what", [("latency", None), ("speedup", None),
                                       ("cliff", ("what", "point")), ("scaling", None)])
def test_csv_rows_are_the_points_drawn(name, what):
    results = load_results([VM, SKX])
    spec = figure(name)
    with report_style():
        frame = spec.data(results)
        fig = spec.draw(frame, results)
    if what:
        frame = frame[frame[what[0]] == what[1]]
    assert len(frame) > 0 and _marker_points(fig) == len(frame)


def test_speedup_is_matched_point_by_point():
    results = load_results([VM])
    frame = figure("speedup").data(results)
    pts = results.points.set_index("point_id")
    for _, row in frame.iterrows():
        base, comp = pts.loc[row["baseline_point_id"]], pts.loc[row["point_id"]]
        for column in ("table_rows", "batch_size", "threads", "dim", "pooling", "features"):
            assert base[column] == comp[column]
        assert row["speedup"] == pytest.approx(base["latency_p50_ns"] / comp["latency_p50_ns"])
        assert row["ci95_lo"] <= row["speedup"] * 1.0001
        assert row["ci95_hi"] >= row["speedup"] * 0.9999


def test_report_is_reproducible(tmp_path):
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    for out in (a, b):
        assert main(["report", str(VM), "-o", str(out), "--no-data",
                     "--figures", "latency,footprint"]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert len(PdfReader(a).pages) == 3


# -- bad input: a message naming the problem and exit status 2, never a traceback ------

def _copy(tmp_path, name="r"):
    d = tmp_path / name
    shutil.copytree(VM, d)
    return d


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


BAD_INPUTS = {
    "missing directory": (lambda d: shutil.rmtree(d), "no such directory"),
    "no manifest": (lambda d: (d / "manifest.json").unlink(), "manifest.json: missing"),
    "truncated manifest": (lambda d: _truncate(d / "manifest.json"), "not valid JSON"),
    "foreign json": (lambda d: (d / "manifest.json").write_text('{"benchmarks": []}'),
                     "not a harness result manifest"),
    "newer format": (lambda d: (d / "manifest.json").write_text(json.dumps(
        {**json.loads((d / "manifest.json").read_text()), "format_version": 99})),
                     "newer than this harness reads"),
    "truncated csv": (lambda d: _truncate(d / "points.csv", 0.37), "truncated file?"),
    "foreign csv": (lambda d: (d / "points.csv").write_text("a,b\n1,2\n"),
                    "not a harness points.csv"),
    "empty csv": (lambda d: (d / "points.csv").write_text(""), "empty file"),
    "truncated pyperf": (lambda d: _truncate(d / "pyperf.json"), "pyperf.json: not valid JSON"),
    "no ok points": (lambda d: (d / "points.csv").write_text(
        (d / "points.csv").read_text().replace(",ok,", ",skipped,")), "no measured (ok) points"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_naming_the_problem(case, tmp_path, capsys):
    d = _copy(tmp_path)
    damage, message = BAD_INPUTS[case]
    damage(d)
    assert main(["report", str(d), "-o", str(tmp_path / "x.pdf")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.pdf").exists()


def test_bad_arguments(tmp_path, capsys):
    assert figure_main("latency", [str(VM), "-o", str(tmp_path / "x.jpg")]) == 2
    assert "must end in .png, .pdf, .svg" in capsys.readouterr().err
    assert main(["report", str(VM), str(VM), "-o", str(tmp_path / "x.pdf")]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["report", str(VM), "-o", str(tmp_path / "x.pdf"), "--figures", "nope"]) == 2
    assert "no figure 'nope'" in capsys.readouterr().err


def test_bad_input_from_the_command_line_has_no_traceback(tmp_path):
    d = _copy(tmp_path)
    _truncate(d / "points.csv", 0.5)
    proc = run_python(REPO / "reports" / "speedup.py", d, "-o", tmp_path / "s.png")
    assert_usage_error(proc, "points.csv line")


VM_LIMITS = FIXTURES / "vm-limits"


def test_limits_figure_places_kernels_against_the_gather_curve(tmp_path):
    results = load_results([VM, VM_LIMITS])
    assert set(results.limits) == set(results.machines)       # limits are not kernels
    assert "gather" not in set(results.points["kernel"])
    spec = figure("limits")
    with report_style():
        frame = spec.data(results)
        fig = spec.draw(frame, results)
    points = frame[frame["what"] == "point"]
    assert len(points) > 0 and _marker_points(fig) == 2 * len(points)  # both panels
    assert (points["fraction_of_limit"] > 0).all()
    row = points.iloc[0]
    assert row["fraction_of_limit"] == pytest.approx(row["limit_ns_per_row"] / row["ns_per_row"])
    memrec = points[points["kernel"] == "memrec"].iloc[0]
    assert memrec["working_set_bytes"] < 1e8  # its token table, not the vocabulary
    out = tmp_path / "limits.png"
    assert figure_main("limits", [str(VM), str(VM_LIMITS), "-o", str(out)]) == 0
    assert (tmp_path / "limits.csv").is_file()


def test_limits_figure_without_limits_says_how_to_get_them(tmp_path):
    out = tmp_path / "l.pdf"
    assert figure_main("limits", [str(VM), "-o", str(out)]) == 0
    assert "python -m harness limits" in flat(pages_text(out)[0])


def test_only_limits_is_not_a_report(tmp_path, capsys):
    assert main(["report", str(VM_LIMITS), "-o", str(tmp_path / "x.pdf")]) == 2
    assert "only `harness limits` results" in capsys.readouterr().err


def test_speedup_page_draws_the_ceiling_from_a_limits_result(tmp_path):
    results = load_results([VM, VM_LIMITS])
    frame = figure("speedup").data(results)
    memrec = frame[frame["kernel"] == "memrec"]
    assert len(memrec) and memrec["speedup_ceiling"].notna().all()
    assert list(memrec["ceiling_fraction"]) == pytest.approx(
        list(memrec["speedup"] / memrec["speedup_ceiling"]))
    out = tmp_path / "speedup.png"
    assert figure_main("speedup", [str(VM), str(VM_LIMITS), "-o", str(out)]) == 0
    assert "speedup_ceiling" in (tmp_path / "speedup.csv").read_text().splitlines()[0]


def test_speedup_page_without_limits_says_why_no_ceiling(tmp_path):
    results = load_results([VM])
    frame = figure("speedup").data(results)
    assert frame["speedup_ceiling"].isna().all()
    assert frame["ceiling_note"].str.contains("no limits result").all()
    out = tmp_path / "speedup.pdf"
    assert figure_main("speedup", [str(VM), "-o", str(out)]) == 0
    assert "no speedup ceiling drawn" in flat(pages_text(out)[0])


def test_zen_fills_are_a_panel_of_their_own_never_llc_misses(tmp_path):
    from harness.report.figures.counters import ZEN_FILLS

    results = load_results([VM])
    ok = results.points["status"] == "ok"
    results.points[ZEN_FILLS] = None
    results.points.loc[ok, ZEN_FILLS] = 1.5
    results.points[f"{ZEN_FILLS}_source"] = ""
    results.points.loc[ok, f"{ZEN_FILLS}_source"] = "perf"
    spec = figure("counters")
    with report_style():
        frame = spec.data(results)
        fig = spec.draw(frame, results)
    zen = frame[frame["metric"] == ZEN_FILLS]
    assert len(zen) and set(zen["value"]) == {1.5}
    # LLC misses stay the model's; the Zen values never join them.
    llc = frame[(frame["metric"] == "llc_misses_per_lookup") & (frame["what"] == "measured")]
    assert 1.5 not in set(llc["value"]) and set(llc["source"]) == {"model"}
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert any(t.startswith("AMD Zen: L1D fills from beyond the L3") for t in titles)
    legend = " ".join(" ".join(t.get_text() for lg in fig.legends for t in lg.get_texts()).split())
    assert "AMD L1D fills beyond L3" in legend

"""Assemble a multi-page PDF from stored results: a title page per result directory
(machine, LLC, pinning, SMT, counters, scenario, commit, dates, what was skipped or
failed and why), then the figures: latency, speedup, cache cliff, LLC misses and DRAM
bytes, the kernels against the machine's limits (given a `harness limits` result),
scaling, MEM-REC sensitivity and footprint. Several result directories from
different machines overlay, one line style per machine. Each figure's data is written
as CSV beside the PDF. Nothing is rerun."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import UsageError
from harness.report.cli import check_output
from harness.report.figures import FIGURE_MODULES, figure
from harness.report.load import load_results
from harness.report.pdf import write_report


def add_arguments(parser) -> None:
    parser.add_argument("results", nargs="+", type=Path, metavar="RESULTS_DIR",
                        help="result directories written by `harness run` (or `harness "
                             "accuracy`: then the accuracy pages, with speed beside them)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.pdf",
                        help="the PDF to write, e.g. reports/skylake.pdf")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="where each figure's CSV goes (default: FILE-data/ beside the "
                             "PDF)")
    parser.add_argument("--no-data", action="store_true", help="write the PDF only")
    parser.add_argument("--figures", metavar="NAMES",
                        help=f"comma-separated subset, in order (default all: "
                             f"{','.join(FIGURE_MODULES)})")


def run(args) -> int:
    out = check_output(args.output, (".pdf",))
    figures = None
    if args.figures:
        figures = [figure(name.strip()) for name in args.figures.split(",") if name.strip()]
        if not figures:
            raise UsageError("--figures names no figure")
    data_dir = None
    if not args.no_data:
        data_dir = args.data_dir or out.with_name(out.stem + "-data")
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{data_dir}: cannot create: {exc}") from None
    from harness.report.accuracy import report as accuracy_report

    pages = accuracy_report(args.results, out, data_dir)  # None: no accuracy results given
    if pages is not None:
        print(f"{out}: {pages} accuracy pages", file=sys.stderr)
        return 0
    if _serving_report(args.results, out, data_dir):
        return 0
    results = load_results(args.results)
    pages = write_report(results, out, data_dir, figures)
    print(f"{out}: {pages} pages from {len(results.sources)} result director"
          f"{'y' if len(results.sources) == 1 else 'ies'} "
          f"({', '.join(m.label for m in results.machines.values())})", file=sys.stderr)
    if data_dir is not None:
        print(f"data drawn: {data_dir}/<figure>.csv", file=sys.stderr)
    return 0


def _serving_report(directories: list[Path], out: Path, data_dir) -> bool:
    """Draw the serving pages (harness/report/figures/serve.py) when these are
    ``harness serve`` results; False when they are run results, for the run report."""
    from harness.store.serving import is_serve_dir

    serving = [is_serve_dir(d) for d in directories]
    if not any(serving):
        return False
    if not all(serving):
        raise UsageError("serving results (harness serve) and run results (harness run) go "
                         "in separate reports")
    from harness.report.figures.serve import write_serve_report

    pages = write_serve_report(directories, out, data_dir)
    print(f"{out}: {pages} serving pages", file=sys.stderr)
    return True

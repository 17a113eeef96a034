"""Run one figure as a script: ``python reports/figure.py NAME RESULTS_DIR... -o OUT``
(or its alias ``python reports/NAME.py RESULTS_DIR... -o OUT``).

Writes the figure (PNG, PDF or SVG, by OUT's suffix) and, beside it, a CSV of exactly
the data it drew (OUT with the suffix .csv, or --csv). Bad input is a message and
exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import UsageError
from harness.store.fileio import refuse_result_file
from harness.report.figures import FIGURE_MODULES, figure
from harness.report.load import load_results
from harness.report.style import report_style

FORMATS = (".png", ".pdf", ".svg")


def check_output(path: Path, formats=FORMATS) -> Path:
    if path.suffix.lower() not in formats:
        raise UsageError(f"{path}: the output must end in {', '.join(formats)}")
    refuse_result_file(path)
    refuse_result_file(path.with_suffix(".csv"), "the data beside")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{path.parent}: cannot create the output directory: {exc}") from None
    return path


def write_csv(frame, path: Path) -> None:
    """Write ``frame``; float columns holding only whole numbers are written as integers."""
    refuse_result_file(path, "data file")
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind == "f" and values.notna().any() \
                and (values.dropna() % 1 == 0).all() and values.abs().max() < 2**53:
            frame[column] = values.astype("Int64")
    try:
        frame.to_csv(path, index=False, float_format="%.6g")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc}") from None


def save_figure(fig, path: Path, metadata: dict | None = None) -> None:
    meta = None
    if path.suffix.lower() == ".pdf":
        meta = {"CreationDate": None, **(metadata or {})}  # reproducible bytes
    try:
        fig.savefig(path, metadata=meta)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc}") from None


def render_figure(name: str, directories: list[Path], out: Path, csv: Path | None) -> Path:
    """Load, draw and save one figure; returns the CSV path written."""
    spec = figure(name)
    out = check_output(out)
    csv = csv or out.with_suffix(".csv")
    results = load_results(directories)
    with report_style():
        frame = spec.data(results)
        fig = spec.draw(frame, results)
        save_figure(fig, out, {"Title": spec.title})
    write_csv(frame, csv)
    return csv


def _parser(prog: str, description: str, named: bool) -> argparse.ArgumentParser:
    """The script's arguments; ``named``: the figure's name comes first."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    if named:
        parser.add_argument("figure", choices=FIGURE_MODULES, metavar="FIGURE",
                            help=f"one of: {', '.join(FIGURE_MODULES)}")
    parser.add_argument("results", nargs="+", type=Path, metavar="RESULTS_DIR",
                        help="result directories (from `harness run`); several machines overlay")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT",
                        help="figure file: .png, .pdf or .svg")
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="where to write the data drawn (default: OUT with .csv)")
    return parser


def _render(name: str, args) -> int:
    try:
        csv = render_figure(name, args.results, args.output, args.csv)
    except UsageError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return exc.exit_status
    print(f"{args.output}\n{csv}", file=sys.stderr)
    return 0


def figure_main(name: str, argv: list[str] | None = None) -> int:
    """One named figure (``python reports/<name>.py RESULTS_DIR... -o OUT``)."""
    spec = figure(name)
    parser = _parser(f"reports/{name}.py",
                     f"{spec.title}: {spec.summary}. Reads stored results only.", named=False)
    return _render(name, parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    """Any figure by name (``python reports/figure.py NAME RESULTS_DIR... -o OUT``)."""
    parser = _parser("reports/figure.py", "One figure of the report from stored results "
                     "(nothing is rerun); `python -m harness report` draws them all.",
                     named=True)
    args = parser.parse_args(argv)
    return _render(args.figure, args)

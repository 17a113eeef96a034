"""Judge two stored runs: compare them point by point as the options say, print the
table, write the JSON and Markdown reports, and give the exit status (0 no regression,
1 a significant slowdown or a new failure, 2 nothing comparable). `compare` judges two
directories, `ab` the two sides it has just measured; both take the same options."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.compare.inputs import ResultSet
from harness.compare.render import render_json, render_markdown, render_text
from harness.compare.verdict import METRICS, compare_runs, metric_named
from harness.errors import UsageError
from harness.store.fileio import atomic_write_text, refuse_result_file

DEFAULT_FACTOR = 1.10
DEFAULT_ALPHA = 0.05


def add_compare_arguments(parser) -> None:
    """The options shared by ``compare`` and ``ab``."""
    parser.add_argument("--factor", type=float, default=DEFAULT_FACTOR,
                        help="smallest change that counts, as a ratio (default %(default)s: "
                             "10%% slower)")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help="significance level of the test (default %(default)s)")
    parser.add_argument("--metric", default="p50",
                        help=f"what to compare: {', '.join(METRICS)}, or a points.csv "
                             f"column such as llc_misses_per_lookup (default %(default)s)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write the comparison as JSON to FILE (or stdout)")
    parser.add_argument("--markdown", nargs="?", const="-", metavar="FILE",
                        help="write the comparison as Markdown, for CI comments, to FILE "
                             "(or stdout)")
    parser.add_argument("--include-noisy", action="store_true",
                        help="judge points flagged noisy or unstable (points.csv quality) "
                             "too; by default they are 'incomparable (noisy)' and neither "
                             "pass nor fail")
    parser.add_argument("--allow-machine-mismatch", action="store_true",
                        help="compare results from different machines (CPU, LLC, CPUs)")


def check_machines(base: ResultSet, new: ResultSet, allow: bool) -> list[str]:
    """Notes on a machine mismatch when allowed; UsageError when not."""
    a, b = base.machine_identity, new.machine_identity
    diffs = [f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in sorted(set(a) | set(b))
             if a.get(k) != b.get(k)]
    if not diffs:
        return []
    if not allow:
        raise UsageError([f"BASE and NEW ran on different machines ({'; '.join(diffs)}); "
                          f"their latencies are not comparable. Pass --allow-machine-mismatch "
                          f"to compare them anyway"])
    return [f"different machines, compared anyway: {'; '.join(diffs)}"]


def emit(text: str, destination: str | None) -> None:
    if destination is None:
        return
    if destination == "-":
        sys.stdout.write(text)
        return
    try:
        atomic_write_text(Path(destination), text)
    except OSError as exc:
        raise UsageError(f"{destination}: cannot write: {exc}") from None


def compare_results(base: ResultSet, new: ResultSet, args) -> int:
    """Compare two loaded runs as the options say, print and write the report."""
    if args.json == "-" and args.markdown == "-":
        raise UsageError("--json and --markdown cannot both go to stdout; give one a FILE")
    for option, destination in (("--json", args.json), ("--markdown", args.markdown)):
        if destination not in (None, "-"):
            refuse_result_file(destination, option)  # before any output, not after
    notes = check_machines(base, new, args.allow_machine_mismatch)
    report = compare_runs(base.points, new.points, metric_named(args.metric), args.factor,
                          args.alpha, include_noisy=getattr(args, "include_noisy", False))
    report.notes += notes + base.notes + new.notes
    sides = base.summary(), new.summary()
    text = render_text(report, *sides)
    if "-" not in (args.json, args.markdown):
        sys.stdout.write(text)
    else:
        sys.stderr.write(text)
    emit(render_json(report, *sides), args.json)
    emit(render_markdown(report, *sides), args.markdown)
    if report.exit_status == 2:
        why = (f" ({len(report.noisy)} noisy or unstable: rerun on a quieter machine, or "
               f"--include-noisy)" if report.noisy else "")
        print(f"error: not one point could be compared{why}; see why above", file=sys.stderr)
    return report.exit_status

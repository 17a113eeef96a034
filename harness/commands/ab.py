"""A/B in one run: measure a scenario's points with the working tree's code (NEW) and
with git revision --base (BASE, checked out in a temporary worktree that is removed
afterwards, Ctrl-C and SIGTERM included), each point's BASE and NEW runs back to back
in alternating order, then compare them as `harness compare` does. Both sides use this
tree's plan and Python environment; only the worker's code (harness/, kernels/)
differs. Results go to DIR/base, DIR/new (ordinary run directories) and
DIR/compare.{json,md}; an interrupted run (exit 130/143) keeps what finished and
continues with --resume DIR. Exit statuses as for compare; a revision this clone lacks
is exit 2, or 0 with a clear notice under --missing-base skip (for shallow CI clones)."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.compare.ab import resolve_revisions, run_ab
from harness.compare.judge import add_compare_arguments
from harness.compare.verdict import check_options, metric_named
from harness.errors import UsageError
from harness.machine.gitrepo import RevisionUnavailable


def add_arguments(parser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    parser.add_argument("--base", required=True, metavar="REV",
                        help="git revision to compare against (e.g. HEAD~1, main, a tag)")
    parser.add_argument("--quick", action="store_true",
                        help="apply the scenario's quick: block and cap warmups/batches/repeats")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="result directory (default results/ab/<scenario>/<host>-<time>)")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="memory budget per point, e.g. 12GiB or 60%%")
    parser.add_argument("--limits", metavar="DIR",
                        help="a `harness limits` result whose effective LLC resolves sizes "
                             "like '0.5x effective-LLC' (default: this machine's newest)")
    parser.add_argument("--resume", metavar="DIR", type=Path,
                        help="continue an interrupted ab run in DIR (same --base, scenario "
                             "and options): run only what is not done, then compare")
    parser.add_argument("--missing-base", choices=("error", "skip"), default="error",
                        help="when REV is not in this clone: exit 2 (error, the default) or "
                             "say so and exit 0 (skip: for gates on shallow clones)")
    add_compare_arguments(parser)


def run(args) -> int:
    check_options(metric_named(args.metric), args.factor, args.alpha)  # before any measuring
    if args.resume and args.out:
        raise UsageError("--resume DIR continues DIR as it was started: drop --out")
    try:
        revisions = resolve_revisions(args.base)
    except RevisionUnavailable as exc:
        if args.missing_base == "skip":
            print(f"ab: SKIPPED, nothing compared: {exc}", file=sys.stderr)
            return 0
        raise UsageError(str(exc)) from None
    return run_ab(args, revisions)

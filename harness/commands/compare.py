"""Compare two result directories point by point (matched by identity: kernel,
parameters, sizes, threads): the change in the chosen metric with a confidence
interval, a significance test, and a verdict (faster, slower, same, incomparable).
A point is slower only when the change is beyond --factor AND significant at --alpha.
Exit 0: no regression; 1: at least one point significantly slower beyond the factor
(or failing now, having worked before); 2: unusable input (missing or foreign files,
no common points, nothing comparable, or different machines without
--allow-machine-mismatch)."""

from __future__ import annotations

from pathlib import Path

from harness.compare.inputs import load_results
from harness.compare.judge import add_compare_arguments, compare_results


def add_arguments(parser) -> None:
    parser.add_argument("base", metavar="BASE_DIR", type=Path, help="the reference run")
    parser.add_argument("new", metavar="NEW_DIR", type=Path, help="the run to judge")
    add_compare_arguments(parser)


def run(args) -> int:
    return compare_results(load_results(args.base), load_results(args.new), args)

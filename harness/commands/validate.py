"""Validate scenario files without running anything. Exit 0 when every file is
valid; exit 2 with one line per problem (file, line, key path, what was expected)."""

from __future__ import annotations

from collections import Counter

from harness.errors import UsageError
from harness.machine import describe_machine
from harness.plan import make_plan
from harness.scenario import load_scenario


def add_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files")
    parser.add_argument("--quick", action="store_true", help="also expand the quick: block")


def run(args) -> int:
    problems: list[str] = []
    machine = None
    for file in args.files:
        try:
            loaded = load_scenario(file, quick=args.quick)
            machine = machine or describe_machine()
            plan = make_plan(loaded, machine)
        except UsageError as exc:
            problems += exc.problems
            continue
        counts = Counter(p.status for p in plan.points)
        print(f"{file}: ok, {len(plan.points)} points; on this machine "
              f"{counts['planned']} would run and {counts['skipped']} be skipped")
    if problems:
        raise UsageError(problems)
    return 0 if not problems else 2

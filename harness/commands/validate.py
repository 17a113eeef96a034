"""Validate scenario files without running anything. Exit 0 when every file is
valid; exit 2 with one line per problem (file, line, key path, what was expected)."""

from __future__ import annotations

from collections import Counter

from harness.errors import UsageError
from harness.machine.detect import describe_machine
from harness.execute.plan import make_plan, needs_effective_llc
from harness.limits.stored import stored_effective_llc
from harness.scenario.schema import load_scenario


def add_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files")
    parser.add_argument("--quick", action="store_true", help="also expand the quick: block")
    parser.add_argument("--limits", metavar="DIR", help="a `harness limits` result whose "
                        "effective LLC resolves sizes like '0.5x effective-LLC' (default: "
                        "the newest one of this machine under results/limits/)")


def run(args) -> int:
    problems: list[str] = []
    machine = None
    for file in args.files:
        try:
            from harness.accuracy.session import check_scenario, is_accuracy_scenario

            if is_accuracy_scenario(file):  # `harness accuracy`'s schema, not run's
                print(check_scenario(file, args.quick))
                continue
            loaded = load_scenario(file, quick=args.quick)
            machine = machine or describe_machine()
            effective, _ = stored_effective_llc(args.limits, loaded, machine)
            if needs_effective_llc(loaded) and effective is None:
                print(f"{file}: ok; its sizes are relative to the effective LLC, which no "
                      f"stored limits result of this machine gives: points not expanded "
                      f"(`harness run` measures it first; or pass --limits DIR)")
                continue
            plan = make_plan(loaded, machine, effective_llc_bytes=effective)
        except UsageError as exc:
            problems += exc.problems
            continue
        counts = Counter(p.status for p in plan.points)
        print(f"{file}: ok, {len(plan.points)} points; on this machine "
              f"{counts['planned']} would run and {counts['skipped']} be skipped")
    if problems:
        raise UsageError(problems)
    return 0 if not problems else 2

"""``python -m harness <command>``: one module per subcommand in harness/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys

from harness import __version__
from harness.errors import UsageError

# One module per subcommand in harness/commands/, each with add_arguments() and run().
COMMANDS = {
    "machine": "Describe this machine: CPU, caches, memory, perf.",
    "validate": "Check scenario files; exit 2 naming every problem.",
    "compare": "Compare two result directories; exit 1 on a significant slowdown.",
    "ab": "Run a scenario at the working tree and at a git revision, interleaved; compare.",
    "run": "Run a scenario's points in pinned worker processes and store the results.",
    "merge": "Join the shards of a sweep (run --shard I/N) into one result.",
    "limits": "Measure the machine's limits: gather cost, load latency, bandwidth, effective LLC.",
    "report": "Draw the figures and a multi-page PDF report from stored results.",
    "footprint": "Bytes of each kernel's tables against the baseline, and the ratio.",
    "collisions": "How many ids MEM-REC's encoders cannot tell apart, for a vocabulary.",
    "accuracy": "Train a small DLRM per embedding kind at equal memory; AUC and log loss.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="MEM-REC vs baseline embedding lookups, characterised on this machine.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"harness.commands.{name}")
        p = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args._module.run(args)
    except UsageError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return exc.exit_status


if __name__ == "__main__":
    sys.exit(main())

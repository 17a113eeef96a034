"""``python -m harness <command>``: one module per subcommand in harness/commands/.

``main`` turns what ends a command early into one line and an exit status: bad input
(UsageError) into 2, a signal into 128+signal (130 for Ctrl-C, 143 for SIGTERM) at
any moment, before a session's own handlers are in place or after they are gone.
"""

from __future__ import annotations

import sys

try:  # Ctrl-C while this module is still loading is an interruption too, not a traceback
    import argparse
    import importlib

    from harness import __version__
    from harness.errors import UsageError
    from harness.execute.signals import Interrupted, stop_quietly
except KeyboardInterrupt:
    print("interrupted by SIGINT", file=sys.stderr)
    raise SystemExit(130) from None

# One module per subcommand in harness/commands/, each with add_arguments() and run().
COMMANDS = {
    "machine": "Describe this machine: CPU, caches, memory, perf.",
    "validate": "Check scenario files; exit 2 naming every problem.",
    "compare": "Compare two result directories; exit 1 on a significant slowdown.",
    "ab": "Run a scenario at the working tree and at a git revision, interleaved; compare.",
    "run": "Run a scenario's points in pinned worker processes and store the results.",
    "merge": "Join the shards of a sweep (run --shard I/N) into one result.",
    "submit": "Run a scenario as a Slurm job array of shards plus a merge job (sbatch).",
    "limits": "Measure the machine's limits: gather cost, load latency, bandwidth, effective LLC.",
    "report": "Draw the figures and a multi-page PDF report from stored results.",
    "footprint": "Bytes of each kernel's tables against the baseline, and the ratio.",
    "collisions": "How many ids MEM-REC's encoders cannot tell apart, for a vocabulary.",
    "serve": "Serve a scenario's kernels under Poisson load; p99 per rate, max rate in the SLO.",
    "accuracy": "Train a small DLRM per embedding kind at equal memory; AUC and log loss.",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; only ``command``'s module is imported (its arguments added), so
    that a command does not pay for the others' imports (scipy, matplotlib, torch...)."""
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="MEM-REC vs baseline embedding lookups, characterised on this machine.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(f"harness.commands.{name}")
        p = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named on the command line (its first word that is no option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    try:
        with stop_quietly():
            argv = sys.argv[1:] if argv is None else argv
            args = build_parser(_command_of(argv)).parse_args(argv)
            return args._module.run(args)
    except UsageError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return exc.exit_status
    except Interrupted as exc:  # raised outside a session, which reports its own
        print(f"interrupted by {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:  # Ctrl-C before or after any handler of ours was in place
        print("interrupted by SIGINT", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""A/B in one run: measure a scenario's points with the working tree's code (NEW) and
with git revision --base (BASE, checked out in a temporary worktree that is removed
afterwards, Ctrl-C included), each point's BASE and NEW runs back to back in
alternating order, then compare them as `harness compare` does. Both sides use this
tree's plan and Python environment; only the worker's code (harness/, kernels/)
differs. Results go to DIR/base, DIR/new (ordinary run directories) and
DIR/compare.{json,md}. Exit statuses as for compare; a revision this clone lacks is
exit 2, or 0 with a clear notice under --missing-base skip (for shallow CI clones)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
from pathlib import Path

import harness
from harness.compare.ab import Side, run_interleaved
from harness.commands.compare import add_compare_arguments, compare_results
from harness.commands.run import _manifest, stored_effective_llc
from harness.compare.verdict import check_options, metric_named
from harness.machine.cpulist import format_cpulist
from harness.errors import UsageError
from harness.machine.gitrepo import (GitError, RevisionUnavailable, head_state, resolve_commit,
                             temporary_worktree, toplevel)
from harness.machine.detect import describe_machine
from harness.execute.plan import make_plan, needs_effective_llc, parse_memory_limit
from harness.store.results import ResultStore, default_result_dir, new_result_dir, utc_now
from harness.compare.inputs import load_results
from harness.execute.runner import WorkerLauncher
from harness.scenario.schema import load_scenario
from harness.scenario.sizes import format_bytes


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
    parser.add_argument("--missing-base", choices=("error", "skip"), default="error",
                        help="when REV is not in this clone: exit 2 (error, the default) or "
                             "say so and exit 0 (skip: for gates on shallow clones)")
    add_compare_arguments(parser)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Let a CI job's SIGTERM unwind like Ctrl-C, so the temporary worktree is removed."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_code(launcher: WorkerLauncher, expected: Path, side: str) -> None:
    try:
        where = launcher.code_location()
    except (RuntimeError, OSError) as exc:
        raise UsageError(f"{side}: the worker's Python cannot import the harness from "
                         f"{expected}: {exc}") from None
    if Path(where).resolve() != expected.resolve():
        raise UsageError(f"{side}: the worker would import the harness from {where}, not "
                         f"{expected}; check PYTHONPATH")


def _progress(total: int):
    done = [0]

    def report(side: Side, point, repeat: int, outcome: dict) -> None:
        done[0] += 1
        if outcome.get("status") == "ok":
            import statistics

            per_lookup = statistics.median(outcome["values_ns"]) / point.lookups_per_batch
            what = f"ok  {per_lookup:9.1f} ns/lookup"
        else:
            what = f"FAILED: {outcome.get('reason')}"
        print(f"[{done[0]}/{total}] {side.name:4s} {point.point_id} r{repeat}: {what}",
              file=sys.stderr, flush=True)
    return report


def run(args) -> int:
    check_options(metric_named(args.metric), args.factor, args.alpha)  # before any measuring
    code_root = Path(harness.__file__).resolve().parent.parent
    root = toplevel(code_root)
    if root is None:
        raise UsageError(f"ab needs the harness to run from a git checkout; {code_root} "
                         f"is not in one")
    try:
        commit = resolve_commit(root, args.base)
    except RevisionUnavailable as exc:
        if args.missing_base == "skip":
            print(f"ab: SKIPPED, nothing compared: {exc}", file=sys.stderr)
            return 0
        raise UsageError(str(exc)) from None
    except GitError as exc:
        raise UsageError(f"git: {exc}") from None

    loaded = load_scenario(args.scenario, quick=args.quick)
    machine = describe_machine()
    budget = (parse_memory_limit(args.memory_limit, machine.mem_available_bytes)
              if args.memory_limit else None)
    effective, source = stored_effective_llc(args.limits, loaded, machine)
    if needs_effective_llc(loaded) and effective is None:
        raise UsageError(f"{loaded.path}: sizes relative to the effective LLC need a measured "
                         f"one: run `python -m harness limits` first or pass --limits DIR")
    plan = make_plan(loaded, machine, budget, effective)
    plan.effective_llc_source = source
    if not plan.runnable:
        raise UsageError(f"{loaded.path}: no point of this scenario can run on this machine")
    out = (args.out or default_result_dir(Path("results/ab"), plan.scenario,
                                          machine.hostname)).resolve()
    new_result_dir(out, "choose another --out", "base", "new")
    for side in ("base", "new"):
        (out / side / ".work").mkdir(exist_ok=True)
    args.json = args.json or str(out / "compare.json")
    args.markdown = args.markdown or str(out / "compare.md")

    runs_total = 2 * sum(p.repeats for p in plan.runnable)
    print(f"ab: {plan.scenario}: {len(plan.runnable)} points x 2 sides ({runs_total} worker "
          f"runs); BASE {args.base} = {commit[:12]}, NEW = working tree {code_root}; LLC "
          f"{format_bytes(plan.llc_bytes)}, CPUs {format_cpulist(plan.pinning.cpus)}; "
          f"results in {out}", file=sys.stderr)
    sides: list[Side] = []
    with sigterm_as_interrupt():
        try:
            with temporary_worktree(root, commit) as tree:
                for name, code_dir in (("base", tree), ("new", code_root)):
                    launcher = WorkerLauncher(out / name / ".work", plan.llc_bytes,
                                              code_dir=code_dir)
                    _check_code(launcher, code_dir, name.upper())
                    manifest = _manifest(args, loaded, machine, plan)
                    manifest["git"] = head_state(code_dir)
                    manifest["ab"] = {"side": name, "base_revision": args.base,
                                      "base_commit": commit, "code_dir": str(code_dir)}
                    store = ResultStore(out / name, plan, manifest)
                    store.manifest["started"] = utc_now()
                    store.write("running")
                    sides.append(Side(name.upper(), launcher, store))
                run_interleaved(plan, (sides[0], sides[1]), _progress(runs_total))
        except KeyboardInterrupt:
            for side in sides:
                side.store.write("interrupted")
            print(f"\nab: interrupted; the runs finished so far are in {out}", file=sys.stderr)
            return 130
        except GitError as exc:
            raise UsageError(f"git: {exc}") from None
    for side in sides:
        side.store.write("complete")
        shutil.rmtree(side.store.dir / ".work", ignore_errors=True)
    print("", file=sys.stderr)
    return compare_results(load_results(out / "base"), load_results(out / "new"), args)

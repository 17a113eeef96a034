"""A/B in one run: the same points measured by two versions of the code, interleaved.

Comparing two runs made at different times mixes the change with whatever the
machine did in between (other tenants, thermal state, a neighbour's backup).
Here each point is measured by BASE (a git revision, checked out in a temporary
worktree) and NEW (the working tree) back to back, in alternating order (AB, then
BA, ...), so drift and the cost of running second fall on both alike. Both sides go
through the one execution session (lock, signals, memory re-check, progress, resume)
and are stored as ordinary run directories, DIR/base and DIR/new, so ``harness
compare`` and ``pyperf`` read them as usual; then they are judged as compare does.
The worktree is removed on any exit, SIGINT and SIGTERM included.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

import harness
from harness.compare.inputs import load_results
from harness.compare.judge import compare_results
from harness.errors import UsageError
from harness.execute.manifest import run_manifest
from harness.execute.plan import Plan, make_plan, needs_effective_llc, parse_memory_limit
from harness.execute.resume import resume_problems
from harness.execute.runner import WorkerLauncher
from harness.execute.session import SideSpec, execute_sides
from harness.execute.signals import SignalGuard
from harness.limits.stored import stored_effective_llc
from harness.machine.cpulist import format_cpulist
from harness.machine.detect import describe_machine
from harness.machine.gitrepo import (GitError, RevisionUnavailable, head_state, resolve_commit,
                                     temporary_worktree, toplevel)
from harness.scenario.schema import load_scenario
from harness.scenario.sizes import format_bytes
from harness.store.reader import read_manifest as load_manifest_checked, stored_plan
from harness.store.results import default_result_dir, new_result_dir, utc_now

SIDES = ("base", "new")


@dataclass
class Revisions:
    """What is compared: the repository, BASE's revision and commit, NEW's checkout."""

    root: Path
    base_revision: str
    base_commit: str
    code_root: Path


def resolve_revisions(base_revision: str) -> Revisions:
    """BASE's commit in the checkout this harness runs from; RevisionUnavailable when
    this clone lacks it (a typo, or a shallow CI clone)."""
    code_root = Path(harness.__file__).resolve().parent.parent
    root = toplevel(code_root)
    if root is None:
        raise UsageError(f"ab needs the harness to run from a git checkout; {code_root} "
                         f"is not in one")
    try:
        commit = resolve_commit(root, base_revision)
    except RevisionUnavailable:
        raise  # the caller decides: an error, or a skipped gate (--missing-base skip)
    except GitError as exc:
        raise UsageError(f"git: {exc}") from None
    return Revisions(root, base_revision, commit, code_root)


def check_code(launcher: WorkerLauncher, expected: Path, side: str) -> None:
    """Refuse to measure unless the side's worker imports the harness from ``expected``."""
    try:
        where = launcher.code_location()
    except (RuntimeError, OSError) as exc:
        raise UsageError(f"{side}: the worker's Python cannot import the harness from "
                         f"{expected}: {exc}") from None
    if Path(where).resolve() != expected.resolve():
        raise UsageError(f"{side}: the worker would import the harness from {where}, not "
                         f"{expected}; check PYTHONPATH")


def _new_plan(args, loaded, machine) -> Plan:
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
    return plan


def _resumed(out: Path, loaded, machine, revs: Revisions) -> tuple[Plan, dict[str, dict]]:
    """The stored plan and both sides' manifests of an ab run in ``out`` to resume."""
    stored = {side: load_manifest_checked(out / side) for side in SIDES}
    problems = []
    for side, manifest in stored.items():
        problems += resume_problems(manifest, loaded, machine, out / side)
        then = (manifest.get("ab") or {}).get("base_commit")
        if then != revs.base_commit:
            problems.append(f"{out / side}: was measured against BASE {then}, not "
                            f"{revs.base_revision} = {revs.base_commit}")
    then_new = (stored["new"].get("git") or {}).get("commit")
    now_new = head_state(revs.code_root)
    if then_new != now_new.get("commit"):
        problems.append(f"{out / 'new'}: NEW was commit {then_new}, the working tree is now "
                        f"at {now_new.get('commit')}")
    if problems:
        raise UsageError(problems)
    if now_new.get("dirty"):
        print("note: the working tree has uncommitted changes; ab cannot tell whether they "
              "changed since the run was started", file=sys.stderr)
    for manifest in stored.values():
        manifest.setdefault("resumed", []).append({"at": utc_now(), "command": sys.argv})
    return stored_plan(stored["base"], out / "base"), stored


def _manifest(args, loaded, machine, plan: Plan, side: str, code_dir: Path,
              revs: Revisions, stored: dict | None) -> dict:
    manifest = stored or run_manifest(args, loaded, machine, plan)
    if stored is None:
        manifest["started"] = utc_now()
    manifest["git"] = head_state(code_dir)
    manifest["ab"] = {"side": side, "base_revision": revs.base_revision,
                      "base_commit": revs.base_commit, "code_dir": str(code_dir)}
    return manifest


def _resume_hint(args, out: Path) -> str:
    parts = ["python -m harness ab --base", args.base, str(args.scenario)]
    if args.quick:
        parts.append("--quick")
    if args.memory_limit:
        parts.append(f"--memory-limit {args.memory_limit}")
    return " ".join(parts + ["--resume", str(out)])


def run_ab(args, revs: Revisions) -> int:
    """Measure the scenario at BASE and NEW, interleaved, into one directory; judge it.

    Returns compare's exit status, or 128+signal when interrupted (both sides keep
    what finished and can be resumed).
    """
    loaded = load_scenario(args.scenario, quick=args.quick)
    machine = describe_machine()
    if args.resume:
        out = Path(args.resume).resolve()
        plan, stored = _resumed(out, loaded, machine, revs)
    else:
        plan, stored = _new_plan(args, loaded, machine), {}
        out = (args.out or default_result_dir(Path("results/ab"), plan.scenario,
                                              machine.hostname)).resolve()
        new_result_dir(out, f"choose another --out, or continue it with --resume {out}",
                       *SIDES)
    args.json = args.json or str(out / "compare.json")
    args.markdown = args.markdown or str(out / "compare.md")
    print(f"ab: BASE {revs.base_revision} = {revs.base_commit[:12]}, NEW = working tree "
          f"{revs.code_root}; LLC {format_bytes(plan.llc_bytes)}, CPUs "
          f"{format_cpulist(plan.pinning.cpus)}", file=sys.stderr)
    guard = SignalGuard()  # from here on a signal unwinds, so the worktree is removed
    with guard.installed():
        worktree = contextlib.ExitStack()
        try:
            tree = worktree.enter_context(temporary_worktree(revs.root, revs.base_commit))
            specs = []
            for side, code_dir in zip(SIDES, (tree, revs.code_root)):
                check_code(WorkerLauncher(out / side, plan.llc_bytes, code_dir=code_dir),
                           code_dir, side.upper())
                specs.append(SideSpec(side.upper(), out / side,
                                      _manifest(args, loaded, machine, plan, side, code_dir,
                                                revs, stored.get(side)),
                                      code_dir))
            status, complete = execute_sides(plan, specs, bool(args.resume),
                                             _resume_hint(args, out), guard=guard,
                                             lock_also=(out,))
        except GitError as exc:
            raise UsageError(f"git: {exc}") from None
        finally:
            with guard.critical():  # a second signal waits until the worktree is gone
                worktree.close()
    if not complete:
        return status
    print("", file=sys.stderr)
    return compare_results(load_results(out / "base"), load_results(out / "new"), args)

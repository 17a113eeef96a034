"""The limits run: plan the microbenchmark points (gather, chase, stream) for this
machine and measure them through the one execution path, like any scenario.

`harness limits` and `harness run` (when a scenario sizes tables by the effective LLC
and no limits result of this machine is stored) both measure through here.
"""

from __future__ import annotations


import sys
from pathlib import Path

from harness.errors import UsageError
from harness.execute.plan import Plan, make_plan, needs_effective_llc
from harness.execute.session import execute_plan
from harness.execute.signals import Interrupted
from harness.limits.analysis import limits_scenarios, loaded_limits
from harness.limits.stored import (DEFAULT_ROOT, load_limits, stored_effective_llc,
                                   trusts_doubtful, write_analysis)
from harness.machine.cpulist import parse_cpulist
from harness.machine.detect import Machine
from harness.machine.provenance import git_state, library_versions
from harness.scenario.sizes import format_bytes
from harness.store.manifest import build_manifest, utc_now
from harness.store.reader import stored_plan
from harness.store.models import ScenarioRecord
from harness.store.results import default_result_dir, new_result_dir


def _thread_counts(quick: bool, machine: Machine) -> list:
    """1 and all threads (--quick), or powers of two up to all of them."""
    if quick:
        return [1, "all"]
    cpus = len(parse_cpulist(machine.usable_cpus))
    return [t for t in (2 ** k for k in range(13)) if t < cpus] + ["all"]


def build_plan(quick: bool, machine: Machine, budget: int | None,
               options: dict | None = None) -> tuple[Plan, list[dict]]:
    """One plan holding every limits point (all row sizes, chase and stream)."""
    docs = limits_scenarios(quick, _thread_counts(quick, machine), **(options or {}))
    plans = [make_plan(loaded_limits(doc, quick), machine, budget) for doc in docs]
    plan = plans[0]
    plan.points = [p for sub in plans for p in sub.points]
    # Threads beyond the pinning set would only add skipped noise: drop, not skip.
    plan.points = [p for p in plan.points if p.threads <= max(1, len(plan.pinning.cpus))]
    return plan, docs


def _manifest(quick: bool, machine: Machine, plan: Plan, docs: list[dict]) -> dict:
    # Generated, not a file: the documents are stored once, as the validated scenario.
    scenario = ScenarioRecord(name="limits", path="<limits>", quick=quick, text=None,
                              effective={"documents": docs})
    manifest = build_manifest(
        "limits", scenario=scenario, machine=machine.to_dict(), plan=plan, requested={},
        effective={"pinning_cpus": plan.pinning.cpus, "llc_bytes": plan.llc_bytes},
        versions=library_versions(), git=git_state(), command=sys.argv)
    manifest["started"] = manifest["created"]
    return manifest


def resume_hint(out: Path) -> str:
    return f"python -m harness limits --resume {out}"


def measure(quick: bool, machine: Machine, out: Path | None = None,
            budget: int | None = None, options: dict | None = None) -> tuple[int, Path]:
    """Plan and run a new limits result into ``out`` (default results/limits/<host>-<time>);
    return the session's exit status and the directory."""
    plan, docs = build_plan(quick, machine, budget, options)
    if budget is not None and plan.points and not plan.runnable:
        # A limits result with no point measured has no curve and no effective LLC: the
        # limit given is what is wrong, so say so instead of storing an empty result.
        least = min(p.memory_bytes for p in plan.points)
        raise UsageError(f"--memory-limit {format_bytes(budget)} leaves no limits point "
                         f"measurable; the smallest needs ~{format_bytes(least)}")
    out = out or default_result_dir(DEFAULT_ROOT, "limits", machine.hostname)
    new_result_dir(out, "choose another --out or --resume it")
    status = execute_plan(plan, out, _manifest(quick, machine, plan, docs), resume=False,
                          resume_hint=resume_hint(out))
    return status, out


def resume(out: Path, machine: Machine, stored: dict) -> int:
    """Run what a stored limits result in ``out`` (manifest ``stored``) has not done."""
    if stored.get("kind") != "limits":
        raise UsageError(f"{out}: not a limits result")
    if Machine.from_dict(stored["machine"]).identity() != machine.identity():
        raise UsageError(f"{out}: was measured on another machine")
    stored.setdefault("resumed", []).append({"at": utc_now(), "command": sys.argv})
    return execute_plan(stored_plan(stored, out), out, stored,
                        resume=True, resume_hint=resume_hint(out))


def effective_llc(limits_dir, loaded, machine: Machine, may_measure: bool,
                  trust_doubtful: bool = False) -> tuple[int | None, str | None]:
    """The effective LLC the scenario's sizes need (None when they need none) and where
    it came from: ``limits_dir``, this machine's newest stored limits result, or, when
    none is stored and ``may_measure``, a quick limits run made now."""
    if not needs_effective_llc(loaded):
        return None, None
    effective, source = stored_effective_llc(limits_dir, loaded, machine,
                                             trust_doubtful=trust_doubtful)
    if source is not None:
        return effective, source
    if not may_measure:
        raise UsageError(f"{loaded.path}: sizes relative to the effective LLC: no limits "
                         f"result of this machine is stored; a real run measures one first "
                         f"(or run `python -m harness limits --quick`, or pass --limits DIR)")
    print("note: the scenario sizes tables by the effective LLC and no limits result of "
          "this machine is stored: measuring it now (harness limits --quick)",
          file=sys.stderr)
    status, directory = measure(True, machine)
    if status not in (0, 1):  # interrupted: the session has said how to resume it
        raise Interrupted(status - 128)
    write_analysis(directory)
    trust = trusts_doubtful(loaded, trust_doubtful)
    return load_limits(directory, machine, trust)["effective_llc_bytes"], str(directory)

"""The manifest of a scenario run (`run`, each side of `ab`): what was asked, what this
machine made of it, and the plan, written with the results so that they explain
themselves and a run can be resumed."""

from __future__ import annotations

import sys

from harness.execute.plan import Plan
from harness.machine.cpulist import format_cpulist
from harness.machine.provenance import git_state, library_versions
from harness.store.manifest import build_manifest
from harness.store.models import ScenarioRecord


def run_manifest(args, loaded, machine, plan: Plan) -> dict:
    sc = loaded.scenario
    scenario = ScenarioRecord(name=sc.name, path=str(loaded.path), quick=loaded.quick,
                              text=loaded.text, effective=sc.model_dump(mode="json"))
    return build_manifest(
        "run", scenario=scenario, machine=machine.to_dict(), plan=plan,
        requested={"threads": sc.threads, "pinning": plan.pinning.requested,
                   "memory_limit": args.memory_limit},
        effective={"pinning_cpus": format_cpulist(plan.pinning.cpus),
                   "pinning_notes": plan.pinning.notes,
                   "threads_runnable": sorted({p.threads for p in plan.runnable}),
                   "llc_bytes": plan.llc_bytes,
                   "effective_llc_bytes": plan.effective_llc_bytes,
                   "effective_llc_source": plan.effective_llc_source,
                   "memory_budget_bytes": plan.memory_budget_bytes,
                   "memory_budget_source": plan.memory_budget_source},
        versions=library_versions(), git=git_state(), command=sys.argv)

"""The manifest of a scenario run (`run`, each side of `ab`): what was asked, what this
machine made of it, and the plan, written with the results so that they explain
themselves and a run can be resumed."""

from __future__ import annotations

import sys

from harness import RESULT_FORMAT_VERSION, __version__
from harness.execute.plan import Plan
from harness.machine.cpulist import format_cpulist
from harness.machine.provenance import git_state, library_versions
from harness.store.results import utc_now


def run_manifest(args, loaded, machine, plan: Plan) -> dict:
    sc = loaded.scenario
    return {
        "format_version": RESULT_FORMAT_VERSION,
        "kind": "run",
        "harness_version": __version__,
        "created": utc_now(),
        "command": sys.argv,
        "scenario": {
            "name": sc.name, "path": str(loaded.path), "quick": loaded.quick,
            "text": loaded.text, "given": loaded.given,
            "effective": sc.model_dump(mode="json"),
        },
        "requested": {"threads": sc.threads, "pinning": plan.pinning.requested,
                      "memory_limit": args.memory_limit},
        "effective": {"pinning_cpus": format_cpulist(plan.pinning.cpus),
                      "pinning_notes": plan.pinning.notes,
                      "threads_runnable": sorted({p.threads for p in plan.runnable}),
                      "llc_bytes": plan.llc_bytes,
                      "effective_llc_bytes": plan.effective_llc_bytes,
                      "effective_llc_source": plan.effective_llc_source,
                      "memory_budget_bytes": plan.memory_budget_bytes,
                      "memory_budget_source": plan.memory_budget_source},
        "machine": machine.to_dict(),
        "versions": library_versions(),
        "git": git_state(),
        "plan": [p.to_dict() for p in plan.points],
        "plan_meta": plan.meta(),
    }

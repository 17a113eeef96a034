"""Whether a stored run may be resumed: the same scenario, --quick, machine, counters and
software, so that one result's points all come from one setting."""

from __future__ import annotations

import json
from pathlib import Path

from harness.machine.detect import Machine
from harness.machine.provenance import library_versions


def resume_problems(stored: dict, loaded, machine, directory: Path,
                    backends: list[str] | None = None) -> list[str]:
    """Why ``directory`` cannot be resumed with this scenario on this machine."""
    problems = []
    given = json.loads(json.dumps(loaded.scenario.model_dump(mode="json")))
    before = stored["scenario"].get("effective", {})
    changed = sorted(k for k in set(given) | set(before) if given.get(k) != before.get(k))
    if changed:
        problems.append(f"{directory}: the scenario differs from the one it was started with "
                        f"(keys: {', '.join(changed)})")
    if bool(stored["scenario"].get("quick")) != loaded.quick:
        problems.append(f"{directory}: was started {'with' if stored['scenario'].get('quick') else 'without'}"
                        f" --quick; resume it the same way")
    then = Machine.from_dict(stored["machine"]).identity()
    now = machine.identity()
    if then != now:
        diff = ", ".join(f"{k}: {then[k]} then, {now[k]} now" for k in then if then[k] != now.get(k))
        problems.append(f"{directory}: was measured on another machine ({diff})")
    if "plan_meta" not in stored:
        problems.append(f"{directory}: has no stored plan to resume")
    if backends is not None:
        then_backends = list(((stored.get("counters") or {}).get("requested") or {})
                             .get("backends") or [])
        if sorted(then_backends) != sorted(backends):
            problems.append(f"{directory}: was counted with {','.join(then_backends) or 'none'}"
                            f", not {','.join(backends) or 'none'}; resume it with --counters "
                            f"{','.join(then_backends) or 'none'}")
    then_sw, now_sw = stored.get("versions") or {}, library_versions()
    changed_sw = [f"{k} {then_sw[k]} then, {now_sw.get(k)} now" for k in ("python", "torch",
                  "numpy", "numba", "pyperf") if k in then_sw and then_sw[k] != now_sw.get(k)]
    if changed_sw:  # one run's points must come from one software stack (pyperf checks too)
        problems.append(f"{directory}: was measured with other software ({', '.join(changed_sw)});"
                        f" resume it in the environment it was started in")
    return problems

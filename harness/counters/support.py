"""What ``python -m harness machine`` says about counting on this machine."""

from __future__ import annotations

import tempfile
from pathlib import Path

from harness.counters.eventsets import load_event_set, set_for_uarch
from harness.counters.perf import default_perf, probe_event_set, read_permission


def counter_support(machine, procfs_root: str | None = None) -> dict:
    """The event set for this machine's uarch and each event's probed status."""
    name = set_for_uarch(machine.uarch)
    event_set = load_event_set(name)
    allowed, why = read_permission(Path(procfs_root) if procfs_root else Path("/proc"))
    perf = machine.perf.path or default_perf()
    with tempfile.TemporaryDirectory(prefix="harness-probe-") as tmp:
        probed = probe_event_set(perf if machine.perf.version else None, machine.perf.version,
                                 event_set, Path(tmp), (allowed, why))
    return {"event_set": name, "system_wide_events": {"allowed": allowed, "why": why},
            "events": probed,
            "metrics": {m: d.formula for m, d in event_set.metrics.items()}}


def format_counter_support(support: dict) -> str:
    sw = support["system_wide_events"]
    lines = [f"counters    event set {support['event_set']} "
             f"(harness/counters/events/{support['event_set']}.yaml); uncore/system-wide "
             f"events {'permitted' if sw['allowed'] else 'NOT permitted'}: {sw['why']}"]
    width = max(len(n) for n in support["events"])
    for name, p in support["events"].items():
        detail = f"  ({p['detail']})" if p["detail"] else ""
        lines.append(f"            {name:<{width}}  {p['status']:<13}  {p['perf']}{detail}")
    return "\n".join(lines)

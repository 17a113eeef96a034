"""What ``python -m harness machine`` says about counting on this machine.

On a machine without a hardware PMU (most virtual machines) perf answers every hardware
event with "event syntax error: 'cpu/event=0x76,...'", which reads like a bug in the
event set. So the listing first says whether the machine exposes a hardware PMU and how
that was told (sysfs's event sources, else perf's answers), then each event's detail.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from harness.counters import COUNTED, NOT_SUPPORTED
from harness.counters.eventsets import load_event_set, set_for_uarch
from harness.counters.perf import SOFTWARE_EVENTS, default_perf, probe_event_set, \
    read_permission

EVENT_SOURCES = "bus/event_source/devices"
# The kernel's names for the core PMU on x86: "cpu", or "cpu_core"/"cpu_atom" on hybrids.
CORE_PMUS = ("cpu", "cpu_core", "cpu_atom")
_NO_SUCH_EVENT = ("event syntax error", "cannot find pmu", "unknown term", "parser error")


def hardware_pmu(sources: list[str] | None, probed: dict) -> dict:
    """Whether a hardware PMU is exposed, and how that was told (pure).

    ``sources``: the entries of /sys/bus/event_source/devices (None if unreadable);
    ``probed``: each event's probe record. Returns {"present": bool | None, "how": str}.
    """
    if sources is not None:
        core = sorted(s for s in sources if s in CORE_PMUS)
        if core:
            return {"present": True, "how": f"/sys/{EVENT_SOURCES}/ has {', '.join(core)}"}
        return {"present": False, "how": (
            f"/sys/{EVENT_SOURCES}/ has no cpu PMU, only "
            f"{', '.join(sorted(sources)) or 'nothing'}")}
    hardware = [p for p in probed.values()
                if p["scope"] == "task" and p["perf"] not in SOFTWARE_EVENTS]
    if hardware and all(p["status"] == NOT_SUPPORTED and any(
            s in (p["detail"] or "").lower() for s in _NO_SUCH_EVENT) for p in hardware):
        return {"present": False, "how": "perf rejects every hardware event as unknown "
                                         f"(/sys/{EVENT_SOURCES}/ unreadable)"}
    if any(p["status"] == COUNTED for p in hardware):
        return {"present": True, "how": "perf counts hardware events"}
    return {"present": None, "how": f"/sys/{EVENT_SOURCES}/ unreadable and perf's answers "
                                    f"do not tell"}


def _event_sources(sysfs_root: str | os.PathLike | None) -> list[str] | None:
    root = Path(sysfs_root or os.environ.get("HARNESS_SYSFS_ROOT") or "/sys")
    try:
        return [p.name for p in (root / EVENT_SOURCES).iterdir()]
    except OSError:
        return None


def counter_support(machine, procfs_root: str | None = None,
                    sysfs_root: str | os.PathLike | None = None) -> dict:
    """The event set for this machine's uarch, each event's probed status, and whether
    the machine has a hardware PMU at all."""
    name = set_for_uarch(machine.uarch)
    event_set = load_event_set(name)
    allowed, why = read_permission(Path(procfs_root) if procfs_root else Path("/proc"))
    perf = machine.perf.path or default_perf()
    with tempfile.TemporaryDirectory(prefix="harness-probe-") as tmp:
        probed = probe_event_set(perf if machine.perf.version else None, machine.perf.version,
                                 event_set, Path(tmp), (allowed, why))
    return {"event_set": name, "system_wide_events": {"allowed": allowed, "why": why},
            "hardware_pmu": hardware_pmu(_event_sources(sysfs_root), probed),
            "events": probed,
            "metrics": {m: d.formula for m, d in event_set.metrics.items()},
            "unavailable": dict(event_set.unavailable)}


def format_counter_support(support: dict) -> str:
    sw = support["system_wide_events"]
    lines = [f"counters    event set {support['event_set']} "
             f"(harness/counters/events/{support['event_set']}.yaml); uncore/system-wide "
             f"events {'permitted' if sw['allowed'] else 'NOT permitted'}: {sw['why']}"]
    pmu = support.get("hardware_pmu") or {}
    if pmu.get("present") is False:
        lines.append(f"            this machine exposes no hardware PMU ({pmu['how']}), as "
                     f"most virtual machines: no hardware event can be counted here, "
                     f"only software ones; perf's answer per event:")
    width = max(len(n) for n in support["events"])
    for name, p in support["events"].items():
        detail = f"  ({p['detail']})" if p["detail"] else ""
        lines.append(f"            {name:<{width}}  {p['status']:<13}  {p['perf']}{detail}")
    for metric, why in (support.get("unavailable") or {}).items():
        lines.append(f"            no {metric} from perf here: {' '.join(why.split())}")
    return "\n".join(lines)

"""Is this machine fit to measure on right now? The check ``run`` makes before its first
point and ``harness machine --check`` prints, as ``pyperf system show`` does: the load
average, processes busy on the CPUs the run pins to, the frequency governor and
turbo/boost where sysfs exposes them, and the transparent-huge-page setting.

*Warnings* are what makes numbers wrong (another process on a pinned CPU: a 2-thread
kernel waits for its descheduled thread); ``run`` prints them, stores them in the
manifest as ``machine_check`` and, under ``--strict``, refuses to start. *Notes* are
settings that add variance or change what is measured (turbo, THP) and are recorded.

Every function takes its inputs (paths, texts, process lists) so that tests hand in a
fake tree; only ``sample_processes`` reads the live system.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.machine.cpulist import format_cpulist, parse_cpulist

# A process busier than this (percent of one CPU, over the sampling interval) whose
# affinity includes a pinned CPU can take that CPU from a worker.
BUSY_PROCESS_PERCENT = 10.0
# The 1-minute load average per online CPU above which the machine counts as busy.
LOAD_PER_CPU = 0.5
SAMPLE_S = 0.5


@dataclass
class ProcessSample:
    """One process's CPU use over the sampling interval, and where it may run."""

    pid: int
    name: str
    cpu_percent: float
    affinity: list[int]


@dataclass
class MachineCheck:
    cpus: list[int]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    busy: bool = False  # other work runs (load, busy processes), as opposed to tuning

    def to_dict(self) -> dict:
        return {"cpus": format_cpulist(self.cpus), "busy": self.busy,
                "warnings": self.warnings, "notes": self.notes, "facts": self.facts}


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def load_findings(loadavg_text: str | None, online_cpus: int) -> tuple[list[str], dict]:
    """Warnings about /proc/loadavg ('0.52 0.58 0.59 1/467 12345'), and the facts."""
    if not loadavg_text:
        return [], {"load_average": None}
    try:
        load1, load5, load15 = (float(x) for x in loadavg_text.split()[:3])
    except ValueError:
        return [], {"load_average": None}
    facts = {"load_average": [load1, load5, load15], "online_cpus": online_cpus}
    if load1 > LOAD_PER_CPU * max(online_cpus, 1):
        return [f"load average {load1:.2f} over the last minute on {online_cpus} CPU(s) "
                f"(above {LOAD_PER_CPU:g} per CPU): other work is running"], facts
    return [], facts


def busy_process_findings(processes: list[ProcessSample], cpus: list[int],
                          exclude: set[int]) -> tuple[list[str], list[dict]]:
    """Processes (other than ``exclude``) using over BUSY_PROCESS_PERCENT of a CPU whose
    affinity includes a pinned CPU: each may be scheduled onto a worker's CPU."""
    pinned = set(cpus)
    busy = sorted((p for p in processes if p.pid not in exclude
                   and p.cpu_percent > BUSY_PROCESS_PERCENT and pinned & set(p.affinity)),
                  key=lambda p: -p.cpu_percent)
    listed = [{"pid": p.pid, "name": p.name, "cpu_percent": round(p.cpu_percent, 1),
               "cpus": format_cpulist(sorted(pinned & set(p.affinity)))} for p in busy]
    if not busy:
        return [], listed
    shown = ", ".join(f"{p['name']} (pid {p['pid']}, {p['cpu_percent']:.0f}% CPU, "
                      f"may run on {p['cpus']})" for p in listed[:5])
    more = f" and {len(listed) - 5} more" if len(listed) > 5 else ""
    return [f"{len(listed)} busy process(es) may run on the pinned CPUs "
            f"{format_cpulist(cpus)}: {shown}{more}"], listed


def frequency_findings(cpu_dir: Path, cpus: list[int]) -> tuple[list[str], list[str], dict]:
    """(warnings, notes, facts) about the governor of each pinned CPU and turbo/boost."""
    governors = {}
    for cpu in cpus:
        value = _read(cpu_dir / f"cpu{cpu}/cpufreq/scaling_governor")
        if value is not None:
            governors[cpu] = value
    warnings, notes = [], []
    if not governors:
        notes.append("frequency governor: not exposed (no cpufreq; usual on VMs)")
    else:
        slow = sorted(c for c, g in governors.items() if g != "performance")
        if slow:
            names = sorted({governors[c] for c in slow})
            warnings.append(f"frequency governor {'/'.join(names)} on CPU(s) "
                            f"{format_cpulist(slow)}, not 'performance': the clock "
                            f"may change during a point")
    no_turbo = _read(cpu_dir / "intel_pstate/no_turbo")
    boost = _read(cpu_dir / "cpufreq/boost")
    if no_turbo is not None:
        turbo = "off" if no_turbo == "1" else "on"
    elif boost is not None:
        turbo = "on" if boost == "1" else "off"
    else:
        turbo = "not exposed"
    if turbo == "on":
        notes.append("turbo/boost is on: the clock depends on temperature and on how "
                     "many cores are busy")
    facts = {"governors": {str(c): g for c, g in governors.items()}, "turbo": turbo}
    return warnings, notes, facts


def _selected(text: str | None) -> str | None:
    """'always [madvise] never' -> 'madvise'."""
    if not text:
        return None
    chosen = [w[1:-1] for w in text.split() if w.startswith("[") and w.endswith("]")]
    return chosen[0] if chosen else text


def thp_findings(sysfs: Path) -> tuple[list[str], dict]:
    """Notes on transparent huge pages: enabled and defrag, as the kernel selects them."""
    base = sysfs / "kernel/mm/transparent_hugepage"
    enabled, defrag = _selected(_read(base / "enabled")), _selected(_read(base / "defrag"))
    facts = {"thp_enabled": enabled, "thp_defrag": defrag}
    if enabled is None:
        return ["transparent huge pages: not exposed"], facts
    notes = [f"transparent huge pages: enabled={enabled}, defrag={defrag or '?'}"
             + (" (tables with pages: default may get huge pages by chance)"
                if enabled == "always" else "")]
    return notes, facts


def sample_processes(interval_s: float = SAMPLE_S) -> list[ProcessSample]:
    """Every process's CPU use over ``interval_s`` (psutil), with its affinity."""
    import psutil

    procs = list(psutil.process_iter(["pid", "name"]))
    for p in procs:
        try:
            p.cpu_percent(None)
        except (psutil.Error, OSError):
            pass
    time.sleep(interval_s)
    samples = []
    for p in procs:
        try:
            percent = p.cpu_percent(None)
            affinity = p.cpu_affinity() if hasattr(p, "cpu_affinity") else []
        except (psutil.Error, OSError):
            continue  # gone, or not ours to read: nothing to say about it
        samples.append(ProcessSample(p.pid, p.info.get("name") or "?", percent, affinity))
    return samples


def check_machine(cpus: list[int], sysfs_root: str | os.PathLike = "/sys",
                  procfs_root: str | os.PathLike = "/proc",
                  processes: list[ProcessSample] | None = None,
                  exclude: set[int] | None = None) -> MachineCheck:
    """The check for a run pinned to ``cpus``. ``processes`` (default: sampled now) and
    the trees are injectable; ``exclude`` are our own pids (default: this process)."""
    sysfs, procfs = Path(sysfs_root), Path(procfs_root)
    cpu_dir = sysfs / "devices/system/cpu"
    online_text = _read(cpu_dir / "online")
    online = len(parse_cpulist(online_text)) if online_text else (os.cpu_count() or 1)
    check = MachineCheck(sorted(cpus))
    warnings, facts = load_findings(_read(procfs / "loadavg"), online)
    check.busy |= bool(warnings)
    check.warnings += warnings
    check.facts.update(facts)
    if processes is None:
        processes = sample_processes()
    warnings, busy = busy_process_findings(processes, cpus, exclude or {os.getpid()})
    check.busy |= bool(warnings)
    check.warnings += warnings
    check.facts["busy_processes"] = busy
    warnings, notes, facts = frequency_findings(cpu_dir, cpus)
    check.warnings += warnings
    check.notes += notes
    check.facts.update(facts)
    notes, facts = thp_findings(sysfs)
    check.notes += notes
    check.facts.update(facts)
    return check


def format_check(check: MachineCheck) -> str:
    """The check as lines for a terminal: a verdict, then warnings and notes."""
    verdict = ("BUSY: numbers measured now may be wrong" if check.busy
               else "WARNING: see below" if check.warnings
               else "ok: nothing found that disturbs a measurement")
    lines = [f"machine check (CPUs {format_cpulist(check.cpus)}): {verdict}"]
    lines += [f"  warning: {w}" for w in check.warnings]
    lines += [f"  note: {n}" for n in check.notes]
    return "\n".join(lines)


def check_before_run(loaded, machine, strict: bool) -> MachineCheck:
    """Check the CPUs ``loaded``'s scenario pins to; under ``strict`` refuse (UsageError,
    exit 2) with the reasons. Printed by ``record_check`` once the run is sure to start
    (bad input says its one line alone)."""
    from harness.errors import UsageError
    from harness.execute.plan import resolve_pinning

    cpus = resolve_pinning(loaded.scenario.pinning, machine).cpus
    # The trees describe_machine read (tests hand in a fake machine this way).
    check = check_machine(cpus, os.environ.get("HARNESS_SYSFS_ROOT") or "/sys",
                          os.environ.get("HARNESS_PROCFS_ROOT") or "/proc")
    if check.warnings and strict:
        raise UsageError([f"--strict: the machine check found what disturbs a measurement "
                          f"(CPUs {format_cpulist(cpus)}):"] + check.warnings)
    return check


def record_check(manifest: dict, check: MachineCheck) -> None:
    """Print the check's warnings on stderr, and store it in the manifest:
    ``machine_check`` for a new run, in the latest ``resumed`` entry for a resumed one
    (the first run's check is kept)."""
    import sys

    if check.warnings:
        print(format_check(check) + "\n  (stored in the manifest as machine_check; "
              "`run --strict` refuses to start)", file=sys.stderr)
    if "machine_check" in manifest and manifest.get("resumed"):
        manifest["resumed"][-1]["machine_check"] = check.to_dict()
    else:
        manifest["machine_check"] = check.to_dict()

"""Everything that runs ``perf``: probing events, and the ``perf stat`` wrapper of a worker.

The manager probes each event of the chosen set once per harness run (one tiny
``perf stat -- true`` per event, classified by ``perfstat.classify_probe``); only
supported events go on a worker's command line, so one unsupported event never
costs the others. Each worker then runs as

    perf stat --delay=-1 --control fifo:CTL,ACK -x, -o OUT -e E1 -e E2 ... -- python -m harness.worker ...

with every event disabled until the worker writes ``enable`` to CTL (see
``region.py``). The output file is parsed by ``perfstat.parse_perf_stat``.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from harness.counters import COUNTED, NOT_COUNTED, NOT_PERMITTED, NOT_SUPPORTED
from harness.counters.eventsets import EventSet
from harness.counters.perfstat import base_event_name, bytes_to_count, classify_probe, \
    counts_by_event, parse_perf_stat

# --control and --delay=-1 (start with events disabled) arrived in perf 5.10, -j in 5.16.
CONTROL_MIN_VERSION = (5, 10)
JSON_MIN_VERSION = (6, 0)
PROBE_TIMEOUT_S = 20.0
CAP_SYS_ADMIN, CAP_PERFMON = 21, 38


def version_tuple(version: str | None) -> tuple[int, ...]:
    """'6.1.187' -> (6, 1, 187); () when unknown."""
    if not version:
        return ()
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def perf_spelling(name: str, perf_event: str) -> str:
    """The ``-e`` argument for an event, named so that perf prints ``name`` for it.

    A PMU-style event (``cpu/event=0x2e,umask=0x41/``) would otherwise be printed
    with its commas, which breaks ``-x,`` output; perf's ``name=`` term fixes that.
    """
    m = re.fullmatch(r"([\w.-]+)/(.*)/([a-zA-Z]*)", perf_event)
    if not m or "name=" in m.group(2):
        return perf_event
    terms = f"{m.group(2)},name={name}" if m.group(2) else f"name={name}"
    return f"{m.group(1)}/{terms}/{m.group(3)}"


def printed_name(name: str, perf_event: str) -> str:
    """What perf prints in its event column for ``perf_spelling(name, perf_event)``."""
    spelled = perf_spelling(name, perf_event)
    m = re.search(r"name=([^,/]+)", spelled)
    return m.group(1) if m else spelled


def perf_env() -> dict:
    """The environment for perf: the C locale, or perf prints ``100,00`` under a comma-
    decimal locale (it calls setlocale), which breaks -x, fields and -j's JSON."""
    return {**os.environ, "LC_ALL": "C"}


def stat_command(perf: str, spellings: list[str], output: Path, ctl: Path | None = None,
                 ack: Path | None = None, json_output: bool = False) -> list[str]:
    """``perf stat`` arguments up to and including ``--`` (the worker command follows)."""
    cmd = [perf, "stat"]
    if ctl is not None:
        cmd += ["--delay=-1", "--control", f"fifo:{ctl},{ack}"]
    cmd += ["-j"] if json_output else ["-x,"]
    cmd += ["-o", str(output)]
    for spelling in spellings:
        cmd += ["-e", spelling]
    return cmd + ["--"]


def capabilities(status_text: str) -> int:
    """Effective capability bits from /proc/self/status text (0 when absent)."""
    m = re.search(r"^CapEff:\s*([0-9a-fA-F]+)", status_text, re.M)
    return int(m.group(1), 16) if m else 0


def system_wide_permission(paranoid: int | None, cap_eff: int) -> tuple[bool, str]:
    """Whether uncore/system-wide events may be opened, and why (pure).

    Linux allows them with perf_event_paranoid <= 0, or with CAP_PERFMON (5.8+)
    or CAP_SYS_ADMIN whatever the setting.
    """
    if cap_eff >> CAP_SYS_ADMIN & 1:
        return True, "CAP_SYS_ADMIN (root)"
    if cap_eff >> CAP_PERFMON & 1:
        return True, "CAP_PERFMON"
    if paranoid is None:
        return False, "perf_event_paranoid unreadable and no CAP_PERFMON"
    if paranoid <= 0:
        return True, f"perf_event_paranoid={paranoid}"
    return False, (f"perf_event_paranoid={paranoid} > 0 and no CAP_PERFMON: uncore "
                   f"(DRAM) events need `sysctl kernel.perf_event_paranoid=0` or "
                   f"`setcap cap_perfmon+ep` on perf")


def read_permission(procfs: Path = Path("/proc")) -> tuple[bool, str]:
    try:
        paranoid = int((procfs / "sys/kernel/perf_event_paranoid").read_text().strip())
    except (OSError, ValueError):
        paranoid = None
    try:
        caps = capabilities(Path("/proc/self/status").read_text())
    except OSError:
        caps = 0
    return system_wide_permission(paranoid, caps)


def probe_event(perf: str, spelling: str, work_dir: Path) -> tuple[str, str]:
    """Try one event on an empty workload; (status, detail)."""
    out = work_dir / f".probe-{os.getpid()}.txt"
    out.unlink(missing_ok=True)
    cmd = stat_command(perf, [spelling], out) + ["true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              env=perf_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return NOT_SUPPORTED, f"could not run perf: {exc}"
    try:
        output = out.read_text(errors="replace") if out.exists() else ""
    finally:
        out.unlink(missing_ok=True)
    return classify_probe(proc.returncode, proc.stderr, output, spelling)


SOFTWARE_EVENTS = frozenset({"task-clock", "cpu-clock", "page-faults", "minor-faults",
                             "major-faults", "context-switches", "cpu-migrations"})


def working_slots(counts: list[float | None]) -> int | None:
    """How many of N copies of one always-ticking event really counted (pure).

    Some virtual PMUs report more general-purpose counters than work: an event
    scheduled on a dead one reads 0 while perf claims it ran the whole time.
    None when the probe says nothing (no copy counted, or every copy did).
    """
    if not counts or any(c is None for c in counts):
        return None
    live = sum(1 for c in counts if c > 0)
    return live if 0 < live < len(counts) else None


def probe_counter_slots(perf: str, perf_event: str, copies: int, work_dir: Path) -> int | None:
    """Schedule ``copies`` copies of a cycles-like event at once; count the live ones."""
    out = work_dir / f".slots-{os.getpid()}.txt"
    out.unlink(missing_ok=True)
    spellings = [perf_spelling(f"slot{i}", perf_event) for i in range(copies)]
    # A short busy loop: every live counter of a ticking event reads well above 0.
    cmd = stat_command(perf, spellings, out) + [
        "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"]
    try:
        subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                       env=perf_env())
        text = out.read_text(errors="replace") if out.exists() else ""
        parsed = parse_perf_stat(text)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    finally:
        out.unlink(missing_ok=True)
    # By position, in -e order: an alias event (``cycles``) cannot carry name=slotN, so
    # every copy prints the same name.
    if len(parsed) != copies:
        return None  # e.g. a hybrid CPU's line per PMU: no answer rather than a wrong one
    return working_slots([c.value if c.status == COUNTED else None for c in parsed])


def limit_to_working_slots(probed: dict, hardware: list[str], slots: int | None) -> None:
    """Keep the first ``slots`` hardware events (the set's order is its priority); say
    why the others are left out rather than let them read a dead counter's 0."""
    if slots is None or slots >= len(hardware):
        return
    for name in hardware[slots:]:
        probed[name].update(status=NOT_COUNTED, detail=(
            f"left out: only {slots} of the {len(hardware)} hardware counters perf "
            f"schedules here really count (the others read 0 while reported as running, "
            f"as some virtual PMUs do); the set's first {slots} events are kept"))


def probe_event_set(perf: str | None, version: str | None, event_set: EventSet,
                    work_dir: Path, system_wide: tuple[bool, str] | None = None) -> dict:
    """Status of every event in ``event_set`` on this machine: name -> {status, detail}.

    Each event is tried alone; then the counted hardware events are checked against
    the number of counters that really work when all are scheduled together.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    allowed, why = system_wide if system_wide is not None else read_permission()
    probed = {}
    for name, edef in event_set.events.items():
        if perf is None:
            status, detail = NOT_SUPPORTED, perf_missing_reason()
        elif version_tuple(version) < CONTROL_MIN_VERSION:
            status, detail = NOT_SUPPORTED, (f"perf {version} lacks --control (needs "
                                             f"{'.'.join(map(str, CONTROL_MIN_VERSION))}+)")
        else:
            status, detail = probe_event(perf, perf_spelling(name, edef.perf), work_dir)
            if status != COUNTED and edef.fallback:
                raw_status, raw_detail = probe_event(perf, perf_spelling(name, edef.fallback),
                                                     work_dir)
                if raw_status == COUNTED:
                    probed[name] = {"perf": edef.fallback, "scope": edef.scope,
                                    "status": COUNTED, "detail": (
                                        f"{edef.perf} is unknown here ({status}: {detail}); "
                                        f"counting its raw encoding {edef.fallback}")}
                    continue
                detail = f"{detail}; raw encoding {edef.fallback}: {raw_status}: {raw_detail}"
            if status == NOT_PERMITTED and edef.scope == "system":
                detail = f"{detail} ({why})" if not allowed else detail
        probed[name] = {"perf": edef.perf, "scope": edef.scope, "status": status,
                        "detail": detail}
    hardware = [n for n, p in probed.items() if p["status"] == COUNTED and p["scope"] == "task"
                and event_set.events[n].perf not in SOFTWARE_EVENTS]
    if perf is not None and len(hardware) > 1:
        slots = probe_counter_slots(perf, event_set.events[hardware[0]].perf, len(hardware),
                                    work_dir)
        limit_to_working_slots(probed, hardware, slots)
    return probed


@dataclass
class PerfSetup:
    """The perf backend of one harness run: which events, how they are spelled."""

    perf: str
    version: str
    event_set: EventSet
    probed: dict
    ack_timeout_s: float = 10.0
    json_output: bool = field(default=False)

    def __post_init__(self):
        self.json_output = self.json_output or version_tuple(self.version) >= JSON_MIN_VERSION

    @property
    def counted(self) -> list[str]:
        return [n for n, p in self.probed.items() if p["status"] == COUNTED]

    def paths(self, work_dir: Path, stem: str) -> dict[str, Path]:
        return {k: work_dir / f"{stem}.perf.{k}" for k in ("ctl", "ack", "out")}

    def wrap(self, command: list[str], work_dir: Path, stem: str) -> tuple[list[str], dict]:
        """(perf command around ``command``, the worker's region spec). Makes the fifos."""
        p = self.paths(work_dir, stem)
        for key in ("ctl", "ack", "out"):
            p[key].unlink(missing_ok=True)
        os.mkfifo(p["ctl"])
        os.mkfifo(p["ack"])
        # The probed spelling: an alias, or the raw encoding that counted in its place.
        spellings = [perf_spelling(n, self.probed[n]["perf"]) for n in self.counted]
        cmd = ["env", "LC_ALL=C"] + stat_command(self.perf, spellings, p["out"], p["ctl"],
                                                 p["ack"], self.json_output) + command
        return cmd, {"ctl": str(p["ctl"]), "ack": str(p["ack"]),
                     "timeout_s": self.ack_timeout_s}

    def collect(self, work_dir: Path, stem: str, region: dict | None) -> dict:
        """Parse one worker's perf output into per-event records; remove its files."""
        p = self.paths(work_dir, stem)
        try:
            text = p["out"].read_text(errors="replace") if p["out"].exists() else ""
        finally:
            for key in ("ctl", "ack", "out"):
                p[key].unlink(missing_ok=True)
        return perf_events_record(self.event_set, self.probed, text, region)

    def describe(self) -> dict:
        return {"perf": self.perf, "version": self.version, "event_set": self.event_set.name,
                "format": "json" if self.json_output else "csv", "events": self.probed,
                "metrics": {m: d.formula for m, d in self.event_set.metrics.items()}}


def perf_events_record(event_set: EventSet, probed: dict, text: str,
                       region: dict | None) -> dict:
    """Every event of the set with a value or a status, from perf's output text (pure)."""
    problem = None
    counts = {}
    if not text.strip():
        problem = "perf wrote no output (it or the worker died before the end)"
    else:
        try:
            counts = counts_by_event(parse_perf_stat(text))
        except ValueError as exc:
            problem = str(exc)
    if region is not None and region.get("error"):
        problem = f"the counted region failed: {region['error']}"
    events = {}
    for name, edef in event_set.events.items():
        spelled = probed[name].get("perf", edef.perf)
        entry = {"perf": spelled, "scope": edef.scope, "value": None, "unit": "",
                 "running_fraction": None, "status": probed[name]["status"],
                 "detail": probed[name]["detail"]}
        if entry["status"] == COUNTED:
            count = counts.get(base_event_name(printed_name(name, spelled)))
            if problem:
                entry.update(status=NOT_COUNTED, detail=problem)
            elif count is None:
                entry.update(status=NOT_COUNTED, detail="perf printed no line for it")
            else:
                value = count.value
                if value is not None and edef.bytes_per_count:
                    value = bytes_to_count(value, count.unit, edef.bytes_per_count) or value
                entry.update(value=value, unit=count.unit, status=count.status,
                             running_fraction=count.running_fraction,
                             detail="multiplexed: scaled by perf" if count.multiplexed else "")
        events[name] = entry
    return {"events": events, "output": text[-4000:], "problem": problem}


def perf_missing_reason() -> str:
    """Why no perf is used: not installed, or $HARNESS_PERF names one that is not there."""
    chosen = os.environ.get("HARNESS_PERF")
    if chosen:
        return f"HARNESS_PERF={chosen} is not an executable perf"
    return "perf is not installed"


def default_perf() -> str | None:
    """The perf to use: $HARNESS_PERF (tests inject a fake one) or perf on PATH."""
    import shutil

    return shutil.which(os.environ.get("HARNESS_PERF") or "perf")

"""Pure parsing of ``perf stat`` output: CSV (``-x,``) and JSON (``-j``), perf 4.x to 6.x.

``parse_perf_stat(text)`` returns one ``PerfCount`` per counted line, in perf's
order, and raises ``ValueError`` quoting the offending raw text for anything it
does not recognise: a silent misparse would become a wrong number in a report.
Every accepted shape has a sample in ``perf_samples.py`` beside this module.

``classify_probe(...)`` turns one probing ``perf stat`` (its exit status, stderr
and output) into a support status; it is pure too.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace

from harness.counters import COUNTED, NOT_COUNTED, NOT_PERMITTED, NOT_SUPPORTED

_PLACEHOLDERS = {"<not supported>": NOT_SUPPORTED, "<not counted>": NOT_COUNTED}
# Byte units perf applies to some uncore events through their sysfs .scale/.unit
# (e.g. uncore_imc/cas_count_read/ in MiB): converted back to bytes.
BYTE_UNITS = {"B": 1, "Bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "64Bytes": 64}


@dataclass(frozen=True)
class PerfCount:
    """One event as perf reported it.

    ``value`` is perf's (possibly scaled) count, None unless ``status`` is
    ``counted``; ``running_fraction`` is the share of the enabled time the event
    was on a counter (below 1 when perf multiplexed and scaled it).
    """

    event: str
    value: float | None
    unit: str
    status: str
    run_time_ns: int | None
    running_fraction: float | None

    @property
    def multiplexed(self) -> bool:
        return self.running_fraction is not None and self.running_fraction < 0.9999

    def to_dict(self) -> dict:
        return asdict(self)


def _problem(what: str, line: str) -> ValueError:
    return ValueError(f"unrecognised perf stat output ({what}): {line[:300]!r}")


def _number(text: str, line: str) -> float:
    try:
        return float(text.replace(" ", ""))
    except ValueError:
        raise _problem(f"{text!r} is not a number", line) from None


def _fraction(pcnt: str | float | None, line: str) -> float | None:
    if pcnt in (None, ""):
        return None
    value = _number(str(pcnt), line)
    if not 0.0 <= value <= 100.0:
        raise _problem(f"running percentage {value} outside 0..100", line)
    return value / 100.0


def _count(event: str, raw_value, unit: str, run_time, pcnt, line: str) -> PerfCount:
    raw = str(raw_value).strip()
    run_time_ns = int(_number(str(run_time), line)) if run_time not in (None, "") else None
    if raw in _PLACEHOLDERS:
        status = _PLACEHOLDERS[raw]
        return PerfCount(event, None, unit, status, run_time_ns, None)
    if raw.startswith("<"):
        raise _problem(f"unknown placeholder {raw!r}", line)
    fraction = _fraction(pcnt, line)
    if fraction == 0.0:
        # Enabled but never scheduled on a counter: perf has nothing to scale.
        return PerfCount(event, None, unit, NOT_COUNTED, run_time_ns, 0.0)
    return PerfCount(event, _number(raw, line), unit, COUNTED, run_time_ns, fraction)


def _parse_csv_line(line: str) -> PerfCount | None:
    # value,unit,event,run_time,pcnt_running[,metric_value,metric_unit]  (perf >= 4.x)
    # older perf: value,unit,event[,run_time,pcnt]
    fields = line.split(",")
    if len(fields) < 3:
        raise _problem("fewer than 3 comma-separated fields", line)
    value, unit, event = fields[0].strip(), fields[1].strip(), fields[2].strip()
    if not value and not event:
        return None  # a metric-only continuation line: ",,,,,2.51,insn per cycle"
    if not event:
        raise _problem("a value without an event name", line)
    run_time = fields[3].strip() if len(fields) > 3 else None
    pcnt = fields[4].strip() if len(fields) > 4 else None
    return _count(event, value, unit, run_time, pcnt, line)


def _parse_json_line(line: str) -> PerfCount | None:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        raise _problem("not a JSON object", line) from None
    if not isinstance(obj, dict):
        raise _problem("not a JSON object", line)
    if "event" not in obj:
        if "metric-value" in obj or "metric-unit" in obj:
            return None  # perf >= 6.6 prints metrics as objects of their own
        raise _problem("JSON object without 'event'", line)
    if "counter-value" not in obj:
        raise _problem("JSON object without 'counter-value'", line)
    return _count(str(obj["event"]), obj["counter-value"], str(obj.get("unit", "")),
                  obj.get("event-runtime"), obj.get("pcnt-running"), line)


def parse_perf_stat(text: str) -> list[PerfCount]:
    """Parse ``perf stat -x,`` or ``perf stat -j`` output (as written by ``-o``).

    Comment lines (``# started on ...``), blank lines and perf's control
    messages (``Events enabled``) are skipped; every other line must parse.
    """
    counts: list[PerfCount] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or line in ("Events enabled", "Events disabled"):
            continue
        if line.startswith("{"):
            count = _parse_json_line(line)
        elif "," in line:
            count = _parse_csv_line(line)
        else:
            raise _problem("neither CSV nor JSON", line)
        if count is not None:
            counts.append(count)
    return counts


def base_event_name(event: str) -> str:
    """The event as given with ``-e``, without the modifiers perf may append.

    perf falls back to user-only counting (``cycles:u``) when kernel counting is
    not allowed, and hybrid machines prefix a PMU (``cpu_core/cycles/``).
    """
    event = event.strip()
    if hybrid := re.fullmatch(r"cpu_(?:core|atom)/([^/]+)/([ukhHGpPSD]*)", event):
        event = hybrid.group(1)
    m = re.fullmatch(r"(.*?)(:[ukhHGpPSD]+)?", event)
    return m.group(1) if m else event


def counts_by_event(counts: list[PerfCount]) -> dict[str, PerfCount]:
    """perf's lines keyed by ``base_event_name`` (pure). A hybrid CPU prints one line per
    PMU (``cpu_core/cycles/`` and ``cpu_atom/cycles/``): their counted values are summed,
    so a ``<not counted>`` line of the PMU the task never ran on hides nothing."""
    out: dict[str, PerfCount] = {}
    for c in counts:
        key = base_event_name(c.event)
        prev = out.get(key)
        if prev is None or (prev.status != COUNTED and c.status == COUNTED):
            out[key] = c
        elif prev.status == COUNTED and c.status == COUNTED:
            fractions = [f for f in (prev.running_fraction, c.running_fraction) if f is not None]
            out[key] = replace(prev, value=prev.value + c.value,
                               run_time_ns=(prev.run_time_ns or 0) + (c.run_time_ns or 0) or None,
                               running_fraction=min(fractions) if fractions else None)
    return out


def bytes_to_count(value: float, unit: str, bytes_per_count: int | None) -> float | None:
    """A count from a value perf scaled to a byte unit, or None if ``unit`` is not one."""
    if unit in BYTE_UNITS and bytes_per_count:
        return value * BYTE_UNITS[unit] / bytes_per_count
    return None


_NOT_PERMITTED = re.compile(
    r"no permission|permission denied|perf_event_paranoid|access to performance monitoring"
    r"|not permitted|eacces|operation not permitted", re.I)
_UNKNOWN_EVENT = re.compile(
    r"event syntax error|cannot find pmu|unknown term|parser error|bad event name"
    r"|invalid or unsupported event|not supported|no such device|unknown tracepoint", re.I)


def classify_probe(returncode: int, stderr: str, output: str, event: str) -> tuple[str, str]:
    """Support status of ``event`` from one ``perf stat -x, -e EVENT -- true`` run.

    Returns (status, detail). A perf that refused the event outright (unknown PMU,
    syntax) makes it ``not-supported``; a permission refusal ``not-permitted``.
    """
    lines = [ln.strip() for ln in stderr.splitlines()
             if ln.strip() and ln.strip().rstrip(":").lower() != "error"]
    first = lines[0] if lines else ""
    if returncode != 0:
        if _NOT_PERMITTED.search(stderr):
            said = next((ln for ln in lines if _NOT_PERMITTED.search(ln)), first)
            return NOT_PERMITTED, said or f"perf exited with status {returncode}"
        if _UNKNOWN_EVENT.search(stderr):
            return NOT_SUPPORTED, first
        return NOT_SUPPORTED, (f"perf exited with status {returncode}: "
                               f"{first or 'no message'}")
    try:
        counts = parse_perf_stat(output)
    except ValueError as exc:
        return NOT_SUPPORTED, str(exc)
    if not counts:
        return NOT_SUPPORTED, "perf printed no count for it"
    statuses = {c.status for c in counts}
    if COUNTED in statuses:
        return COUNTED, ""
    if NOT_SUPPORTED in statuses:
        return NOT_SUPPORTED, "perf reports <not supported> (no such counter here)"
    return NOT_COUNTED, "perf reports <not counted> even for an empty workload"

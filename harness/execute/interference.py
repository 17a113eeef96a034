"""How much of the pinned CPUs someone else had while a worker timed its batches.

A kernel pinned to two CPUs that shares one of them with another process waits for its
descheduled thread: its latency can grow a hundredfold and nothing in the timings says
why. This probe reads, at the start and the end of the timed region:

- each pinned CPU's counters in ``/proc/stat`` (busy, idle and steal ticks);
- this process's own CPU time, per thread, from ``/proc/self/task/*/stat``;
- each thread's ``nonvoluntary_ctxt_switches`` from ``/proc/self/task/*/status`` and
  the CPU it last ran on;
- each thread's time spent runnable but waiting for a CPU, in ns, from
  ``/proc/self/task/*/schedstat`` (where the kernel has schedstats).

The busy ticks of the pinned CPUs minus this process's own ticks minus steal is the
CPU time other tasks got there (``interference_fraction`` of the region's ticks);
steal is time the hypervisor gave to another guest (``steal_fraction``). Both are
tick-sampled by the kernel (USER_HZ, usually 100 per second), so a region of a few
ticks cannot be assessed: ``assessed`` says so and those fractions are then None.
The run-queue wait has nanosecond resolution, so it judges short regions too:
``runqueue_wait_fraction`` is the longest wait of any thread over the region's wall
time (an OpenMP kernel is as slow as its most delayed thread).
Every path and the clock are injectable so tests hand in fake trees.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

# Fewer ticks than this over the pinned CPUs (USER_HZ=100: 0.1 s on one CPU) and one
# tick of rounding is already 10 %: the fractions are not stated.
MIN_TICKS = 10
# /proc/stat cpuN columns: user nice system idle iowait irq softirq steal guest guest_nice;
# guest time is already counted in user, so it is not added again.
_IDLE, _IOWAIT, _STEAL = 3, 4, 7


def parse_cpu_ticks(text: str, cpus: list[int]) -> dict[int, tuple[int, int, int]]:
    """{cpu: (total, idle, steal)} ticks of the listed CPUs from /proc/stat text (pure).

    Raises ValueError quoting the line when a listed CPU is missing or malformed
    (an offline CPU has no line).
    """
    wanted = {f"cpu{c}": c for c in cpus}
    out = {}
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in wanted:
            try:
                ticks = [int(f) for f in fields[1:9]]
            except ValueError:
                raise ValueError(f"/proc/stat line not understood: {line!r}") from None
            if len(ticks) < 4:
                raise ValueError(f"/proc/stat line not understood: {line!r}")
            ticks += [0] * (8 - len(ticks))
            out[wanted[fields[0]]] = (sum(ticks), ticks[_IDLE] + ticks[_IOWAIT], ticks[_STEAL])
    missing = sorted(set(cpus) - set(out))
    if missing:
        raise ValueError(f"/proc/stat has no line for cpu {missing[0]}")
    return out


def parse_task_stat(text: str) -> tuple[int, int]:
    """(utime + stime ticks, last CPU) of one thread from its stat line (pure); the
    command name in parentheses may hold spaces, so fields are counted after it."""
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[36])  # stat fields 14, 15, 39


def parse_involuntary(text: str) -> int:
    """``nonvoluntary_ctxt_switches`` of one thread's status text (pure); 0 if absent."""
    for line in text.splitlines():
        if line.startswith("nonvoluntary_ctxt_switches:"):
            return int(line.split(":", 1)[1])
    return 0


def parse_schedstat(text: str) -> int:
    """Run-queue wait in ns (the second of ``schedstat``'s three numbers; pure)."""
    return int(text.split()[1])


def read_threads(task_dir: Path) -> dict[int, dict]:
    """{tid: {ticks, cpu, involuntary, wait_ns}} of every thread now under ``task_dir``
    (``wait_ns`` None where the kernel keeps no schedstat)."""
    threads = {}
    for task in task_dir.iterdir():
        if not task.name.isdigit():
            continue
        try:
            ticks, cpu = parse_task_stat((task / "stat").read_text())
            involuntary = parse_involuntary((task / "status").read_text())
        except OSError:
            continue  # the thread exited between listing and reading
        try:
            wait_ns = parse_schedstat((task / "schedstat").read_text())
        except (OSError, ValueError, IndexError):
            wait_ns = None
        threads[int(task.name)] = {"ticks": ticks, "cpu": cpu, "involuntary": involuntary,
                                   "wait_ns": wait_ns}
    return threads


class InterferenceProbe:
    """Context manager around a timed region; ``result`` is the dict it measured.

    ``proc_stat`` and ``task_dir`` default to the live /proc files of this process.
    A probe that cannot read them says why in ``result["reason"]`` and never raises:
    a measurement is not lost for want of its interference figure.
    """

    def __init__(self, cpus: list[int], proc_stat: Path = Path("/proc/stat"),
                 task_dir: Path = Path("/proc/self/task"), clock=time.perf_counter_ns):
        self.cpus = sorted(cpus)
        self.clock = clock
        self.proc_stat, self.task_dir = Path(proc_stat), Path(task_dir)
        self.result: dict = {}
        self._start = None

    def _snapshot(self):
        return (parse_cpu_ticks(self.proc_stat.read_text(), self.cpus),
                read_threads(self.task_dir), self.clock())

    def __enter__(self) -> "InterferenceProbe":
        try:
            self._start = self._snapshot()
        except (OSError, ValueError) as exc:
            self._start, self.result = None, not_assessed(f"cannot read /proc: {exc}")
        return self

    def __exit__(self, *exc_info) -> None:
        if self._start is None:
            return
        try:
            end = self._snapshot()
        except (OSError, ValueError) as exc:
            self.result = not_assessed(f"cannot read /proc: {exc}")
            return
        self.result = interference_between(self._start, end)


def not_assessed(reason: str) -> dict:
    return {"assessed": False, "reason": reason, "interference_fraction": None,
            "steal_fraction": None, "involuntary_switches": None, "threads_migrated": None,
            "runqueue_wait_fraction": None}


@contextlib.contextmanager
def around(probe, region=None):
    """The probe around the counters' region (which may be None): /proc is read
    outside what the counters count."""
    with probe, region if region is not None else contextlib.nullcontext():
        yield


def interference_between(start, end) -> dict:
    """The figures of a region from its two snapshots (pure; see the module docstring).

    Threads that started or ended inside the region count from zero or to their last
    reading; a thread that moved CPU is one whose last CPU differs at the two ends
    (a lower bound: a thread that moved and came back is not seen).
    """
    (cpu0, th0, t0), (cpu1, th1, t1) = start, end
    total = sum(cpu1[c][0] - cpu0[c][0] for c in cpu1)
    busy = sum((cpu1[c][0] - cpu1[c][1]) - (cpu0[c][0] - cpu0[c][1]) for c in cpu1)
    steal = sum(cpu1[c][2] - cpu0[c][2] for c in cpu1)
    own = sum(t["ticks"] - th0.get(tid, {}).get("ticks", 0) for tid, t in th1.items())
    involuntary = sum(t["involuntary"] - th0.get(tid, {}).get("involuntary", 0)
                      for tid, t in th1.items())
    migrated = sum(1 for tid, t in th1.items() if tid in th0 and th0[tid]["cpu"] != t["cpu"])
    others = max(0, busy - steal - own)  # both are tick samples: own may exceed busy a little
    waits = [t["wait_ns"] - th0[tid]["wait_ns"] for tid, t in th1.items()
             if t["wait_ns"] is not None and th0.get(tid, {}).get("wait_ns") is not None]
    region_ns = t1 - t0
    wait_fraction = max(waits) / region_ns if waits and region_ns > 0 else None
    longest_wait = max(waits) if waits else None
    out = {"assessed": total >= MIN_TICKS, "reason": "", "ticks": total, "busy_ticks": busy,
           "own_ticks": own, "steal_ticks": steal, "other_ticks": others,
           "involuntary_switches": involuntary, "threads_migrated": migrated,
           "region_ns": region_ns, "runqueue_wait_fraction": wait_fraction,
           "runqueue_wait_ns": longest_wait,
           "interference_fraction": others / total if total >= MIN_TICKS else None,
           "steal_fraction": steal / total if total >= MIN_TICKS else None}
    if total < MIN_TICKS:
        out["reason"] = (f"timed region too short to assess CPU sharing ({total} ticks on the "
                         f"pinned CPUs, fewer than {MIN_TICKS})")
    return out


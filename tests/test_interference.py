"""The interference probe on faked /proc trees (issue 15 items 1 and 8): no timing."""

import itertools

import pytest

from harness.execute.interference import (InterferenceProbe, parse_cpu_ticks,
                                          parse_task_stat)

# user nice system idle iowait irq softirq steal guest guest_nice
STAT_HEAD = "cpu  100 0 50 1000 0 0 0 0 0 0\n"


def proc_stat(cpus: dict[int, tuple[int, int, int, int]]) -> str:
    """/proc/stat text with cpuN lines of (user, system, idle, steal) ticks."""
    lines = [STAT_HEAD]
    for cpu, (user, system, idle, steal) in sorted(cpus.items()):
        lines.append(f"cpu{cpu} {user} 0 {system} {idle} 0 0 0 {steal} 0 0\n")
    return "".join(lines) + "intr 1 2 3\nctxt 99\n"


def task_stat(tid: int, ticks: int, cpu: int) -> str:
    # fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
    # cmajflt utime stime ... processor is field 39 (index 36 after the comm)
    rest = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", str(ticks), "0"]
    rest += ["0"] * (36 - len(rest)) + [str(cpu), "0", "0"]
    return f"{tid} (python worker) " + " ".join(rest) + "\n"


class FakeProc:
    """A /proc/stat file and a task directory whose contents a test rewrites."""

    def __init__(self, root):
        self.stat = root / "stat"
        self.tasks = root / "task"
        self.tasks.mkdir()

    def write(self, cpus, threads, schedstat=True):
        self.stat.write_text(proc_stat(cpus))
        for tid, (ticks, cpu, involuntary, wait_ns) in threads.items():
            d = self.tasks / str(tid)
            d.mkdir(exist_ok=True)
            (d / "stat").write_text(task_stat(tid, ticks, cpu))
            (d / "status").write_text(f"Name:\tpython\nvoluntary_ctxt_switches:\t3\n"
                                      f"nonvoluntary_ctxt_switches:\t{involuntary}\n")
            if schedstat:
                (d / "schedstat").write_text(f"123 {wait_ns} 7\n")


def clock_of(*readings):
    return iter(readings).__next__


def test_other_tasks_on_the_pinned_cpus_are_measured(tmp_path):
    proc = FakeProc(tmp_path)
    proc.write({0: (100, 10, 500, 0), 1: (200, 0, 300, 0), 2: (0, 0, 0, 0)},
               {10: (50, 0, 2, 0), 11: (40, 1, 0, 0)})
    probe = InterferenceProbe([0, 1], proc.stat, proc.tasks, clock=clock_of(0, 1_000_000_000))
    with probe:
        # 100 ticks pass on the two CPUs: 90 busy, of which the worker had 60, steal 5
        proc.write({0: (150, 10, 505, 0), 1: (230, 5, 305, 5), 2: (999, 0, 0, 0)},
                   {10: (80, 0, 9, 200_000_000), 11: (70, 1, 1, 50_000_000)})
    r = probe.result
    assert r["assessed"] and r["ticks"] == 100 and r["own_ticks"] == 60
    assert r["steal_fraction"] == pytest.approx(0.05)
    assert r["interference_fraction"] == pytest.approx((90 - 5 - 60) / 100)
    assert r["involuntary_switches"] == 7 + 1
    assert r["threads_migrated"] == 0
    assert r["runqueue_wait_fraction"] == pytest.approx(0.2)  # the most delayed thread
    assert r["runqueue_wait_ns"] == 200_000_000


def test_a_quiet_region_is_clean_and_a_moved_thread_is_seen(tmp_path):
    proc = FakeProc(tmp_path)
    proc.write({0: (0, 0, 0, 0)}, {10: (0, 0, 0, 0)})
    probe = InterferenceProbe([0], proc.stat, proc.tasks, clock=clock_of(0, 10**9))
    with probe:
        proc.write({0: (100, 0, 0, 0)}, {10: (100, 3, 0, 0)})
    assert probe.result["interference_fraction"] == 0
    assert probe.result["runqueue_wait_fraction"] == 0
    assert probe.result["threads_migrated"] == 1


def test_a_short_region_is_not_assessed_by_ticks(tmp_path):
    proc = FakeProc(tmp_path)
    proc.write({0: (0, 0, 0, 0)}, {10: (0, 0, 0, 0)})
    probe = InterferenceProbe([0], proc.stat, proc.tasks, clock=clock_of(0, 2_000_000))
    with probe:
        proc.write({0: (3, 0, 0, 0)}, {10: (0, 0, 1, 1_000_000)})
    r = probe.result
    assert not r["assessed"] and r["interference_fraction"] is None
    assert "too short" in r["reason"] and "3 ticks" in r["reason"]
    assert r["runqueue_wait_fraction"] == pytest.approx(0.5)  # ns resolution still judges


def test_no_schedstat_leaves_the_wait_unknown(tmp_path):
    proc = FakeProc(tmp_path)
    proc.write({0: (0, 0, 0, 0)}, {10: (0, 0, 0, 0)}, schedstat=False)
    probe = InterferenceProbe([0], proc.stat, proc.tasks, clock=itertools.count().__next__)
    with probe:
        proc.write({0: (50, 0, 50, 0)}, {10: (50, 0, 0, 0)}, schedstat=False)
    assert probe.result["runqueue_wait_fraction"] is None
    assert probe.result["interference_fraction"] == 0


def test_unreadable_proc_is_reported_not_raised(tmp_path):
    proc = FakeProc(tmp_path)
    proc.write({0: (0, 0, 0, 0)}, {10: (0, 0, 0, 0)})
    with InterferenceProbe([0, 5], proc.stat, proc.tasks) as probe:  # cpu5 has no line
        pass
    assert probe.result["assessed"] is False
    assert "no line for cpu 5" in probe.result["reason"]
    with InterferenceProbe([0], tmp_path / "absent", proc.tasks) as probe:
        pass
    assert "cannot read /proc" in probe.result["reason"]


def test_parsers_quote_what_they_cannot_read():
    with pytest.raises(ValueError, match="cpu0 x"):
        parse_cpu_ticks("cpu0 x y z w\n", [0])
    assert parse_task_stat(task_stat(7, 12, 3)) == (12, 3)
    # a command name with spaces and parentheses does not shift the fields
    assert parse_task_stat(task_stat(7, 12, 3).replace("(python worker)", "(a (b) c)")) == (12, 3)


def test_the_live_probe_reads_this_process():
    import os

    cpu = sorted(os.sched_getaffinity(0))[0]
    with InterferenceProbe([cpu]) as probe:
        sum(range(1000))
    assert "involuntary_switches" in probe.result

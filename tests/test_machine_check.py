"""The machine check before a run (harness.machine.check) on fake sysfs/procfs trees and
fake process lists: what warns, what is only noted, and `run --strict` refusing."""

import json

import pytest

from cli import assert_usage_error, run_harness
from fakes import ZEN3_VM_2CPU, make_machine_tree

from harness.machine.check import (ProcessSample, busy_process_findings, check_machine,
                                   format_check, load_findings)

QUIET = [ProcessSample(1, "init", 0.0, [0, 1]), ProcessSample(4242, "sshd", 2.0, [0, 1])]


def _tree(tmp_path, governor=None, loadavg="0.10 0.20 0.30 1/100 999", no_turbo=None,
          thp="always [madvise] never"):
    sysfs, procfs = make_machine_tree(tmp_path / "m", ZEN3_VM_2CPU)
    (procfs / "loadavg").write_text(loadavg + "\n")
    cpu_dir = sysfs / "devices/system/cpu"
    if governor:
        for cpu in (0, 1):
            (cpu_dir / f"cpu{cpu}/cpufreq").mkdir(parents=True, exist_ok=True)
            (cpu_dir / f"cpu{cpu}/cpufreq/scaling_governor").write_text(governor + "\n")
    if no_turbo is not None:
        (cpu_dir / "intel_pstate").mkdir(exist_ok=True)
        (cpu_dir / "intel_pstate/no_turbo").write_text(no_turbo + "\n")
    thp_dir = sysfs / "kernel/mm/transparent_hugepage"
    thp_dir.mkdir(parents=True, exist_ok=True)
    (thp_dir / "enabled").write_text(thp + "\n")
    (thp_dir / "defrag").write_text("always defer [madvise] never\n")
    return sysfs, procfs


def test_quiet_tuned_machine_is_ok(tmp_path):
    sysfs, procfs = _tree(tmp_path, governor="performance", no_turbo="1")
    check = check_machine([0, 1], sysfs, procfs, processes=QUIET, exclude={99})
    assert not check.busy and check.warnings == []
    assert check.facts["turbo"] == "off" and check.facts["thp_enabled"] == "madvise"
    assert check.facts["thp_defrag"] == "madvise"
    assert "ok" in format_check(check)


def test_busy_process_on_a_pinned_cpu_warns(tmp_path):
    sysfs, procfs = _tree(tmp_path)
    hog = ProcessSample(777, "stress", 98.0, [1])
    elsewhere = ProcessSample(778, "build", 100.0, [2, 3])  # cannot run on the pinned CPUs
    ourselves = ProcessSample(99, "python", 100.0, [0, 1])
    check = check_machine([0, 1], sysfs, procfs, processes=QUIET + [hog, elsewhere, ourselves],
                          exclude={99})
    assert check.busy
    assert len(check.warnings) == 1
    assert "stress (pid 777, 98% CPU, may run on 1)" in check.warnings[0]
    assert [p["pid"] for p in check.facts["busy_processes"]] == [777]
    assert "BUSY" in format_check(check)


def test_busy_process_findings_threshold_and_self():
    procs = [ProcessSample(1, "a", 9.0, [0]), ProcessSample(2, "b", 50.0, [0]),
             ProcessSample(3, "c", 80.0, [0])]
    warnings, listed = busy_process_findings(procs, [0], exclude={3})
    assert [p["pid"] for p in listed] == [2] and "1 busy process" in warnings[0]


def test_load_average():
    assert load_findings("3.50 1.0 0.5 2/300 1", 2)[0][0].startswith("load average 3.50")
    assert load_findings("0.90 1.0 0.5 2/300 1", 2)[0] == []
    assert load_findings(None, 2) == ([], {"load_average": None})
    assert load_findings("garbage", 2)[0] == []


def test_governor_and_turbo(tmp_path):
    sysfs, procfs = _tree(tmp_path, governor="powersave", no_turbo="0",
                          thp="[always] madvise never")
    check = check_machine([0, 1], sysfs, procfs, processes=QUIET, exclude={99})
    assert not check.busy  # tuning, not other work: still a warning
    assert any("powersave on CPU(s) 0-1" in w for w in check.warnings)
    assert any("turbo/boost is on" in n for n in check.notes)
    assert any("enabled=always" in n for n in check.notes)


def test_nothing_exposed_is_said(tmp_path):
    bare = tmp_path / "bare"  # a VM's sysfs without cpufreq, intel_pstate or THP files
    bare.mkdir()
    check = check_machine([0], bare, bare, processes=[], exclude=set())
    assert any("governor: not exposed" in n for n in check.notes)
    assert any("transparent huge pages: not exposed" in n for n in check.notes)
    assert check.facts["turbo"] == "not exposed"


SCENARIO = """\
name: strict
threads: [1]
tables: {sizes: ["1MiB"], dim: 16}
batch_sizes: [8]
kernels: [{kernel: baseline}]
measure: {warmups: 1, batches: 2, repeats: 1}
"""


def test_run_strict_refuses_a_busy_machine(tmp_path):
    sysfs, procfs = _tree(tmp_path, loadavg="9.00 8.0 7.0 9/300 1")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    env = {"HARNESS_SYSFS_ROOT": str(sysfs), "HARNESS_PROCFS_ROOT": str(procfs)}
    out = tmp_path / "res"
    proc = run_harness("run", scenario, "--strict", "--out", out, env=env)
    assert_usage_error(proc, "--strict", "load average 9.00")
    assert not out.exists()  # refused before anything was created


def test_machine_check_command(tmp_path):
    sysfs, procfs = _tree(tmp_path, governor="powersave")
    proc = run_harness("machine", "--check", "--cpus", "0", "--sysfs-root", sysfs,
                       "--procfs-root", procfs)
    assert proc.returncode == 0, proc.stderr
    assert "machine check (CPUs 0)" in proc.stdout and "powersave" in proc.stdout
    assert_usage_error(run_harness("machine", "--check", "--cpus", "x-"), "--cpus")


@pytest.mark.slow
def test_run_on_a_busy_machine_warns_and_records_it(tmp_path):
    """Without --strict the run goes ahead; the terminal and the manifest say it was busy."""
    sysfs, procfs = _tree(tmp_path, loadavg="9.00 8.0 7.0 9/300 1")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    env = {"HARNESS_SYSFS_ROOT": str(sysfs), "HARNESS_PROCFS_ROOT": str(procfs)}
    out = tmp_path / "res"
    proc = run_harness("run", scenario, "--out", out, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert "BUSY" in proc.stderr and "load average 9.00" in proc.stderr
    check = json.loads((out / "manifest.json").read_text())["machine_check"]
    assert check["busy"] is True and check["facts"]["load_average"] == [9.0, 8.0, 7.0]
    assert any("load average 9.00" in w for w in check["warnings"])

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakes import SKYLAKE_SP_2S, make_machine_tree
from harness.machine.detect import describe_machine, format_machine, parse_cpuinfo, parse_meminfo
from harness.machine.uarch import identify

from cli import run_harness


def test_two_socket_skylake_sp(skylake):
    m = skylake
    assert (m.vendor, m.family, m.model) == ("GenuineIntel", 6, 0x55)
    assert m.uarch == "skylake-sp"
    assert (m.logical_cpus, m.physical_cores, m.sockets, m.smt_siblings) == (112, 56, 2, 2)
    assert m.numa_nodes == {"0": "0-27,56-83", "1": "28-55,84-111"}
    assert m.llc_bytes == 39424 * 1024 and m.llc_ways == 11 and m.line_bytes == 64
    assert m.llc_instances == 2 and m.llc_shared_cpus == "0-27,56-83"
    assert [(c.label, c.size_bytes, c.instances) for c in m.caches] == [
        ("L1d", 32768, 56), ("L1i", 32768, 56), ("L2", 1 << 20, 56), ("L3", 39424 * 1024, 2)]
    assert m.mem_total_bytes == 384 * 2**30
    assert m.governor == "performance" and m.turbo == "on"
    assert m.perf.paranoid == 2


def test_zen4_llc_is_one_ccd(zen4):
    assert zen4.uarch == "zen4"
    assert zen4.llc_bytes == 32 * 2**20 and zen4.llc_instances == 12
    assert zen4.llc_shared_cpus == "0-7,96-103"
    assert zen4.physical_cores == 96 and zen4.smt_siblings == 2 and zen4.sockets == 1


def test_vm_hypervisor_flag(zen3_vm):
    assert zen3_vm.uarch == "zen3" and zen3_vm.hypervisor
    assert zen3_vm.smt_siblings == 1


@pytest.mark.parametrize("vendor,family,model,stepping,expected", [
    ("GenuineIntel", 6, 0x55, 4, ("skylake-sp", "Skylake-SP")),
    ("GenuineIntel", 6, 0x55, 7, ("skylake-sp", "Cascade Lake-SP")),
    ("GenuineIntel", 6, 0x6A, 6, ("icelake-sp", "Ice Lake-SP")),
    ("GenuineIntel", 6, 0x8F, 8, ("sapphirerapids", "Sapphire Rapids")),
    ("AuthenticAMD", 25, 0x01, 1, ("zen3", "Zen 3")),
    ("AuthenticAMD", 25, 0x21, 0, ("zen3", "Zen 3")),
    ("AuthenticAMD", 25, 0x11, 1, ("zen4", "Zen 4")),
    ("AuthenticAMD", 25, 0xA0, 1, ("zen4", "Zen 4")),
    ("AuthenticAMD", 23, 0x31, 0, ("zen2", "Zen 2")),
    # Linux's mapfile.csv: family 0x19 is Zen 3 only at 0x00-0x0F, 0x20-0x2F, 0x40-0x5F.
    ("AuthenticAMD", 25, 0x0F, 0, ("zen3", "Zen 3")),
    ("AuthenticAMD", 25, 0x2F, 0, ("zen3", "Zen 3")),
    ("AuthenticAMD", 25, 0x30, 0, ("zen4", "Zen 4")),
    ("AuthenticAMD", 25, 0x3F, 0, ("zen4", "Zen 4")),
    ("AuthenticAMD", 25, 0x44, 1, ("zen3", "Zen 3")),
    ("AuthenticAMD", 25, 0x50, 0, ("zen3", "Zen 3")),
    ("AuthenticAMD", 25, 0x5F, 0, ("zen3", "Zen 3")),
    ("AuthenticAMD", 25, 0x60, 0, ("zen4", "Zen 4")),
    ("AuthenticAMD", 23, 0x2F, 0, ("zen", "Zen/Zen+")),
    ("AuthenticAMD", 26, 0x02, 0, ("zen5", "Zen 5")),
])
def test_identify(vendor, family, model, stepping, expected):
    assert identify(vendor, family, model, stepping) == expected


def test_unknown_cpu():
    assert identify("GenuineIntel", 6, 0x01, 0)[0] == "unknown"
    assert identify("CentaurHauls", 7, 1)[0] == "unknown"
    assert identify("GenuineIntel", None, None) == ("unknown", "unknown")


def test_missing_perf_is_described_not_raised(tmp_path):
    sysfs, procfs = make_machine_tree(tmp_path, SKYLAKE_SP_2S)
    m = describe_machine(sysfs, procfs, perf="no-such-perf-binary")
    assert m.perf.version is None and "not found" in m.perf.error
    assert "unavailable" in format_machine(m)


def test_usable_cpus_restrict(tmp_path):
    sysfs, procfs = make_machine_tree(tmp_path, SKYLAKE_SP_2S)
    m = describe_machine(sysfs, procfs, usable={0, 1, 2, 56})
    assert m.usable_cpus == "0-2,56"


def test_roundtrip_dict(skylake):
    from harness.machine.detect import Machine

    again = Machine.from_dict(json.loads(json.dumps(skylake.to_dict())))
    assert again == skylake


def test_parsers():
    info = parse_cpuinfo("processor : 0\nvendor_id : X\n\nprocessor : 1\nvendor_id : Y\n")
    assert info["processors"] == 2 and info["vendor_id"] == "X"
    assert parse_meminfo("MemTotal: 10 kB\nHugePages_Total: 3\n") == {
        "MemTotal": 10240, "HugePages_Total": 3}


def test_this_machine_is_described():
    m = describe_machine()
    assert m.logical_cpus >= 1 and m.usable_cpus
    assert format_machine(m)


def test_cli_machine_json_with_injected_roots(tmp_path, repo):
    sysfs, procfs = make_machine_tree(tmp_path, SKYLAKE_SP_2S)
    out = run_harness("machine", "--json", "--sysfs-root", sysfs, "--procfs-root", procfs,
                      cwd=repo)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["uarch"] == "skylake-sp" and data["llc_bytes"] == 40370176
    assert {"llc_ways", "line_bytes", "perf", "caches", "numa_nodes"} <= data.keys()
    proc = run_harness("machine", "--sysfs-root", sysfs, "--procfs-root", procfs, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "skylake-sp" in text and "38.5 MiB" in text


def _probe(status, detail, perf="cpu/event=0x76,umask=0x00/", scope="task"):
    return {"perf": perf, "scope": scope, "status": status, "detail": detail}


def test_hardware_pmu_is_told_from_sysfs_else_from_perf():
    from harness.counters.support import hardware_pmu

    probed = {"cycles": _probe("not-supported", "event syntax error: 'cpu/event=0x76'"),
              "task_clock": _probe("counted", "", perf="task-clock")}
    vm = hardware_pmu(["breakpoint", "software", "tracepoint"], probed)
    assert vm["present"] is False and "has no cpu PMU, only breakpoint" in vm["how"]
    assert hardware_pmu(["cpu", "software"], probed) == {
        "present": True, "how": "/sys/bus/event_source/devices/ has cpu"}
    assert hardware_pmu(["cpu_atom", "cpu_core"], probed)["present"] is True
    told_by_perf = hardware_pmu(None, probed)
    assert told_by_perf["present"] is False and "perf rejects every hardware" in told_by_perf["how"]
    counted = {"cycles": _probe("counted", "")}
    assert hardware_pmu(None, counted)["present"] is True
    assert hardware_pmu(None, {"cycles": _probe("not-counted", "")})["present"] is None


def test_cli_machine_says_there_is_no_pmu_before_the_detail(tmp_path, repo):
    sysfs, procfs = make_machine_tree(tmp_path, SKYLAKE_SP_2S)
    for source in ("software", "tracepoint", "breakpoint"):
        (sysfs / "bus/event_source/devices" / source).mkdir(parents=True)
    fake = {"cycles": "unknown", "instructions": "unknown"}
    env = {**os.environ, "HARNESS_PERF": str(Path(__file__).parent / "fake_perf.py"),
           "FAKE_PERF_EVENTS": json.dumps(fake)}
    out = subprocess.run([sys.executable, "-m", "harness", "machine",
                          "--sysfs-root", str(sysfs), "--procfs-root", str(procfs)],
                         capture_output=True, text=True, cwd=repo, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "this machine exposes no hardware PMU (/sys/bus/event_source/devices/ has no " \
           "cpu PMU, only breakpoint, software, tracepoint)" in text
    assert text.index("exposes no hardware PMU") < text.index("event syntax error")

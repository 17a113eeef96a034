"""Fake sysfs/procfs trees for machines we do not have, written into a temp dir.

``make_machine_tree(root, spec)`` writes the files ``harness.machine.detect`` reads:
cpu*/topology, cpu*/cache/index*, node*/cpulist, cpuinfo, meminfo, and the perf
and THP knobs. Specs below describe a two-socket Skylake-SP and a Zen 4 server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.machine.cpulist import format_cpulist


@dataclass
class FakeMachine:
    vendor: str
    family: int
    model: int
    stepping: int
    model_name: str
    sockets: int
    cores_per_socket: int
    threads_per_core: int
    l1d_kib: int
    l1i_kib: int
    l2_kib: int
    l2_ways: int
    llc_kib: int
    llc_ways: int
    cores_per_llc: int           # physical cores sharing one LLC instance
    numa_per_socket: int = 1
    mem_total_kib: int = 384 * 2**20
    mem_available_kib: int = 370 * 2**20
    paranoid: int = 2
    flags: list[str] = field(default_factory=lambda: ["fpu", "sse2", "avx2"])

    @property
    def cores(self) -> int:
        return self.sockets * self.cores_per_socket

    def cpu(self, core: int, thread: int) -> int:
        """Linux numbering: all first threads of every core, then the siblings."""
        return thread * self.cores + core

    def socket_of_core(self, core: int) -> int:
        return core // self.cores_per_socket


SKYLAKE_SP_2S = FakeMachine(
    vendor="GenuineIntel", family=6, model=0x55, stepping=4,
    model_name="Intel(R) Xeon(R) Platinum 8180 CPU @ 2.50GHz",
    sockets=2, cores_per_socket=28, threads_per_core=2,
    l1d_kib=32, l1i_kib=32, l2_kib=1024, l2_ways=16, llc_kib=39424, llc_ways=11,
    cores_per_llc=28, flags=["fpu", "sse2", "avx2", "avx512f"])

ZEN4_1S = FakeMachine(
    vendor="AuthenticAMD", family=25, model=0x11, stepping=1,
    model_name="AMD EPYC 9654 96-Core Processor",
    sockets=1, cores_per_socket=96, threads_per_core=2,
    l1d_kib=32, l1i_kib=32, l2_kib=1024, l2_ways=8, llc_kib=32768, llc_ways=16,
    cores_per_llc=8, mem_total_kib=768 * 2**20, mem_available_kib=750 * 2**20,
    flags=["fpu", "sse2", "avx2", "avx512f"])

ZEN3_VM_2CPU = FakeMachine(
    vendor="AuthenticAMD", family=25, model=0x01, stepping=1, model_name="AMD EPYC",
    sockets=1, cores_per_socket=2, threads_per_core=1,
    l1d_kib=32, l1i_kib=32, l2_kib=512, l2_ways=8, llc_kib=32768, llc_ways=16,
    cores_per_llc=2, mem_total_kib=24 * 2**20, mem_available_kib=23 * 2**20,
    flags=["fpu", "sse2", "avx2", "hypervisor"])


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def make_machine_tree(root: Path, m: FakeMachine) -> tuple[Path, Path]:
    """Write fake sysfs and procfs trees under ``root``; return (sysfs, procfs)."""
    sysfs, procfs = root / "sys", root / "proc"
    cpu_dir = sysfs / "devices/system/cpu"
    n_cpus = m.cores * m.threads_per_core
    _write(cpu_dir / "online", format_cpulist(range(n_cpus)))
    cpuinfo = []
    for core in range(m.cores):
        siblings = [m.cpu(core, t) for t in range(m.threads_per_core)]
        llc_first = core // m.cores_per_llc * m.cores_per_llc
        llc_cpus = [m.cpu(c, t) for c in range(llc_first, llc_first + m.cores_per_llc)
                    for t in range(m.threads_per_core)]
        for cpu in siblings:
            d = cpu_dir / f"cpu{cpu}"
            _write(d / "topology/physical_package_id", str(m.socket_of_core(core)))
            _write(d / "topology/core_id", str(core % m.cores_per_socket))
            _write(d / "topology/thread_siblings_list", format_cpulist(siblings))
            _write(d / "topology/core_cpus_list", format_cpulist(siblings))
            caches = [(1, "Data", m.l1d_kib, 8, siblings), (1, "Instruction", m.l1i_kib, 8, siblings),
                      (2, "Unified", m.l2_kib, m.l2_ways, siblings),
                      (3, "Unified", m.llc_kib, m.llc_ways, llc_cpus)]
            for i, (level, ctype, kib, ways, shared) in enumerate(caches):
                c = d / f"cache/index{i}"
                _write(c / "level", str(level))
                _write(c / "type", ctype)
                _write(c / "size", f"{kib}K")
                _write(c / "ways_of_associativity", str(ways))
                _write(c / "coherency_line_size", "64")
                _write(c / "number_of_sets", str(kib * 1024 // 64 // ways))
                _write(c / "shared_cpu_list", format_cpulist(shared))
            _write(d / "cpufreq/scaling_governor", "performance")
    for cpu in range(n_cpus):
        cpuinfo.append("\n".join([
            f"processor\t: {cpu}", f"vendor_id\t: {m.vendor}", f"cpu family\t: {m.family}",
            f"model\t\t: {m.model}", f"model name\t: {m.model_name}",
            f"stepping\t: {m.stepping}", f"flags\t\t: {' '.join(m.flags)}"]))
    nodes = m.sockets * m.numa_per_socket
    cores_per_node = m.cores // nodes
    for node in range(nodes):
        cores = range(node * cores_per_node, (node + 1) * cores_per_node)
        _write(sysfs / f"devices/system/node/node{node}/cpulist",
               format_cpulist(m.cpu(c, t) for c in cores for t in range(m.threads_per_core)))
    if m.vendor == "GenuineIntel":
        _write(cpu_dir / "intel_pstate/no_turbo", "0")
    _write(sysfs / "kernel/mm/transparent_hugepage/enabled", "always [madvise] never")
    _write(procfs / "cpuinfo", "\n\n".join(cpuinfo))
    _write(procfs / "meminfo", f"MemTotal:       {m.mem_total_kib} kB\n"
                               f"MemFree:        {m.mem_available_kib} kB\n"
                               f"MemAvailable:   {m.mem_available_kib} kB")
    _write(procfs / "sys/kernel/perf_event_paranoid", str(m.paranoid))
    _write(procfs / "sys/kernel/hostname", f"fake-{m.family}-{m.model:x}")
    _write(procfs / "sys/kernel/osrelease", "6.1.0-fake")
    return sysfs, procfs

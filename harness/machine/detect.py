"""Describe the machine: CPU, topology, caches, memory and perf, from sysfs and procfs.

Only describes; deciding what to run where is ``harness.execute.plan``'s job. sysfs is the
source of truth for cache geometry. The sysfs and procfs roots are injectable
(arguments, or ``HARNESS_SYSFS_ROOT`` / ``HARNESS_PROCFS_ROOT``) so tests can hand
in a two-socket Skylake-SP or a Zen 4 topology; py-cpuinfo and psutil fill in what
those trees lack, and every such fill-in is named in ``sources``.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.machine.cgroup import read_cgroup_memory
from harness.machine.cpulist import format_cpulist, parse_cpulist
from harness.machine.numa import read_numa_balancing
from harness.scenario.sizes import format_bytes
from harness.machine.uarch import identify


@dataclass
class Cache:
    """One cache level/type; ``size_bytes`` is one instance, shared by ``shared_cpus``."""

    level: int
    type: str
    size_bytes: int
    ways: int | None
    line_bytes: int | None
    sets: int | None
    shared_cpus: str
    instances: int

    @property
    def label(self) -> str:
        suffix = {"Data": "d", "Instruction": "i"}.get(self.type, "")
        return f"L{self.level}{suffix}"


@dataclass
class CpuTopology:
    """Where one logical CPU sits: its package (socket), and the CPUs of its core."""

    cpu: int
    socket: int
    core_cpus: str


@dataclass
class PerfInfo:
    path: str | None
    version: str | None
    paranoid: int | None
    error: str | None = None


@dataclass
class Machine:
    hostname: str
    kernel: str
    vendor: str
    model_name: str
    family: int | None
    model: int | None
    stepping: int | None
    uarch: str
    codename: str
    hypervisor: bool
    logical_cpus: int
    online_cpus: str
    usable_cpus: str
    physical_cores: int
    sockets: int
    smt_siblings: int
    numa_nodes: dict[str, str]
    mem_total_bytes: int | None
    mem_available_bytes: int | None
    caches: list[Cache]
    llc_bytes: int | None
    llc_ways: int | None
    line_bytes: int | None
    llc_shared_cpus: str | None
    llc_instances: int | None
    governor: str
    turbo: str
    transparent_hugepages: str
    perf: PerfInfo
    topology: list[CpuTopology] = field(repr=False)
    sources: dict[str, str] = field(default_factory=dict)
    cgroup_memory_limit_bytes: int | None = None
    hugepages_free: int | None = None       # the hugetlbfs pool (default page size)
    hugepage_bytes: int | None = None
    numa_balancing: str | None = None       # automatic NUMA balancing (may move pages)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Machine":
        data = dict(data)
        data["caches"] = [Cache(**c) for c in data["caches"]]
        data["topology"] = [CpuTopology(**t) for t in data["topology"]]
        data["perf"] = PerfInfo(**data["perf"])
        return cls(**data)

    @property
    def llc(self) -> Cache | None:
        levels = [c for c in self.caches if c.type in ("Unified", "Data")]
        return max(levels, key=lambda c: c.level) if levels else None

    def identity(self) -> dict:
        """What must match for two results to count as the same machine."""
        return {"model_name": self.model_name, "uarch": self.uarch,
                "llc_bytes": self.llc_bytes, "logical_cpus": self.logical_cpus,
                "sockets": self.sockets}


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _sysfs_size(text: str | None) -> int | None:
    """sysfs cache sizes: "32K", "39424K", "1M" (binary units)."""
    if not text:
        return None
    m = re.fullmatch(r"(\d+)\s*([KMG]?)", text.strip(), re.I)
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[m.group(2).upper()]


def parse_cpuinfo(text: str) -> dict:
    """First processor block of /proc/cpuinfo, plus the count of processors."""
    info: dict = {"processors": 0}
    first = True
    for line in text.splitlines():
        if not line.strip():
            if info["processors"]:
                first = False
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            info["processors"] += 1
        elif first:
            info[key] = value
    return info


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo values in bytes."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            scale = 1024 if len(parts) > 1 and parts[1] == "kB" else 1
            values[key.strip()] = int(parts[0]) * scale
    return values


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def probe_perf(perf: str | None, procfs: Path) -> PerfInfo:
    """Where perf is, its version and perf_event_paranoid; never raises."""
    paranoid = _read_int(procfs / "sys/kernel/perf_event_paranoid")
    name = perf or os.environ.get("HARNESS_PERF") or "perf"
    path = shutil.which(name)
    if path is None:
        return PerfInfo(None, None, paranoid, f"{name!r} not found on PATH")
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return PerfInfo(path, None, paranoid, f"'{path} --version' failed: {exc}")
    m = re.search(r"version\s+(\S+)", proc.stdout)
    if proc.returncode != 0 or not m:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return PerfInfo(path, None, paranoid, f"'{path} --version' said: {tail[0]}")
    return PerfInfo(path, m.group(1), paranoid)


def _read_topology(cpu_dir: Path, online: list[int]) -> list[CpuTopology]:
    topology = []
    for cpu in online:
        topo = cpu_dir / f"cpu{cpu}" / "topology"
        socket = _read_int(topo / "physical_package_id")
        core_cpus = _read(topo / "core_cpus_list") or _read(topo / "thread_siblings_list")
        topology.append(CpuTopology(cpu, socket if socket is not None and socket >= 0 else 0,
                                    core_cpus or str(cpu)))
    return topology


def _read_caches(cpu_dir: Path, online: list[int], first_cpu: int | None) -> list[Cache]:
    """Group cache/index* of every CPU by (level, type); count distinct instances."""
    instances: dict[tuple[int, str], dict[str, dict]] = {}
    for cpu in online:
        for index in sorted((cpu_dir / f"cpu{cpu}" / "cache").glob("index[0-9]*")):
            level = _read_int(index / "level")
            ctype = _read(index / "type")
            size = _sysfs_size(_read(index / "size"))
            if level is None or ctype is None or size is None:
                continue
            shared = _read(index / "shared_cpu_list") or str(cpu)
            shared = format_cpulist(parse_cpulist(shared))
            instances.setdefault((level, ctype), {})[shared] = {
                "size_bytes": size,
                "ways": _read_int(index / "ways_of_associativity"),
                "line_bytes": _read_int(index / "coherency_line_size"),
                "sets": _read_int(index / "number_of_sets"),
            }
    caches = []
    order = {"Data": 0, "Instruction": 1, "Unified": 2}
    for (level, ctype), by_shared in sorted(instances.items(),
                                            key=lambda kv: (kv[0][0], order.get(kv[0][1], 3))):
        # Describe the instance that holds the first usable CPU (the one a run pins to).
        shared = next((s for s in by_shared if first_cpu in parse_cpulist(s)), next(iter(by_shared)))
        caches.append(Cache(level, ctype, shared_cpus=shared, instances=len(by_shared),
                            **by_shared[shared]))
    return caches


def _numa_nodes(sysfs: Path) -> dict[str, str]:
    nodes = {}
    for node in sorted((sysfs / "devices/system/node").glob("node[0-9]*"),
                       key=lambda p: int(p.name[4:])):
        cpus = _read(node / "cpulist")
        if cpus:
            nodes[node.name[4:]] = cpus
    return nodes


def _turbo(cpu_dir: Path) -> str:
    no_turbo = _read(cpu_dir / "intel_pstate/no_turbo")
    if no_turbo is not None:
        return "off" if no_turbo == "1" else "on"
    boost = _read(cpu_dir / "cpufreq/boost")
    if boost is not None:
        return "on" if boost == "1" else "off"
    return "unknown (not exposed)"


def describe_machine(sysfs_root: str | os.PathLike | None = None,
                     procfs_root: str | os.PathLike | None = None,
                     perf: str | None = None,
                     usable: set[int] | None = None) -> Machine:
    """Describe this machine, or the one whose sysfs/procfs trees are given.

    ``usable`` is the set of CPUs this process may run on; by default the real
    affinity mask when reading the real trees, and every online CPU otherwise.
    """
    sysfs_root = sysfs_root or os.environ.get("HARNESS_SYSFS_ROOT") or "/sys"
    procfs_root = procfs_root or os.environ.get("HARNESS_PROCFS_ROOT") or "/proc"
    real = str(sysfs_root) == "/sys" and str(procfs_root) == "/proc"
    sysfs, procfs = Path(sysfs_root), Path(procfs_root)
    cpu_dir = sysfs / "devices/system/cpu"
    sources: dict[str, str] = {"caches": "sysfs", "topology": "sysfs"}

    cpuinfo = parse_cpuinfo(_read(procfs / "cpuinfo") or "")
    sources["cpu"] = "procfs"
    if "model name" not in cpuinfo and real:
        import cpuinfo as py_cpuinfo  # slow (spawns a subprocess): only when procfs lacks it

        info = py_cpuinfo.get_cpu_info()
        cpuinfo.update({"vendor_id": info.get("vendor_id_raw", "unknown"),
                        "model name": info.get("brand_raw", "unknown"),
                        "cpu family": info.get("family"), "model": info.get("model"),
                        "stepping": info.get("stepping"),
                        "flags": " ".join(info.get("flags", []))})
        sources["cpu"] = "py-cpuinfo"
    vendor = cpuinfo.get("vendor_id", "unknown")
    family = _int_or_none(cpuinfo.get("cpu family"))
    model = _int_or_none(cpuinfo.get("model"))
    stepping = _int_or_none(cpuinfo.get("stepping"))
    uarch, codename = identify(vendor, family, model, stepping)
    flags = set(str(cpuinfo.get("flags", "")).split())

    online_text = _read(cpu_dir / "online")
    if online_text:
        online = parse_cpulist(online_text)
    else:
        online = sorted(int(p.name[3:]) for p in cpu_dir.glob("cpu[0-9]*"))
        sources["topology"] = "sysfs (cpu* directories; no 'online' file)"
    if not online:
        import psutil

        online = list(range(psutil.cpu_count(logical=True) or 1))
        sources["topology"] = "psutil (no sysfs cpu directories)"
    if usable is None:
        usable = set(os.sched_getaffinity(0)) if real else set(online)
    usable_cpus = sorted(set(online) & set(usable))

    topology = _read_topology(cpu_dir, online)
    cores = {t.core_cpus for t in topology}
    sockets = {t.socket for t in topology}
    smt = max((len(parse_cpulist(c)) for c in cores), default=1)

    caches = _read_caches(cpu_dir, online, usable_cpus[0] if usable_cpus else None)
    data_caches = [c for c in caches if c.type in ("Unified", "Data")]
    llc = max(data_caches, key=lambda c: c.level) if data_caches else None

    meminfo = parse_meminfo(_read(procfs / "meminfo") or "")
    mem_total, mem_available = meminfo.get("MemTotal"), meminfo.get("MemAvailable")
    sources["memory"] = "procfs"
    if mem_total is None and real:
        import psutil

        vm = psutil.virtual_memory()
        mem_total, mem_available = vm.total, vm.available
        sources["memory"] = "psutil"

    cgroup = read_cgroup_memory(sysfs, procfs)
    if cgroup.limit_bytes is not None and cgroup.usage_bytes is not None and mem_available:
        # In a container the cgroup's limit, not the host's free memory, is what holds.
        headroom = max(0, cgroup.limit_bytes - cgroup.usage_bytes)
        if headroom < mem_available:
            mem_available = headroom
            sources["memory"] += " (available capped by the memory cgroup's limit)"

    thp = _read(sysfs / "kernel/mm/transparent_hugepage/enabled") or "unknown"
    if m := re.search(r"\[(\w+)\]", thp):
        thp = m.group(1)

    return Machine(
        hostname=_read(procfs / "sys/kernel/hostname") or platform.node(),
        kernel=_read(procfs / "sys/kernel/osrelease") or platform.release(),
        vendor=vendor, model_name=cpuinfo.get("model name", "unknown"),
        family=family, model=model, stepping=stepping, uarch=uarch, codename=codename,
        hypervisor="hypervisor" in flags,
        logical_cpus=len(online), online_cpus=format_cpulist(online),
        usable_cpus=format_cpulist(usable_cpus),
        physical_cores=len(cores), sockets=len(sockets), smt_siblings=smt,
        numa_nodes=_numa_nodes(sysfs),
        mem_total_bytes=mem_total, mem_available_bytes=mem_available,
        caches=caches,
        llc_bytes=llc.size_bytes if llc else None,
        llc_ways=llc.ways if llc else None,
        line_bytes=llc.line_bytes if llc else None,
        llc_shared_cpus=llc.shared_cpus if llc else None,
        llc_instances=llc.instances if llc else None,
        governor=_read(cpu_dir / "cpu0/cpufreq/scaling_governor") or "unknown (not exposed)",
        turbo=_turbo(cpu_dir),
        transparent_hugepages=thp,
        perf=probe_perf(perf, procfs),
        topology=topology,
        sources=sources,
        cgroup_memory_limit_bytes=cgroup.limit_bytes,
        hugepages_free=meminfo.get("HugePages_Free"),
        hugepage_bytes=meminfo.get("Hugepagesize"),
        numa_balancing=read_numa_balancing(procfs),
    )


def available_memory_bytes(sysfs_root: str | os.PathLike = "/sys",
                           procfs_root: str | os.PathLike = "/proc") -> int | None:
    """Memory available right now: MemAvailable, capped by the cgroup's headroom."""
    available = parse_meminfo(_read(Path(procfs_root) / "meminfo") or "").get("MemAvailable")
    cgroup = read_cgroup_memory(sysfs_root, procfs_root)
    if cgroup.limit_bytes is not None and cgroup.usage_bytes is not None:
        headroom = max(0, cgroup.limit_bytes - cgroup.usage_bytes)
        available = headroom if available is None else min(available, headroom)
    return available


def format_machine(m: Machine) -> str:
    """The human-readable description ``harness machine`` prints."""
    def plural(n, word):
        return f"{n} {word}{'' if n == 1 else 's'}"

    rows = [
        ("host", f"{m.hostname} (Linux {m.kernel})"),
        ("cpu", f"{m.model_name} ({m.vendor} family {m.family} model {m.model} "
                f"stepping {m.stepping})"),
        ("uarch", f"{m.uarch} ({m.codename})"),
        ("cpus", f"{m.logical_cpus} logical, {m.physical_cores} physical cores, "
                 f"{plural(m.sockets, 'socket')}, {m.smt_siblings} thread(s) per core, "
                 f"{plural(len(m.numa_nodes) or 1, 'NUMA node')}"),
        ("usable cpus", m.usable_cpus),
        ("memory", f"{format_bytes(m.mem_total_bytes or 0)} total, "
                   f"{format_bytes(m.mem_available_bytes or 0)} available"
                   + (f", cgroup limit {format_bytes(m.cgroup_memory_limit_bytes)}"
                      if m.cgroup_memory_limit_bytes else "")),
    ]
    for i, c in enumerate(m.caches):
        desc = (f"{c.label:<4}{format_bytes(c.size_bytes):>10}  {c.ways or '?'}-way  "
                f"{c.line_bytes or '?'} B lines  shared by CPUs {c.shared_cpus}  "
                f"(x{c.instances})")
        rows.append(("caches" if i == 0 else "", desc))
    if m.llc_bytes:
        rows.append(("llc", f"{format_bytes(m.llc_bytes)} ({m.llc_bytes} bytes), "
                            f"{m.llc_ways} ways, {m.line_bytes} B lines, "
                            f"{m.llc_instances} instance(s)"))
    else:
        rows.append(("llc", "not found in sysfs"))
    for node, cpus in m.numa_nodes.items():
        rows.append(("numa" if node == next(iter(m.numa_nodes)) else "", f"node {node}: CPUs {cpus}"))
    rows.append(("numa balancing", str(m.numa_balancing)))
    rows += [
        ("governor", m.governor),
        ("turbo", m.turbo),
        ("huge pages", f"transparent: {m.transparent_hugepages}; hugetlbfs: "
                       + (f"{m.hugepages_free} free of {format_bytes(m.hugepage_bytes)}"
                          if m.hugepage_bytes else "unknown")),
        ("virtualised", "yes (hypervisor CPU flag)" if m.hypervisor else "no"),
    ]
    p = m.perf
    if p.version:
        perf = f"{p.path}, version {p.version}, perf_event_paranoid={p.paranoid}"
    else:
        perf = f"unavailable: {p.error} (perf_event_paranoid={p.paranoid})"
    rows.append(("perf", perf))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

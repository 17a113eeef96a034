"""The memory cgroup this process runs in: its limit, usage and OOM kills.

In a container /proc/meminfo shows the host's memory; the cgroup's limit is what
the kernel enforces, and its OOM-kill counter tells a worker killed by the OOM
killer from one killed by hand. Handles cgroup v2 (``memory.max``,
``memory.events``) and v1 (``memory.limit_in_bytes``, ``memory.oom_control``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_UNLIMITED = 1 << 60  # v1 reports "no limit" as a huge page-rounded number


@dataclass
class CgroupMemory:
    path: str | None
    limit_bytes: int | None   # None: no limit
    usage_bytes: int | None
    oom_kills: int | None


def parse_proc_cgroup(text: str) -> tuple[str | None, str | None]:
    """(v2 path, v1 memory path) from /proc/self/cgroup."""
    v2 = v1 = None
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, path = parts
        if hier == "0" and controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v2, v1


def parse_keyed(text: str) -> dict[str, int]:
    """'key value' lines (memory.events, memory.oom_control)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _limit(text: str | None) -> int | None:
    if text is None or text == "max" or not text.isdigit():
        return None
    value = int(text)
    return None if value >= _UNLIMITED else value


def read_cgroup_memory(sysfs_root: str | Path = "/sys", procfs_root: str | Path = "/proc",
                       ) -> CgroupMemory:
    """Never raises: what cannot be read is None."""
    sysfs, procfs = Path(sysfs_root), Path(procfs_root)
    v2, v1 = parse_proc_cgroup(_read(procfs / "self/cgroup") or "")
    base = sysfs / "fs/cgroup"
    if v1 is not None and (base / "memory").is_dir():
        d = base / "memory" / v1.lstrip("/")
        if not d.is_dir():  # a container sees its own cgroup at the mount's root
            d = base / "memory"
        oom = parse_keyed(_read(d / "memory.oom_control") or "").get("oom_kill")
        usage = _read(d / "memory.usage_in_bytes")
        # A limit set on a parent counts too: memory.stat's hierarchical_memory_limit.
        limits = [_limit(_read(d / "memory.limit_in_bytes")),
                  _limit(str(parse_keyed(_read(d / "memory.stat") or "")
                             .get("hierarchical_memory_limit", "")))]
        return CgroupMemory(str(d), min((x for x in limits if x is not None), default=None),
                            int(usage) if usage and usage.isdigit() else None, oom)
    if v2 is not None:
        root = base
        d = base / v2.lstrip("/")
        if not (d / "memory.max").exists() and (base / "unified").is_dir():
            root = base / "unified"
            d = root / v2.lstrip("/")
        if not d.is_dir():  # a container sees its own cgroup at the mount's root
            d = root
        oom = parse_keyed(_read(d / "memory.events") or "").get("oom_kill")
        usage = _read(d / "memory.current")
        # The tightest memory.max of the cgroup and its ancestors is the one enforced.
        limits, node = [], d
        while True:
            limits.append(_limit(_read(node / "memory.max")))
            if node == root or root not in node.parents:
                break
            node = node.parent
        return CgroupMemory(str(d), min((x for x in limits if x is not None), default=None),
                            int(usage) if usage and usage.isdigit() else None, oom)
    return CgroupMemory(None, None, None, None)

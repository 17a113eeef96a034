"""NUMA: the nodes of a machine, automatic balancing, and where a table's pages live.

Pure parsers with injectable roots, so tests hand in a two-socket tree:

- ``read_nodes(sysfs)``: ``{node: [cpus]}`` from ``devices/system/node/node*/cpulist``;
- ``read_numa_balancing(procfs)``: ``/proc/sys/kernel/numa_balancing`` (automatic
  balancing may migrate pages during a run; the manifest records its state);
- ``parse_numa_maps(text)`` / ``pages_at(text, address)``: ``/proc/<pid>/numa_maps``,
  pages per node of the mapping that holds an address;
- ``resolve_placement(name, cpus, nodes)``: what ``memory: {placement: ...}`` means
  on this machine (a policy and its nodes), or why it cannot be honoured here.

Sample numa_maps lines this parser accepts (policy, then key=value fields)::

    7f2a4c000000 bind:1 anon=262144 dirty=262144 active=0 N1=262144 kernelpagesize_kB=4
    7f2a4c000000 interleave:0-1 anon=1024 dirty=1024 N0=512 N1=512 kernelpagesize_kB=2048
    55c74858c000 default file=/usr/bin/head mapped=2 N0=2 kernelpagesize_kB=4
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.machine.cpulist import format_cpulist, parse_cpulist

PLACEMENT_PATTERN = r"^(local|remote|interleave|node:[0-9]{1,4})$"
_BALANCING = {"0": "off", "1": "on (NUMA_BALANCING_NORMAL)",
              "2": "memory tiering (NUMA_BALANCING_MEMORY_TIERING)",
              "3": "on, with memory tiering"}


def read_nodes(sysfs: str | Path = "/sys") -> dict[int, list[int]]:
    """NUMA nodes that hold CPUs, each with its CPUs; {} where sysfs has no node dir."""
    nodes = {}
    base = Path(sysfs) / "devices/system/node"
    for node in sorted(base.glob("node[0-9]*"), key=lambda p: int(p.name[4:])):
        try:
            text = (node / "cpulist").read_text().strip()
        except OSError:
            continue
        if text:
            nodes[int(node.name[4:])] = parse_cpulist(text)
    return nodes


def nodes_from_machine(numa_nodes: dict[str, str]) -> dict[int, list[int]]:
    """``Machine.numa_nodes`` ({"0": "0-27,56-83"}) as {0: [0, ..]}."""
    return {int(k): parse_cpulist(v) for k, v in numa_nodes.items()}


def read_numa_balancing(procfs: str | Path = "/proc") -> str:
    """Automatic NUMA balancing's state, in words ('unknown (...)' when unreadable)."""
    path = Path(procfs) / "sys/kernel/numa_balancing"
    try:
        raw = path.read_text().strip()
    except FileNotFoundError:
        return "unknown (no sys/kernel/numa_balancing: kernel without NUMA balancing)"
    except OSError as exc:
        return f"unknown ({path}: {exc.strerror})"
    return _BALANCING.get(raw, f"unknown value {raw!r}")


@dataclass
class MapsEntry:
    """One line of numa_maps: a mapping's start, its policy, pages per node."""

    start: int
    policy: str
    pages_by_node: dict[int, int] = field(default_factory=dict)
    page_bytes: int | None = None
    kind: str = ""  # anon, heap, stack, file=...


def parse_numa_maps(text: str) -> list[MapsEntry]:
    """Every mapping of a numa_maps text, in address order; ValueError quotes a bad line."""
    entries = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not re.fullmatch(r"[0-9a-f]+", parts[0]):
            raise ValueError(f"not a numa_maps line: {line[:120]!r}")
        entry = MapsEntry(int(parts[0], 16), parts[1])
        for item in parts[2:]:
            key, eq, value = item.partition("=")
            if re.fullmatch(r"N[0-9]+", key) and value.isdigit():
                entry.pages_by_node[int(key[1:])] = int(value)
            elif key == "kernelpagesize_kB" and value.isdigit():
                entry.page_bytes = int(value) * 1024
            elif key in ("anon", "file") and not entry.kind:
                entry.kind = key if key == "anon" else f"file={value}"
            elif not eq and key in ("heap", "stack", "huge"):
                entry.kind = entry.kind or key
        entries.append(entry)
    return sorted(entries, key=lambda e: e.start)


def pages_at(text: str, address: int) -> MapsEntry | None:
    """The mapping holding ``address``: the one starting last at or below it.

    numa_maps gives starts only; for an address that is mapped (a live array), the
    mapping with the greatest start not above it is the one that holds it.
    """
    below = [e for e in parse_numa_maps(text) if e.start <= address]
    return below[-1] if below else None


@dataclass
class Placement:
    """What a placement name means on one machine: a memory policy over nodes."""

    name: str               # as the scenario wrote it: local, remote, interleave, node:N
    mode: str               # default (nothing to choose), bind or interleave
    nodes: list[int]        # the policy's nodes
    local_nodes: list[int]  # the nodes holding the CPUs the point is pinned to

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_placement(name: str, cpus: list[int], nodes: dict[int, list[int]]
                      ) -> Placement | str:
    """The policy ``name`` asks for with threads on ``cpus``, or why it cannot be had.

    ``local`` binds to the nodes of the pinned CPUs (on a one-node machine there is
    nothing to choose and no policy is set); ``remote`` to the lowest-numbered node
    holding none of them; ``interleave`` spreads pages over every node; ``node:N``
    binds to N. A machine without NUMA information counts as one node 0.
    """
    nodes = nodes or {0: list(cpus)}
    local = sorted(n for n, node_cpus in nodes.items() if set(node_cpus) & set(cpus)) or [
        min(nodes)]
    described = "; ".join(f"node {n}: CPUs {format_cpulist(c)}" for n, c in sorted(nodes.items()))
    if name == "local":
        if len(nodes) == 1:
            return Placement(name, "default", local, local)
        return Placement(name, "bind", local, local)
    if name == "remote":
        others = sorted(set(nodes) - set(local))
        if not others:
            return (f"placement remote needs a NUMA node without the pinned CPUs "
                    f"({format_cpulist(cpus)}); this machine has {len(nodes)} ({described})")
        return Placement(name, "bind", [others[0]], local)
    if name == "interleave":
        if len(nodes) < 2:
            return (f"placement interleave needs two NUMA nodes; this machine has one "
                    f"({described})")
        return Placement(name, "interleave", sorted(nodes), local)
    if m := re.fullmatch(r"node:([0-9]+)", name):
        node = int(m.group(1))
        if node not in nodes:
            return f"placement {name}: no NUMA node {node} with CPUs here ({described})"
        return Placement(name, "bind", [node], local)
    raise ValueError(f"unknown placement {name!r}; expected local, remote, interleave "
                     f"or node:N")


def split_pages(pages_by_node: dict[int, int], local_nodes: list[int]) -> tuple[int, int]:
    """(pages on the local nodes, pages elsewhere)."""
    local = sum(v for n, v in pages_by_node.items() if n in local_nodes)
    return local, sum(pages_by_node.values()) - local

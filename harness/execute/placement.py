"""A worker's NUMA placement: set before its tables are built, read back after.

``apply_placement`` turns a point's ``placement`` (local, remote, interleave,
node:N) into a memory policy for this process (``kernels.memory``), the same for
every kernel; ``numa_report`` reads back from ``/proc/self/numa_maps`` how many
pages of each table landed on which node, local or remote to the pinned CPUs: the
policy asks, the kernel decides (a full node falls back, balancing migrates).
"""

from __future__ import annotations

from pathlib import Path

from harness.machine.numa import (Placement, pages_at, read_numa_balancing, read_nodes,
                                  resolve_placement, split_pages)

# Arrays a kernel gathers from, as the worker's page report names them.
TABLE_ATTRIBUTES = ("table", "token_table", "weight_table", "shared", "_array", "quotient",
                    "remainder", "array", "g1", "g2", "g3")


def apply_placement(point: dict, sysfs: str | Path = "/sys") -> Placement:
    """Set this process's memory policy for ``point``; raise when it cannot be honoured.

    The plan skips placements the machine cannot give; a refusal here means the
    machine changed since, or the kernel refused the policy (both fail the point).
    """
    from kernels.memory import set_memory_policy

    placement = resolve_placement(point.get("placement", "local"), point["cpus"],
                                  read_nodes(sysfs))
    if isinstance(placement, str):
        raise RuntimeError(placement)
    if placement.mode != "default":
        set_memory_policy(placement.mode, placement.nodes)
    return placement


def _tables(kernel) -> list[tuple[str, object]]:
    found, addresses = [], set()
    for name in TABLE_ATTRIBUTES:
        array = getattr(kernel, name, None)
        if hasattr(array, "ctypes") and array.ctypes.data not in addresses:
            addresses.add(array.ctypes.data)  # one array under two names counts once
            found.append((name, array))
    return found


def numa_report(kernels: list, placement: Placement,
                numa_maps: str | Path = "/proc/self/numa_maps",
                procfs: str | Path = "/proc") -> dict:
    """Pages per node of every table of ``kernels`` and their local/remote totals.

    Counts are of the mapping holding each table (numa_maps has no finer grain);
    with ``pages: default`` that mapping may hold other arrays too.
    """
    out = {"placement": placement.to_dict(), "numa_balancing": read_numa_balancing(procfs)}
    try:
        text = Path(numa_maps).read_text()
    except OSError as exc:
        out["error"] = f"cannot read {numa_maps}: {exc.strerror or exc}"
        return out
    tables, seen, local, remote = [], set(), 0, 0
    for index, kernel in enumerate(kernels):
        for name, array in _tables(kernel):
            entry = pages_at(text, array.ctypes.data)
            if entry is None:
                tables.append({"kernel": index, "table": name,
                               "error": "no numa_maps entry for the table's address"})
                continue
            here, there = split_pages(entry.pages_by_node, placement.local_nodes)
            tables.append({"kernel": index, "table": name, "policy": entry.policy,
                           "pages_by_node": {str(k): v for k, v in entry.pages_by_node.items()},
                           "page_bytes": entry.page_bytes, "pages_local": here,
                           "pages_remote": there})
            if entry.start not in seen:  # two tables in one mapping count once
                seen.add(entry.start)
                local, remote = local + here, remote + there
    out.update({"tables": tables, "pages_local": local, "pages_remote": remote})
    return out

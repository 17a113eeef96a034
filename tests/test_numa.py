"""NUMA placement: sysfs nodes, balancing state, numa_maps, the plan's skips, the readback.

Two-node machines are fake sysfs trees (tests/fakes.py); numa_maps texts are samples
of the kernel's format. Setting a real policy runs only where the kernel allows it.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from harness.errors import UsageError
from harness.execute.placement import numa_report
from harness.execute.plan import make_plan
from harness.machine.numa import (Placement, pages_at, parse_numa_maps, read_numa_balancing,
                                  read_nodes, resolve_placement, split_pages)
from harness.scenario.schema import load_scenario

TWO_NODES = {0: list(range(28)) + list(range(56, 84)),
             1: list(range(28, 56)) + list(range(84, 112))}

NUMA_MAPS = """\
55c74858c000 default file=/usr/bin/python3 mapped=2 N0=2 kernelpagesize_kB=4
7f2a4c000000 bind:1 anon=262144 dirty=262144 active=0 N1=262144 kernelpagesize_kB=4
7f2a8c000000 interleave:0-1 anon=1024 dirty=1024 N0=500 N1=524 kernelpagesize_kB=2048
7ffd1a000000 default stack anon=3 dirty=3 N0=3 kernelpagesize_kB=4
"""


def test_nodes_and_balancing_from_fake_trees(tmp_path, skylake):
    from fakes import SKYLAKE_SP_2S, make_machine_tree

    sysfs, procfs = make_machine_tree(tmp_path / "two", SKYLAKE_SP_2S)
    assert read_nodes(sysfs) == TWO_NODES
    assert read_nodes(tmp_path / "nowhere") == {}
    assert read_numa_balancing(procfs).startswith("unknown (no sys/kernel/numa_balancing")
    (procfs / "sys/kernel/numa_balancing").write_text("1\n")
    assert read_numa_balancing(procfs) == "on (NUMA_BALANCING_NORMAL)"
    (procfs / "sys/kernel/numa_balancing").write_text("0\n")
    assert read_numa_balancing(procfs) == "off"
    assert skylake.numa_balancing.startswith("unknown")  # recorded in the manifest's machine


def test_numa_maps_pages_per_node():
    entries = parse_numa_maps(NUMA_MAPS)
    assert [e.policy for e in entries] == ["default", "bind:1", "interleave:0-1", "default"]
    bound = pages_at(NUMA_MAPS, 0x7f2a4c000000 + 4096 * 100)
    assert bound.pages_by_node == {1: 262144} and bound.page_bytes == 4096
    spread = pages_at(NUMA_MAPS, 0x7f2a8c000000 + 10)
    assert spread.pages_by_node == {0: 500, 1: 524} and spread.page_bytes == 2 << 20
    assert split_pages(spread.pages_by_node, [0]) == (500, 524)
    assert pages_at(NUMA_MAPS, 0x1000) is None
    with pytest.raises(ValueError, match="not a numa_maps line"):
        parse_numa_maps("garbage here\n")


def test_placements_on_two_nodes():
    socket0 = [0, 1]
    assert resolve_placement("local", socket0, TWO_NODES) == Placement("local", "bind", [0], [0])
    assert resolve_placement("remote", socket0, TWO_NODES) == Placement("remote", "bind", [1], [0])
    assert resolve_placement("remote", [30], TWO_NODES).nodes == [0]
    assert resolve_placement("interleave", socket0, TWO_NODES).nodes == [0, 1]
    assert resolve_placement("node:1", socket0, TWO_NODES).nodes == [1]
    assert "no NUMA node 5" in resolve_placement("node:5", socket0, TWO_NODES)
    # threads on both sockets leave no remote node
    assert "without the pinned CPUs" in resolve_placement("remote", [0, 30], TWO_NODES)


def test_placements_on_one_node():
    one = {0: [0, 1]}
    assert resolve_placement("local", [0, 1], one).mode == "default"  # nothing to choose
    assert "this machine has 1" in resolve_placement("remote", [0], one)
    assert "needs two NUMA nodes" in resolve_placement("interleave", [0], one)


SCENARIO = """\
name: numa
threads: [1]
tables: {sizes: ["1MiB"], dim: 16}
batch_sizes: [8]
kernels: [{kernel: baseline}]
memory: {placement: [local, remote, interleave, "node:1"]}
"""


def test_plan_skips_what_one_node_cannot_give(tmp_path, skylake, zen3_vm):
    path = tmp_path / "numa.yaml"
    path.write_text(SCENARIO)
    loaded = load_scenario(path)
    two = make_plan(loaded, skylake)
    assert [p.status for p in two.points] == ["planned"] * 4
    assert [p.placement for p in two.points] == ["local", "remote", "interleave", "node:1"]
    assert len({p.point_id for p in two.points}) == 4
    one = {p.placement: p for p in make_plan(loaded, zen3_vm).points}
    assert one["local"].status == "planned"
    for name in ("remote", "interleave", "node:1"):
        assert one[name].status == "skipped" and "NUMA node" in one[name].reason
    # local points keep their identity: results stored before placements still match
    assert "placement" not in one["local"].identity()
    assert one["remote"].identity()["placement"] == "remote"


def test_bad_placement_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace('"node:1"', "far"))
    with pytest.raises(UsageError) as err:
        load_scenario(path)
    assert "bad.yaml:6: memory.placement[3]: String should match" in err.value.problems[0]


def test_numa_report_reads_each_table(tmp_path):
    table = np.zeros((1024, 16), np.float32)
    start = table.ctypes.data - table.ctypes.data % 4096
    maps = tmp_path / "numa_maps"
    maps.write_text(f"{start:x} bind:1 anon=16 dirty=16 N0=4 N1=12 kernelpagesize_kB=4\n")
    placement = Placement("remote", "bind", [1], [0])
    report = numa_report([SimpleNamespace(table=table)], placement, maps, tmp_path)
    assert (report["pages_local"], report["pages_remote"]) == (4, 12)
    assert report["tables"][0]["policy"] == "bind:1"
    missing = numa_report([SimpleNamespace(table=table)], placement, tmp_path / "none", tmp_path)
    assert "error" in missing and "pages_local" not in missing  # unknown, never 0


def test_policy_is_set_and_read_back_here():
    from kernels.memory import get_memory_policy, set_memory_policy

    try:
        set_memory_policy("bind", [0])
    except OSError as exc:
        pytest.skip(f"this kernel refuses set_mempolicy: {exc}")
    try:
        assert get_memory_policy() == {"mode": "bind", "nodes": [0]}
    finally:
        set_memory_policy("default", [])
    assert get_memory_policy()["mode"] == "default"

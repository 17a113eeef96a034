"""The page-size knob: allocation, what the kernel really gave, and the plan's checks."""

import csv
import platform

import numpy as np
import pytest

from harness.execute.plan import make_plan
from harness.scenario.schema import load_scenario
from kernels.memory import PAGE_POLICIES, aligned_empty, page_report, parse_smaps

from cli import run_harness

SMAPS = """\
7f0000000000-7f0000400000 rw-p 00000000 00:00 0
Size:               4096 kB
KernelPageSize:        4 kB
Rss:                4096 kB
AnonHugePages:      2048 kB
THPeligible:    1
7f0000400000-7f0000800000 rw-s 00000000 00:0f 123    /anon_hugepage (deleted)
Size:               4096 kB
KernelPageSize:     2048 kB
Rss:                   0 kB
Private_Hugetlb:    4096 kB
"""


def test_parse_smaps_finds_the_mapping():
    first = parse_smaps(SMAPS, 0x7f0000001000)
    assert first["AnonHugePages"] == 2 << 20 and first["KernelPageSize"] == 4096
    assert first["THPeligible"] == 1
    second = parse_smaps(SMAPS, 0x7f0000400000)
    assert second["Private_Hugetlb"] == 4 << 20 and second["KernelPageSize"] == 2 << 20
    assert parse_smaps(SMAPS, 0x1000) is None


def test_page_report_from_smaps_text(tmp_path):
    smaps = tmp_path / "smaps"
    smaps.write_text(SMAPS)

    class Fake:
        class ctypes:
            data = 0x7f0000400000

    report = page_report(Fake, "hugetlb", smaps)
    assert report["huge_fraction"] == 1.0 and report["kernel_page_bytes"] == 2 << 20


@pytest.mark.parametrize("pages", ["4k", "thp"])
def test_mapped_tables_are_aligned_and_report_their_pages(pages):
    table = aligned_empty((1 << 16, 64), np.float32, pages=pages)  # 16 MiB
    table[:] = 1.0  # touch every page
    assert table.ctypes.data % (2 << 20) == 0
    report = page_report(table, pages)
    assert report["requested"] == pages and report["resident_bytes"] >= table.nbytes
    if pages == "4k":
        assert report["huge_bytes"] == 0
    # thp: the kernel may still decline (THP "never"); what it gave is reported, not assumed


def _vm_flags(address: int) -> list[str]:
    """The VmFlags of the /proc/self/smaps mapping holding ``address``."""
    inside = False
    for line in open("/proc/self/smaps"):
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= address < hi
        elif inside and head == "VmFlags:":
            return line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.parametrize("madvise", [True, False])
def test_big_default_tables_get_the_pages_numpy_would_give(monkeypatch, madvise):
    # Tables of POPULATE_BYTES and more are mapped and populated at once; they must still
    # be advised for huge pages where numpy advises its own arrays (MAP_POPULATE alone
    # gave them 4 KiB pages under THP "madvise"), and not where numpy does not.
    from kernels import memory

    monkeypatch.setattr(memory, "_numpy_madvises_huge", lambda: madvise)
    table = aligned_empty((memory.POPULATE_BYTES // 256, 64), np.float32)
    assert table.ctypes.data % memory.PAGE_BYTES == 0
    assert ("hg" in _vm_flags(table.ctypes.data)) is madvise
    release = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
    if release >= (5, 14):  # MADV_POPULATE_WRITE (older: the fill faults pages in)
        assert page_report(table, "default")["resident_bytes"] >= table.nbytes


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="pages must be one of"):
        aligned_empty((4,), pages="1g")
    assert PAGE_POLICIES[0] == "default"


def _scenario(tmp_path, pages):
    path = tmp_path / "s.yaml"
    path.write_text("name: p\nthreads: [1]\nbatch_sizes: [64]\n"
                    f"tables: {{sizes: ['1x LLC'], dim: 16, pages: {pages}}}\n"
                    "kernels: [{kernel: baseline, backend: numpy},"
                    " {kernel: memrec, token_rows: 1000, k: 2, weight_rows: 10, k_weight: 1,"
                    " backend: numpy}]\n"
                    "measure: {warmups: 1, batches: 3, repeats: 1}\n")
    return path


def test_pages_sweep_in_the_plan(tmp_path, zen3_vm):
    plan = make_plan(load_scenario(_scenario(tmp_path, "[4k, thp, default]")), zen3_vm)
    assert [p.pages for p in plan.points] == ["4k", "4k", "thp", "thp", "default", "default"]
    assert len({p.point_id for p in plan.points}) == 6
    assert ".pg4k" in plan.points[0].point_id and ".pg" not in plan.points[-1].point_id
    assert plan.points[0].identity()["pages"] == "4k"


def test_hugetlb_without_reserved_pages_is_skipped(tmp_path, zen3_vm):
    zen3_vm.hugepages_free, zen3_vm.hugepage_bytes = 0, 2 << 20
    plan = make_plan(load_scenario(_scenario(tmp_path, "hugetlb")), zen3_vm)
    assert all(p.status == "skipped" for p in plan.points)
    assert "huge pages" in plan.points[0].reason and "nr_hugepages" in plan.points[0].reason


@pytest.mark.slow
def test_run_records_the_pages_it_got(tmp_path):
    out = tmp_path / "out"
    proc = run_harness("run", _scenario(tmp_path, "[4k, thp]"), "--out", out,
                       "--counters", "none")
    assert proc.returncode == 0, proc.stderr
    rows = {r["point_id"]: r for r in csv.DictReader(open(out / "points.csv"))}
    four_k = [r for r in rows.values() if r["pages"] == "4k"]
    assert four_k and all(float(r["huge_page_fraction"]) == 0 for r in four_k)
    assert all(r["kernel_page_bytes"] == "4096" for r in four_k)

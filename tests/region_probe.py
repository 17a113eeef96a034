"""A tiny measured process for the scoping tests: much work before the region, a known
amount inside it.

    python tests/region_probe.py OUT.json REGION_SPEC_JSON SETUP_PAGES REGION_PAGES \\
        SETUP_CPU_MS REGION_CPU_MS

Touches SETUP_PAGES fresh 4 KiB pages and burns SETUP_CPU_MS of CPU outside the
region, then REGION_PAGES and REGION_CPU_MS inside it (harness.counters.region),
and writes what it did, with the CPU time it measured itself, to OUT.json.
"""

import json
import mmap
import sys
import time

from harness.counters.region import make_region

PAGE = 4096


def touch_fresh_pages(n: int) -> mmap.mmap:
    m = mmap.mmap(-1, max(1, n) * PAGE)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        m.madvise(mmap.MADV_NOHUGEPAGE)  # one fault per 4 KiB page, not per 2 MiB
    for i in range(n):
        m[i * PAGE] = 1
    return m


def burn_cpu(ms: float) -> None:
    end = time.thread_time_ns() + int(ms * 1e6)
    x = 0
    while time.thread_time_ns() < end:
        x += 1


def main(out, region_spec, setup_pages, region_pages, setup_ms, region_ms):
    region = make_region(json.loads(region_spec))
    keep = [touch_fresh_pages(int(setup_pages))]
    burn_cpu(float(setup_ms))
    with region:
        t0 = time.thread_time_ns()
        keep.append(touch_fresh_pages(int(region_pages)))
        burn_cpu(float(region_ms))
        region_cpu_ns = time.thread_time_ns() - t0
    with open(out, "w") as f:
        json.dump({"region": region.record, "region_cpu_ns": region_cpu_ns,
                   "process_cpu_ns": time.process_time_ns()}, f)


if __name__ == "__main__":
    main(*sys.argv[1:])

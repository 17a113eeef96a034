"""Linux cpulist strings ("0-3,8,10-11"), as in sysfs and ``taskset -c``."""

from __future__ import annotations

from typing import Iterable


MAX_CPUS = 8192  # the kernel's NR_CPUS ceiling (CONFIG_NR_CPUS <= 8192)


def parse_cpulist(text: str) -> list[int]:
    """Parse a cpulist into a sorted list of CPU numbers.

    Raises ValueError naming the offending part, e.g. for "0-", "3-1" or "a".
    """
    cpus: set[int] = set()
    text = text.strip()
    if not text:
        return []
    for part in text.split(","):
        part = part.strip()
        stride = 1
        if ":" in part:  # the kernel's "0-15:2" (range with stride)
            part, _, stride_text = part.partition(":")
            if not stride_text.isdigit() or int(stride_text) < 1:
                raise ValueError(f"bad stride in cpulist part {part + ':' + stride_text!r}")
            stride = int(stride_text)
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(f"{part!r} is not a CPU number or range like 0-7")
        lo, hi = int(first), int(last) if dash else int(first)
        if hi < lo:
            raise ValueError(f"range {part!r} runs backwards")
        if hi >= MAX_CPUS:
            raise ValueError(f"CPU {hi} in {part!r} is beyond Linux's limit of {MAX_CPUS} CPUs")
        cpus.update(range(lo, hi + 1, stride))
    return sorted(cpus)


def format_cpulist(cpus: Iterable[int]) -> str:
    """Format CPU numbers as the shortest cpulist: [0, 1, 2, 5] -> "0-2,5"."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)

"""When a limits result must not be believed: the reasons its effective LLC is doubtful.

The effective LLC is a midpoint crossing on the one-thread demand-gather curve
(harness.limits.analysis). That is only meaningful when the curve has one step, from an
in-LLC level to a DRAM level. On a VM the curve can rise in several steps (page walks
join once the working set passes the TLB's reach) so that the crossing lands far from
any cache: the 2-vCPU Zen 4 VM of issue 15 (32 MiB LLC) gave 261 MiB. Such a result is
stored and printed with its reasons, and `run` does not size "0.5x effective-LLC" tables
from it unless asked (``tables.trust_doubtful_limits`` or ``--use-doubtful-limits``).

The checks, each a pure function of limits.json's content:
- the curve rises in several steps, or keeps rising past 8x the LLC (no DRAM level);
- the effective LLC is over 4x or under 1/4 of the LLC sysfs reports;
- the row sizes' knees disagree by over 4x;
- the LLC is slower than DRAM (streaming reads, or load latency).
"""

from __future__ import annotations

import math

from harness.scenario.sizes import format_bytes

FAR_FROM_SYSFS = 4.0          # effective / sysfs beyond this (or below its inverse)
ROWS_DISAGREE = 4.0           # largest / smallest knee across row sizes
STEP_PER_DOUBLING = 1.25      # cost growth per doubling of the working set that is a step
DRAM_LEVEL_SPREAD = 1.5       # max / min cost past 8x LLC that is still one level


def _growth_per_doubling(ws0: int, ns0: float, ws1: int, ns1: float) -> float:
    doublings = math.log2(ws1 / ws0)
    return (ns1 / ns0) ** (1 / doublings) if doublings > 0 and ns0 > 0 else 1.0


def steps(curve: list[tuple[int, float]], above: int) -> list[tuple[int, int, float]]:
    """The steps of a cost curve past ``above`` bytes: runs of neighbouring points whose
    cost grows by over STEP_PER_DOUBLING per doubling, as (from_ws, to_ws, factor)."""
    found: list[list] = []
    points = [(ws, ns) for ws, ns in curve if ws > above]
    for (ws0, ns0), (ws1, ns1) in zip(points, points[1:]):
        if _growth_per_doubling(ws0, ns0, ws1, ns1) <= STEP_PER_DOUBLING:
            continue
        if found and found[-1][1] == ws0:
            found[-1][1], found[-1][3] = ws1, ns1   # the same step goes on
        else:
            found.append([ws0, ws1, ns0, ns1])
    return [(a, b, n1 / n0) for a, b, n0, n1 in found]


def _curve_text(curve: list[tuple[int, float]]) -> str:
    return ", ".join(f"{ns:.3g} ns at {format_bytes(ws)}" for ws, ns in curve)


def curve_doubts(curve: list[tuple[int, float]], llc: int, l2: int | None,
                 row: str) -> list[str]:
    """Why one 1-thread demand-gather curve shows no clear LLC knee (empty: it does)."""
    doubts = []
    found = steps(curve, 2 * (l2 or 0))
    if len(found) > 1:
        parts = "; ".join(f"x{f:.2g} from {format_bytes(a)} to {format_bytes(b)}"
                          for a, b, f in found)
        doubts.append(f"no clear LLC knee: the {row}-byte curve rises in {len(found)} steps "
                      f"({parts}): {_curve_text(curve)}")
    dram = [(ws, ns) for ws, ns in curve if ws >= 8 * llc]
    if len(dram) >= 2 and max(ns for _, ns in dram) > DRAM_LEVEL_SPREAD * min(ns for _, ns in dram):
        doubts.append(f"no clear LLC knee: the {row}-byte curve keeps rising past 8x the "
                      f"LLC, so it has no DRAM level ({_curve_text(dram)})")
    return doubts


def doubts(limits: dict) -> list[str]:
    """Every reason ``limits`` (limits.json's content) is doubtful; empty when clean."""
    sysfs = limits.get("sysfs_llc_bytes") or 0
    l2 = limits.get("l2_bytes")
    reasons: list[str] = []
    for key, points in sorted((limits.get("gather_demand") or {}).items()):
        row, _, threads = key.partition("B/")
        if threads != "1t":
            continue
        curve = [(p["working_set_bytes"], p["ns_per_row"]) for p in points]
        reasons += curve_doubts(curve, sysfs, l2, row)
    effective = limits.get("effective_llc_bytes")
    if effective and sysfs:
        ratio = effective / sysfs
        if ratio > FAR_FROM_SYSFS or ratio < 1 / FAR_FROM_SYSFS:
            reasons.append(f"effective LLC {format_bytes(effective)} is {ratio:.3g}x the "
                           f"{format_bytes(sysfs)} LLC sysfs reports")
    knees = {row: k["effective_llc_bytes"] for row, k in
             (limits.get("knees_by_row_bytes") or {}).items() if k.get("effective_llc_bytes")}
    if len(knees) > 1 and max(knees.values()) > ROWS_DISAGREE * min(knees.values()):
        listed = ", ".join(f"{row}-byte rows {format_bytes(v)}" for row, v in knees.items())
        reasons.append(f"the row sizes disagree on the effective LLC ({listed})")
    for threads, bw in sorted((limits.get("stream_by_threads") or {}).items()):
        llc_bw, dram_bw = bw.get("llc_gbytes_per_s"), bw.get("dram_gbytes_per_s")
        if llc_bw and dram_bw and llc_bw < dram_bw:
            reasons.append(f"the LLC is slower than DRAM: streaming reads {llc_bw:.1f} GB/s "
                           f"from the LLC, {dram_bw:.1f} GB/s from DRAM ({threads} thread(s))")
    latency = limits.get("latency_ns_by_level") or {}
    llc_ns = (latency.get("LLC") or {}).get("ns")
    dram_ns = (latency.get("DRAM") or {}).get("ns")
    if llc_ns and dram_ns and llc_ns >= dram_ns:
        reasons.append(f"the LLC is slower than DRAM: load latency {llc_ns:.1f} ns in the "
                       f"LLC, {dram_ns:.1f} ns in DRAM")
    return reasons


def refusal(path, reasons: list[str]) -> list[str]:
    """The lines `run` exits 2 with when it would size tables from a doubtful result."""
    return ([f"{path}: the effective LLC of this limits result is doubtful, so tables are "
             f"not sized from it:"] + reasons
            + ["measure again on a quiet machine (`python -m harness limits`), size tables "
               "by the sysfs LLC ('0.5x LLC'), or use it anyway with "
               "`tables.trust_doubtful_limits: true` in the scenario or "
               "`run --use-doubtful-limits`"])

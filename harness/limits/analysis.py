"""The machine's own limits: random-row gather cost, dependent-load latency, and
streaming bandwidth over working sets from 1/64x to 64x the LLC (likwid-bench,
Intel MLC and STREAM measure the same). Points run through the normal runner
(pinned workers, the three result files); the analysis here is pure and reads
the stored rows only.

The gather runs twice: with demand loads only, whose cost steps up sharply where
the working set leaves the cache, and with rows prefetched ahead as FBGEMM does.
The speedup ceiling (harness.limits.ceiling) takes the cheaper of the two at each
working set: a ceiling must not be beatable. Both sum 8 rows per pass over the
output row (``gather_step``; 1 in results from before issue 17, which kernels matched).
The *effective* LLC is where the one-thread demand-gather curve crosses the
geometric mean of its in-LLC cost and its DRAM cost (interpolated on log-log
axes): on a shared or virtualised machine that can be far below the LLC sysfs
reports.
"""

from __future__ import annotations

import math
import statistics
import json
from fractions import Fraction

import yaml

from harness.limits.doubt import doubts
from harness.scenario.schema import LoadedScenario, Scenario

ROW_BYTES = (64, 256, 512)
FULL_RATIOS = [Fraction(2) ** k for k in range(-6, 7)]            # 1/64 .. 64
QUICK_RATIOS = [Fraction(1, 64), Fraction(1, 16), Fraction(1, 4), Fraction(1), Fraction(4),
                Fraction(16), Fraction(64)]
GATHER_BATCH = 16384
GATHER_PREFETCH = 8  # ids ahead, as kernels/microbench.py and the fused kernels
GATHER_STEP = 8      # rows summed per pass over the output row (kernels/microbench.py)
GATHER_BAGS = (1, 2, 4)  # rows per output row written: the gather-and-write curves
CHASE_BATCH = 1 << 16
STREAM_BATCH = 1 << 18        # 64-byte lines: 16 MiB per batch
METHOD = ("effective LLC: working set where the 1-thread demand-load gather cost crosses "
          "the geometric mean of its in-LLC level (median over 2x L2 < ws <= LLC/4, or its "
          "lowest point when that range itself steps up by over 2x) and its DRAM level "
          "(median over ws >= 8x LLC), searched from just above 2x L2, log-log "
          "interpolated; the ceiling curves ('gather') prefetch rows 8 ids ahead; every gather "
          "sums 8 rows per pass over its output row (gather_step); the gather-and-write "
          "curves ('gather_bag', 'gather_bag_demand', keyed row/threads/bag) sum 1, 2 or 4 "
          "rows into each output row they write, and price the speedup ceiling")


def _ratio_text(r: Fraction) -> str:
    return f"{float(r):.6g}x LLC"


def parse_ratios(text: str) -> list[Fraction]:
    """'1/64,1/4,4' -> working-set sizes in multiples of the LLC."""
    try:
        ratios = [Fraction(part.strip()) for part in text.split(",") if part.strip()]
    except (ValueError, ZeroDivisionError):
        ratios = []
    if not ratios or any(r <= 0 for r in ratios):
        raise ValueError(f"expected positive LLC multiples like '1/64,1/4,4', got {text!r}")
    if any(not Fraction(1, 2**20) <= r <= 2**20 for r in ratios):
        raise ValueError(f"LLC multiples must lie between 2**-20 and 2**20, got {text!r}")
    return sorted(set(ratios))


def limits_scenarios(quick: bool, thread_counts: list, ratios: list[Fraction] | None = None,
                     row_bytes: tuple[int, ...] = ROW_BYTES) -> list[dict]:
    """Scenario documents for the limits sweep: one per row size, plus chase/stream."""
    ratios = ratios or (QUICK_RATIOS if quick else FULL_RATIOS)
    sizes = [_ratio_text(r) for r in ratios]
    measure = {"warmups": 2 if quick else 5, "batches": 10 if quick else 30,
               "repeats": 1 if quick else 3, "seed": 0, "timeout_s": 900}
    docs = []
    for row in row_bytes:
        docs.append({"name": "limits", "threads": thread_counts,
                     "tables": {"sizes": sizes, "dim": row // 4},
                     "batch_sizes": [GATHER_BATCH],
                     "kernels": [{"kernel": "gather", "prefetch": [0, GATHER_PREFETCH],
                                  "step": [GATHER_STEP]},
                                 {"kernel": "gather", "prefetch": [0, GATHER_PREFETCH],
                                  "bag": list(GATHER_BAGS)}],
                     "measure": measure})
    docs.append({"name": "limits", "threads": [1], "tables": {"sizes": sizes, "dim": 16},
                 "batch_sizes": [CHASE_BATCH], "kernels": [{"kernel": "chase"}],
                 "measure": measure})
    stream_sizes = sizes if not quick or len(sizes) <= 2 else \
        [_ratio_text(Fraction(1, 4)), _ratio_text(Fraction(64))]
    docs.append({"name": "limits", "threads": thread_counts,
                 "tables": {"sizes": stream_sizes, "dim": 16},
                 "batch_sizes": [STREAM_BATCH], "kernels": [{"kernel": "stream"}],
                 "measure": measure})
    return docs


def loaded_limits(doc: dict, quick: bool) -> LoadedScenario:
    from pathlib import Path

    return LoadedScenario(Scenario.model_validate(doc), Path("<limits>"),
                          yaml.safe_dump(doc, sort_keys=False), doc, quick)


# --- analysis: pure functions over points.csv rows --------------------------------

def _num(row: dict, key: str) -> float:
    try:
        return float(row.get(key) or "nan")
    except ValueError:
        return math.nan


def _param(row: dict, key: str, default: int) -> int:
    """A gather point's parameter ``key`` from its params JSON; ``default`` where the
    result predates it (or left it unset)."""
    try:
        params = json.loads(row.get("params") or "{}")
    except (TypeError, ValueError):
        params = {}
    value = params.get(key) if isinstance(params, dict) else None
    return default if value is None else int(value)


def _prefetch(row: dict) -> int:
    """A gather point's prefetch distance (results from before it existed prefetched 0)."""
    return _param(row, "prefetch", 0)


def _step(row: dict) -> int:
    """A gather point's rows per pass (results from before issue 17 summed one: 1)."""
    return _param(row, "step", 1)


def _bag(row: dict) -> int:
    """A gather point's rows per output row written (0: none, as before bags existed)."""
    return _param(row, "bag", 0)


def curves(rows: list[dict], kernel: str, demand: bool | None = None, bag: int = 0,
           ) -> dict[tuple[int, int], list[tuple[int, float, float]]]:
    """{(row_bytes, threads): [(working_set_bytes, ns_per_lookup, GB/s), ...]} sorted.

    ``demand``: for the gather, True keeps demand-load points (no prefetch), False
    the prefetching ones, None both. ``bag``: the gather points with that many rows per
    output row written (0: the gather alone).
    """
    out: dict = {}
    for r in rows:
        if r.get("kernel") != kernel or r.get("status") != "ok":
            continue
        if demand is not None and (_prefetch(r) == 0) != demand:
            continue
        if _bag(r) != bag:
            continue
        ns = _num(r, "ns_per_lookup")
        if math.isnan(ns):
            continue
        key = (int(r["dim"]) * 4, int(r["threads"]))
        out.setdefault(key, []).append((int(float(r["table_bytes"])), ns,
                                        _num(r, "gbytes_per_s")))
    return {k: sorted(v) for k, v in out.items()}


def knee(curve: list[tuple[int, float, float]], llc_bytes: int, l2_bytes: int | None) -> dict:
    """Where a cost curve steps from its in-LLC level up to its DRAM level."""
    inside = [ns for ws, ns, _ in curve if (l2_bytes or 0) * 2 < ws <= llc_bytes / 4]
    if not inside:
        inside = [ns for ws, ns, _ in curve if ws <= llc_bytes / 4][-1:]
    dram = [ns for ws, ns, _ in curve if ws >= 8 * llc_bytes]
    if not inside or not dram:
        return {"effective_llc_bytes": None,
                "reason": "the sweep lacks working sets inside the LLC or far beyond it"}
    cache_ns, dram_ns = statistics.median(inside), statistics.median(dram)
    if max(inside) > 2 * min(inside):
        # The step lies inside (2 L2, LLC/4] itself (a small share of a shared LLC): its
        # median would mix in the rising part. The in-cache level is its lowest point.
        cache_ns = min(inside)
    result = {"llc_level_ns": cache_ns, "dram_level_ns": dram_ns, "effective_llc_bytes": None}
    if dram_ns < 1.3 * cache_ns:
        result["reason"] = (f"no clear step: DRAM rows cost {dram_ns:.3g} ns, in-LLC rows "
                            f"{cache_ns:.3g} ns")
        return result
    threshold = math.sqrt(cache_ns * dram_ns)
    result["threshold_ns"] = threshold
    # Search from just above L2 (the knee of a shared LLC can lie below LLC/4).
    above_l2 = [i for i, (ws, _, _) in enumerate(curve) if ws > (l2_bytes or 0) * 2]
    start = above_l2[0] if above_l2 else 0
    for (ws0, ns0, _), (ws1, ns1, _) in zip(curve[start:], curve[start + 1:]):
        if ns0 < threshold <= ns1 and ws1 > 16 * ws0:
            result["reason"] = (f"the sweep is too coarse to place the knee: it lies between "
                                f"{ws0} and {ws1} bytes")
            return result
        if ns0 < threshold <= ns1:
            t = (math.log(threshold) - math.log(ns0)) / (math.log(ns1) - math.log(ns0))
            result["effective_llc_bytes"] = int(math.exp(
                math.log(ws0) + t * (math.log(ws1) - math.log(ws0))))
            return result
    if curve[start][1] >= threshold:
        result["effective_llc_bytes"] = curve[start][0]
        result["reason"] = ("already at the threshold at the smallest working set above L2: "
                            "the effective LLC is that or smaller")
    else:
        result["reason"] = "the curve never crossed the threshold"
    return result


def _level_ranges(caches: list[dict], llc_bytes: int) -> dict[str, tuple[float, float]]:
    size = {(c["level"], c["type"]): c["size_bytes"] for c in caches}
    l1 = size.get((1, "Data"), 32 * 1024)
    l2 = size.get((2, "Unified"), 1 << 20)
    return {"L1": (0, l1 / 2), "L2": (l1 * 2, l2 / 2), "LLC": (l2 * 2, llc_bytes / 4),
            "DRAM": (8 * llc_bytes, math.inf)}


def analyse(rows: list[dict], machine: dict) -> dict:
    """limits.json: effective LLC, gather curves, latency per level, bandwidths, and
    whether the effective LLC is doubtful (with the reasons)."""
    llc = machine["llc_bytes"]
    caches = machine.get("caches", [])
    l2 = next((c["size_bytes"] for c in caches if c["level"] == 2), None)
    floors = floor_curves(rows)
    demand = _curves_of(floors["gather_demand"])
    knees = {row: knee(curve, llc, l2) for (row, threads), curve in demand.items()
             if threads == 1}
    found = [k["effective_llc_bytes"] for k in knees.values() if k.get("effective_llc_bytes")]
    ranges = _level_ranges(caches, llc)
    chase = curves(rows, "chase").get((64, 1), [])
    latency = {}
    for level, (lo, hi) in ranges.items():
        values = [ns for ws, ns, _ in chase if lo <= ws <= hi]
        latency[level] = {"ns": statistics.median(values) if values else None,
                          "working_sets": [ws for ws, _, _ in chase if lo <= ws <= hi]}
    stream = {}
    for (row, threads), curve in curves(rows, "stream").items():
        llc_bw = [gb for ws, _, gb in curve if ws <= llc / 4]
        dram_bw = [gb for ws, _, gb in curve if ws >= 8 * llc]
        stream[str(threads)] = {"llc_gbytes_per_s": max(llc_bw) if llc_bw else None,
                                "dram_gbytes_per_s": max(dram_bw) if dram_bw else None}
    limits = {
        "sysfs_llc_bytes": llc,
        "l2_bytes": l2,
        "effective_llc_bytes": int(statistics.median(found)) if found else None,
        "method": METHOD,
        # 1: the one-row probe of before issue 17, no floor (harness.limits.ceiling)
        "gather_step": floors["gather_step"],
        "knees_by_row_bytes": {str(k): v for k, v in sorted(knees.items())},
        **{name: floors[name] for name in FLOOR_CURVES},
        "latency_ns_by_level": latency,
        "chase": [{"working_set_bytes": ws, "ns_per_load": ns} for ws, ns, _ in chase],
        "stream_by_threads": stream,
    }
    # Why not to believe the effective LLC (harness.limits.doubt), stored with it.
    limits["doubtful_reasons"] = doubts(limits)
    limits["doubtful"] = bool(limits["doubtful_reasons"])
    return limits


# The curves harness.limits.ceiling prices a ceiling from: the gather alone (prefetching,
# demand loads) and the gather and write (``bag``, ns per row gathered, one output row
# written per bag).
FLOOR_CURVES = ("gather", "gather_demand", "gather_bag", "gather_bag_demand")


def floor_curves(rows: list[dict]) -> dict:
    """The gather points of ``rows`` as the curves a ceiling is priced from (limits.json's
    keys ``FLOOR_CURVES`` and ``gather_step``); also what benchmarks/speed.py builds from
    the probes it measures beside the kernels. Pure."""
    # One probe per curve: where several steps were measured, the largest (the floor).
    step = max((_step(r) for r in rows if r.get("kernel") == "gather" and not _bag(r)),
               default=None)
    rows = [r for r in rows if r.get("kernel") != "gather" or _bag(r) or _step(r) == step]
    # The ceiling: prefetching gathers where measured (older results: whatever there is).
    gather = curves(rows, "gather", demand=False) or curves(rows, "gather")
    demand = curves(rows, "gather", demand=True) or gather
    return {"gather_step": step, "gather": _as_json(gather), "gather_demand": _as_json(demand),
            "gather_bag": _bag_curves(rows, demand=False),
            "gather_bag_demand": _bag_curves(rows, demand=True)}


def _as_json(found: dict) -> dict[str, list[dict]]:
    return {f"{row}B/{threads}t": [{"working_set_bytes": ws, "ns_per_row": ns,
                                    "gbytes_per_s": gb} for ws, ns, gb in curve]
            for (row, threads), curve in sorted(found.items())}


def curve_key(key: str) -> tuple[int, int]:
    """A stored curve's key as numbers: "512B/2t" -> (512, 2) (ValueError if not one)."""
    row, threads = (int(x.rstrip("Bt")) for x in key.split("/"))
    return row, threads


def _curves_of(stored: dict[str, list[dict]]) -> dict[tuple[int, int], list[tuple]]:
    """``_as_json`` undone: {(row_bytes, threads): [(ws, ns, GB/s), ...]}."""
    return {curve_key(key): [(p["working_set_bytes"], p["ns_per_row"], p["gbytes_per_s"])
                             for p in points]
            for key, points in stored.items()}


def _bag_curves(rows: list[dict], demand: bool) -> dict[str, list[dict]]:
    """{"<row>B/<threads>t/<bag>": [points]} of the gather-and-write points."""
    out = {}
    for bag in sorted({_bag(r) for r in rows if r.get("kernel") == "gather"} - {0}):
        for (row, threads), curve in sorted(curves(rows, "gather", demand, bag).items()):
            out[f"{row}B/{threads}t/{bag}"] = [
                {"working_set_bytes": ws, "ns_per_row": ns, "gbytes_per_s": gb}
                for ws, ns, gb in curve]
    return out


def gather_cost_at(limits: dict, row_bytes: int, threads: int, working_set: int,
                   curves: str = "gather", bag: int = 0) -> float | None:
    """The measured gather ns/row at a working set (log-log interpolated), or None.

    ``curves``: "gather" (prefetching) or "gather_demand" (demand loads), or their
    gather-and-write twins "gather_bag" / "gather_bag_demand" with ``bag`` rows per
    output row."""
    key = f"{row_bytes}B/{threads}t" + (f"/{bag}" if bag else "")
    curve = (limits.get(curves) or {}).get(key)
    if not curve:
        return None
    points = [(c["working_set_bytes"], c["ns_per_row"]) for c in curve]
    if working_set <= points[0][0]:
        return points[0][1]
    for (ws0, ns0), (ws1, ns1) in zip(points, points[1:]):
        if ws0 <= working_set <= ws1:
            t = (math.log(working_set) - math.log(ws0)) / (math.log(ws1) - math.log(ws0))
            return math.exp(math.log(ns0) + t * (math.log(ns1) - math.log(ns0)))
    return points[-1][1]

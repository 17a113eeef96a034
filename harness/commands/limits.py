"""Measure this machine's limits, pinned like any run: random-row gather cost (64, 256
and 512-byte rows) and dependent-load latency over working sets from 1/64x to 64x
the LLC, for 1..N threads, and streaming read bandwidth from the LLC and from DRAM.
Stores the three result files plus limits.json, whose effective LLC (the knee of
the gather curve) scenarios can use as "0.5x effective-LLC"."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import UsageError
from harness.execute.plan import parse_memory_limit
from harness.limits.analysis import parse_ratios
from harness.limits.measure import measure, resume
from harness.limits.stored import LIMITS_FILE, write_analysis
from harness.machine.detect import describe_machine
from harness.scenario.sizes import format_bytes
from harness.store.reader import read_manifest as load_manifest_checked


def add_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a coarse curve (7 working sets, 1 and all threads) in minutes")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="result directory (default results/limits/<host>-<UTC time>)")
    parser.add_argument("--resume", type=Path, metavar="DIR",
                        help="continue an interrupted limits run")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="memory budget per point (default 75%% of available memory)")
    parser.add_argument("--sizes", metavar="R,R,...",
                        help="working sets in LLC multiples, e.g. 1/64,1/4,4,64 "
                             "(default: 1/64..64 in powers of 2; fewer with --quick)")
    parser.add_argument("--rows", metavar="B,B,...", default="64,256,512",
                        help="gather row sizes in bytes, multiples of 4 (default 64,256,512)")


def _options(args) -> dict:
    try:
        ratios = parse_ratios(args.sizes) if args.sizes else None
    except ValueError as exc:
        raise UsageError(f"--sizes: {exc}") from None
    rows = [part.strip() for part in args.rows.split(",") if part.strip()]
    if not rows or not all(r.isdigit() and int(r) >= 4 and int(r) % 4 == 0 for r in rows):
        raise UsageError(f"--rows: expected row sizes in bytes that are multiples of 4, "
                         f"e.g. 64,256,512; got {args.rows!r}")
    return {"ratios": ratios, "row_bytes": tuple(int(r) for r in rows)}


def summary(limits: dict) -> str:
    lines = [f"sysfs LLC      {format_bytes(limits['sysfs_llc_bytes'])}"]
    eff = limits.get("effective_llc_bytes")
    lines.append(f"effective LLC  {format_bytes(eff) if eff else 'not found'}"
                 + (f" ({eff / limits['sysfs_llc_bytes']:.2f}x sysfs)" if eff else "")
                 + (" DOUBTFUL: not used to size tables unless asked" if limits.get("doubtful")
                    else ""))
    lines += [f"  doubtful: {reason}" for reason in limits.get("doubtful_reasons") or []]
    for row, k in limits["knees_by_row_bytes"].items():
        desc = (f"{format_bytes(k['effective_llc_bytes'])}" if k.get("effective_llc_bytes")
                else k.get("reason", "?"))
        levels = (f"in-LLC {k['llc_level_ns']:.1f} ns/row, DRAM {k['dram_level_ns']:.1f} "
                  f"ns/row" if "llc_level_ns" in k else "")
        lines.append(f"  {row:>3}-byte rows: knee {desc}; {levels}")
    lines += _bag_lines(limits)
    lat = ", ".join(f"{lvl} {v['ns']:.1f} ns" for lvl, v in limits["latency_ns_by_level"].items()
                    if v["ns"] is not None)
    lines.append(f"load latency   {lat or 'not measured'}")
    for threads, bw in limits["stream_by_threads"].items():
        parts = [f"{name} {bw[key]:.1f} GB/s" for name, key in
                 (("LLC", "llc_gbytes_per_s"), ("DRAM", "dram_gbytes_per_s")) if bw[key]]
        lines.append(f"stream read    {threads} thread(s): {', '.join(parts)}")
    return "\n".join(lines)


def _bag_lines(limits: dict) -> list[str]:
    """The gather-and-write floors the speedup ceiling uses: ns per output row of 1, 2, 4
    rows (the cheaper of prefetching and demand loads) at LLC/8 and at the largest
    working set measured."""
    from harness.limits.analysis import curve_key, gather_cost_at

    by_curve: dict[str, list[int]] = {}
    for key in limits.get("gather_bag") or {}:
        curve, _, bag = key.rpartition("/")
        by_curve.setdefault(curve, []).append(int(bag))
    lines = []
    for curve, bags in sorted(by_curve.items(), key=lambda kv: curve_key(kv[0])):
        row, threads = curve_key(curve)
        biggest = max(p["working_set_bytes"] for p in limits["gather_bag"][f"{curve}/{bags[0]}"])
        parts = []
        for ws in (limits["sysfs_llc_bytes"] // 8, biggest):
            costs = []
            for bag in sorted(bags):
                found = [c for c in (gather_cost_at(limits, row, threads, ws, kind, bag)
                                     for kind in ("gather_bag", "gather_bag_demand"))
                         if c is not None]
                costs.append(f"{min(found) * bag:.1f}" if found else "-")
            parts.append(f"{format_bytes(ws)} {'/'.join(costs)}")
        lines.append(f"gather+write   {row}-byte rows, {threads} thread(s), ns per output "
                     f"row of {'/'.join(map(str, sorted(bags)))} rows: {'; '.join(parts)}")
    return lines


def run(args) -> int:
    machine = describe_machine()
    budget = (parse_memory_limit(args.memory_limit, machine.mem_available_bytes)
              if args.memory_limit else None)
    if args.resume:
        out = args.resume
        status = resume(out, machine, load_manifest_checked(out))
    else:
        status, out = measure(args.quick, machine, args.out, budget, _options(args))
    if status not in (0, 1):
        return status  # interrupted: analysed when resumed
    limits = write_analysis(out)
    print(summary(limits))
    print(f"limits: {out / LIMITS_FILE}", file=sys.stderr)
    return status

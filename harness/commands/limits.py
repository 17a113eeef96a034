"""Measure this machine's limits, pinned like any run: random-row gather cost (64, 256
and 512-byte rows) and dependent-load latency over working sets from 1/64x to 64x
the LLC, for 1..N threads, and streaming read bandwidth from the LLC and from DRAM.
Stores the three result files plus limits.json, whose effective LLC (the knee of
the gather curve) scenarios can use as "0.5x effective-LLC"."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.machine.cpulist import parse_cpulist
from harness.errors import UsageError
from harness.store.fileio import atomic_write_json
from harness.limits.analysis import analyse, limits_scenarios, loaded_limits, parse_ratios
from harness.machine.detect import Machine, describe_machine
from harness.execute.plan import Plan, make_plan, parse_memory_limit
from harness.machine.provenance import git_state, library_versions
from harness.store.manifest import build_manifest
from harness.store.models import ScenarioRecord
from harness.store.reader import read_manifest as load_manifest_checked
from harness.store.reader import read_result as load_result
from harness.store.results import default_result_dir, new_result_dir, utc_now
from harness.execute.session import execute_plan
from harness.scenario.sizes import format_bytes

LIMITS_FILE = "limits.json"
DEFAULT_ROOT = Path("results")


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


def _thread_counts(quick: bool, machine: Machine) -> list:
    """1 and all threads (--quick), or powers of two up to all of them."""
    if quick:
        return [1, "all"]
    cpus = len(parse_cpulist(machine.usable_cpus))
    return [t for t in (2 ** k for k in range(13)) if t < cpus] + ["all"]


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


def build_plan(quick: bool, machine: Machine, budget: int | None,
               options: dict | None = None) -> tuple[Plan, list[dict]]:
    """One plan holding every limits point (all row sizes, chase and stream)."""
    docs = limits_scenarios(quick, _thread_counts(quick, machine), **(options or {}))
    plans = [make_plan(loaded_limits(doc, quick), machine, budget) for doc in docs]
    plan = plans[0]
    plan.points = [p for sub in plans for p in sub.points]
    # Threads beyond the pinning set would only add skipped noise: drop, not skip.
    plan.points = [p for p in plan.points if p.threads <= max(1, len(plan.pinning.cpus))]
    return plan, docs


def _manifest(quick: bool, machine: Machine, plan: Plan, docs: list[dict]) -> dict:
    # Generated, not a file: the documents are stored once, as the validated scenario.
    scenario = ScenarioRecord(name="limits", path="<limits>", quick=quick, text=None,
                              effective={"documents": docs})
    manifest = build_manifest(
        "limits", scenario=scenario, machine=machine.to_dict(), plan=plan, requested={},
        effective={"pinning_cpus": plan.pinning.cpus, "llc_bytes": plan.llc_bytes},
        versions=library_versions(), git=git_state(), command=sys.argv)
    manifest["started"] = manifest["created"]
    return manifest


def write_analysis(out: Path) -> dict:
    """Analyse a stored limits result into out/limits.json and return it."""
    stored = load_result(out)
    limits = analyse(stored.rows, stored.manifest["machine"])
    limits["result_dir"] = str(out)
    limits["machine_identity"] = Machine.from_dict(stored.manifest["machine"]).identity()
    atomic_write_json(out / LIMITS_FILE, limits)
    return limits


def summary(limits: dict) -> str:
    lines = [f"sysfs LLC      {format_bytes(limits['sysfs_llc_bytes'])}"]
    eff = limits.get("effective_llc_bytes")
    lines.append(f"effective LLC  {format_bytes(eff) if eff else 'not found'}"
                 + (f" ({eff / limits['sysfs_llc_bytes']:.2f}x sysfs)" if eff else ""))
    for row, k in limits["knees_by_row_bytes"].items():
        desc = (f"{format_bytes(k['effective_llc_bytes'])}" if k.get("effective_llc_bytes")
                else k.get("reason", "?"))
        levels = (f"in-LLC {k['llc_level_ns']:.1f} ns/row, DRAM {k['dram_level_ns']:.1f} "
                  f"ns/row" if "llc_level_ns" in k else "")
        lines.append(f"  {row:>3}-byte rows: knee {desc}; {levels}")
    lat = ", ".join(f"{lvl} {v['ns']:.1f} ns" for lvl, v in limits["latency_ns_by_level"].items()
                    if v["ns"] is not None)
    lines.append(f"load latency   {lat or 'not measured'}")
    for threads, bw in limits["stream_by_threads"].items():
        parts = [f"{name} {bw[key]:.1f} GB/s" for name, key in
                 (("LLC", "llc_gbytes_per_s"), ("DRAM", "dram_gbytes_per_s")) if bw[key]]
        lines.append(f"stream read    {threads} thread(s): {', '.join(parts)}")
    return "\n".join(lines)


def measure(quick: bool, machine: Machine, out: Path | None = None,
            budget: int | None = None, options: dict | None = None) -> tuple[int, Path]:
    plan, docs = build_plan(quick, machine, budget, options)
    if budget is not None and plan.points and not plan.runnable:
        # A limits result with no point measured has no curve and no effective LLC: the
        # limit given is what is wrong, so say so instead of storing an empty result.
        least = min(p.memory_bytes for p in plan.points)
        raise UsageError(f"--memory-limit {format_bytes(budget)} leaves no limits point "
                         f"measurable; the smallest needs ~{format_bytes(least)}")
    out = out or default_result_dir(DEFAULT_ROOT, "limits", machine.hostname)
    new_result_dir(out, "choose another --out or --resume it")
    status = execute_plan(plan, out, _manifest(quick, machine, plan, docs), resume=False,
                          resume_hint=f"python -m harness limits --resume {out}")
    return status, out


def find_limits(machine: Machine, root: Path = DEFAULT_ROOT) -> Path | None:
    """The newest stored limits result of this machine under root/limits/, if any."""
    candidates = sorted((root / "limits").glob(f"*/{LIMITS_FILE}"),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if data.get("machine_identity") == machine.identity() and data.get("effective_llc_bytes"):
            return path.parent
    return None


def load_limits(directory: Path, machine: Machine) -> dict:
    path = Path(directory) / LIMITS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: missing (is {directory} a `harness limits` result?)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: unreadable: {exc}") from None
    if data.get("machine_identity") != machine.identity():
        raise UsageError(f"{path}: measured on another machine "
                         f"({data.get('machine_identity')}); measure this one")
    if not data.get("effective_llc_bytes"):
        raise UsageError(f"{path}: no effective LLC was found in that run "
                         f"({data.get('knees_by_row_bytes')})")
    return data


def run(args) -> int:
    machine = describe_machine()
    budget = (parse_memory_limit(args.memory_limit, machine.mem_available_bytes)
              if args.memory_limit else None)
    if args.resume:
        stored = load_manifest_checked(args.resume)
        if stored.get("kind") != "limits":
            raise UsageError(f"{args.resume}: not a limits result")
        if Machine.from_dict(stored["machine"]).identity() != machine.identity():
            raise UsageError(f"{args.resume}: was measured on another machine")
        stored.setdefault("resumed", []).append({"at": utc_now(), "command": sys.argv})
        out = args.resume
        status = execute_plan(Plan.from_stored(stored["plan_meta"], stored["plan"]), out,
                              stored, resume=True,
                              resume_hint=f"python -m harness limits --resume {out}")
    else:
        status, out = measure(args.quick, machine, args.out, budget, _options(args))
    if status not in (0, 1):
        return status  # interrupted: analysed when resumed
    limits = write_analysis(out)
    print(summary(limits))
    print(f"limits: {out / LIMITS_FILE}", file=sys.stderr)
    return status

"""Print the bytes each kernel of a scenario owns against the uncompressed baseline,
and the compression ratio, at the scenario's full table sizes; nothing is run.
LLC-relative sizes resolve against this machine's LLC, or --llc. Where a run on
this machine would scale tables down to fit its memory, that is said too."""

from __future__ import annotations

import json
import sys

from harness.errors import UsageError
from harness.scenario.kernelspec import KERNELS, Geometry, variants
from harness.machine.detect import describe_machine
from harness.execute.plan import layout_bytes, make_plan, parse_memory_limit, table_choices
from harness.scenario.schema import load_scenario
from harness.scenario.sizes import format_bytes, kind_of, parse_size

_RUN_ONLY = ("backend", "prefetch")  # parameters that change speed, not bytes


def add_arguments(parser) -> None:
    parser.add_argument("scenario", metavar="FILE", help="scenario YAML file")
    parser.add_argument("--llc", metavar="SIZE",
                        help="resolve 'x LLC' sizes against this LLC (e.g. 48MB) instead of "
                             "this machine's")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="memory budget for the note on scaling (as for run)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def footprints(scenario, llc_bytes: int) -> list[dict]:
    """One row per (table size, kernel variant up to speed-only parameters)."""
    tables = scenario.tables
    dim = tables.dim
    rows_out = []
    try:
        choices = table_choices(tables, llc_bytes)
    except ValueError as exc:  # e.g. "x effective-LLC" sizes: they need a limits result
        raise UsageError(f"tables.sizes: {exc}; footprint resolves sizes against the sysfs "
                         f"LLC or --llc only") from None

    def geometry(rows):
        return Geometry(rows, dim, llc_bytes)

    for size_text, feature_rows in choices:
        baseline_bytes = sum(feature_rows) * dim * 4
        seen: dict[tuple, dict] = {}
        for entry in scenario.kernels:
            spec = KERNELS[entry.kernel]
            for raw in variants(entry):
                try:
                    params = spec.resolve(raw, Geometry(sum(feature_rows), dim, llc_bytes))
                except ValueError as exc:
                    raise UsageError(f"kernel {entry.kernel}: {exc}") from None
                sized = {k: v for k, v in params.items() if k not in _RUN_ONLY}
                key = (entry.kernel, entry.label, json.dumps(sized, sort_keys=True))
                backend = params.get("backend", "")
                if key in seen:
                    if backend and backend not in seen[key]["backends"]:
                        seen[key]["backends"].append(backend)
                    continue
                nbytes = layout_bytes(spec, params, feature_rows, tables.layout, geometry)
                seen[key] = {
                    "table_size": size_text, "kernel": entry.kernel,
                    "label": entry.label or spec.describe(params).replace(f"({backend}) ", ""),
                    "params": sized, "backends": [backend] if backend else [],
                    "bytes": nbytes, "baseline_bytes": baseline_bytes,
                    "compression": baseline_bytes / nbytes if nbytes else float("nan"),
                }
        rows_out += list(seen.values())
    return rows_out


def _scaling_notes(loaded, machine, budget) -> list[str]:
    plan = make_plan(loaded, machine, budget)
    notes = {}
    for p in plan.points:
        if p.note:
            notes.setdefault(p.kernel, p.note)
        elif p.status == "skipped" and "memory" in p.reason:
            notes.setdefault(p.kernel, f"skipped here: {p.reason}")
    return [f"{kernel}: {note}" for kernel, note in notes.items()]


def run(args) -> int:
    loaded = load_scenario(args.scenario)
    sc = loaded.scenario
    machine = describe_machine()
    if args.llc:
        if kind_of(args.llc) not in (None, "bytes"):
            raise UsageError(f"--llc: {args.llc!r} is not a cache size; give bytes like '48MB'")
        try:
            size = parse_size(args.llc, expect="a cache size like '48MB' or '32MiB'")
        except ValueError as exc:
            raise UsageError(f"--llc: {exc}") from None
        llc_bytes, llc_source = size.to_bytes(0, 1), f"--llc {args.llc}"
    else:
        llc_bytes = machine.llc_bytes or 0
        llc_source = "this machine's" if llc_bytes else "unknown"
    rows = footprints(sc, llc_bytes)
    budget = (parse_memory_limit(args.memory_limit, machine.mem_available_bytes)
              if args.memory_limit else None)
    notes = _scaling_notes(loaded, machine, budget) if sc.tables.scale_to_fit else []
    if args.json:
        json.dump({"scenario": sc.name, "dim": sc.tables.dim, "features": sc.tables.features,
                   "layout": sc.tables.layout, "llc_bytes": llc_bytes,
                   "llc_source": llc_source, "footprints": rows, "notes": notes},
                  sys.stdout, indent=1)
        print()
        return 0
    print(f"{sc.name}: {sc.tables.features} feature(s), dim {sc.tables.dim}, fp32, "
          f"layout {sc.tables.layout}; LLC {format_bytes(llc_bytes)} ({llc_source})")
    for size in dict.fromkeys(r["table_size"] for r in rows):
        group = [r for r in rows if r["table_size"] == size]
        base = group[0]["baseline_bytes"]
        print(f"\ntables: {size}\n  {'kernel':44s} {'bytes':>16s} {'':>10s} {'compression':>12s}")
        print(f"  {'uncompressed baseline':44s} {base:16,d} {format_bytes(base):>10s} "
              f"{1:11.0f}x")
        for r in group:
            if r["kernel"] == "baseline":
                continue
            print(f"  {r['label'][:44]:44s} {r['bytes']:16,d} {format_bytes(r['bytes']):>10s} "
                  f"{r['compression']:11.1f}x")
    for note in notes:
        print(f"\nnote: a run on this machine: {note}")
    return 0

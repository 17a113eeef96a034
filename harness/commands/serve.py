"""Serve a scenario's kernels under load: requests arrive as a Poisson process at each
of the scenario's serve.rates_qps, are batched by its serve.batching policy and
served in one pinned worker process per point; latency runs from each request's
scheduled arrival (no coordinated omission). Writes serve.json, serve.csv and
manifest.json, with p50/p99/p99.9 per rate and the highest rate whose p99 stays
within serve.slo_ms. Exit 0 when every runnable point served, 1 when some failed,
2 for bad input."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from harness import __version__
from harness.errors import UsageError
from harness.execute.plan import make_plan, parse_memory_limit
from harness.execute.session import skipped_summary
from harness.machine.cpulist import format_cpulist
from harness.machine.detect import describe_machine
from harness.machine.provenance import git_state, library_versions
from harness.scenario.schema import load_scenario
from harness.serve.manager import serve_plan
from harness.store.serving import SERVE_FORMAT_VERSION, ServeStore
from harness.store.results import default_result_dir, new_result_dir, utc_now


def add_arguments(parser) -> None:
    parser.add_argument("scenario", metavar="FILE", help="scenario YAML file with a serve: block")
    parser.add_argument("--quick", action="store_true",
                        help="apply the scenario's quick: block")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="result directory (default results/<scenario>/<host>-<UTC time>)")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="memory budget per point, e.g. 12GiB or 60%% "
                             "(default 75%% of available memory)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be served or skipped, and exit")


def run(args) -> int:
    loaded = load_scenario(args.scenario, quick=args.quick)
    sc = loaded.scenario
    if sc.serve is None:
        raise UsageError(f"{loaded.path}: serve: no serve: block (rates_qps, slo_ms, "
                         f"batching) in this scenario; `harness run` measures batches alone")
    machine = describe_machine()
    budget = (parse_memory_limit(args.memory_limit, machine.mem_available_bytes)
              if args.memory_limit else None)
    plan = make_plan(loaded, machine, budget)
    if args.dry_run:
        for p in plan.points:
            print(("serve " if p.status == "planned" else "skip  ") + p.point_id
                  + (f"  ({p.reason})" if p.reason else ""))
        return 0
    if not plan.runnable:
        raise UsageError([f"{loaded.path}: no point of this scenario can run on this "
                          f"machine:"] + skipped_summary(plan))
    out = args.out or default_result_dir(Path("results"), plan.scenario, machine.hostname)
    new_result_dir(out, "choose another --out")
    config = sc.serve.model_dump(mode="json")
    manifest = {
        "format_version": SERVE_FORMAT_VERSION, "kind": "serve",
        "harness_version": __version__, "created": utc_now(), "started": utc_now(),
        "command": sys.argv,
        "scenario": {"name": sc.name, "path": str(loaded.path), "quick": loaded.quick,
                     "text": loaded.text, "given": loaded.given,
                     "effective": sc.model_dump(mode="json")},
        "requested": {"threads": sc.threads, "pinning": plan.pinning.requested},
        "effective": {"pinning_cpus": format_cpulist(plan.pinning.cpus),
                      "pinning_notes": plan.pinning.notes, "llc_bytes": plan.llc_bytes,
                      "memory_budget_bytes": plan.memory_budget_bytes},
        "machine": machine.to_dict(), "versions": library_versions(), "git": git_state(),
        "plan": [p.to_dict() for p in plan.points], "serve": config,
    }
    skipped = [p for p in plan.points if p.status == "skipped"]
    for p in skipped:
        print(f"skip {p.point_id}: {p.reason}")
    store = ServeStore(out, plan, manifest, config)
    with tempfile.TemporaryDirectory(prefix="harness-serve-") as work:
        status = serve_plan(plan, store, config, Path(work))
    print(f"results in {out}")
    _print_summary(store)
    return status


def _print_summary(store: ServeStore) -> None:
    slo = store.config["slo_ms"]
    for point in store.plan.runnable:
        entry = store.point_entry(point)
        within = entry["within_slo"] or {}
        best = within.get("max_qps")
        text = f"{best:g} qps" if best is not None else "none"
        extra = f" ({within['reason']})" if within.get("reason") else ""
        print(f"  {point.label}: highest rate with p99 <= {slo:g} ms: {text}{extra}")

"""Run a scenario: expand it into points on this machine, run each feasible point in
fresh pinned worker processes, and store pyperf.json, points.csv and manifest.json.
Points the machine cannot run are recorded as skipped with the reason. Exit 0 when
every runnable point succeeded, 1 when some failed (their results are still stored),
2 for bad input."""

from __future__ import annotations

import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from harness import RESULT_FORMAT_VERSION, __version__
from harness.cpulist import format_cpulist
from harness.errors import UsageError
from harness.machine import describe_machine
from harness.plan import Plan, make_plan, parse_memory_limit
from harness.provenance import git_state, library_versions
from harness.results import MANIFEST_FILE, ResultStore, default_result_dir, utc_now
from harness.runner import WorkerLauncher, run_plan
from harness.scenario import load_scenario
from harness.sizes import format_bytes


def add_arguments(parser) -> None:
    parser.add_argument("scenario", metavar="FILE", help="scenario YAML file")
    parser.add_argument("--quick", action="store_true",
                        help="apply the scenario's quick: block and cap warmups/batches/repeats")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="result directory (default results/<scenario>/<host>-<UTC time>)")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="memory budget per point, e.g. 12GiB or 60%% "
                             "(default 75%% of available memory)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (what would run, what is skipped) and exit")


def _manifest(args, loaded, machine, plan: Plan) -> dict:
    sc = loaded.scenario
    return {
        "format_version": RESULT_FORMAT_VERSION,
        "kind": "run",
        "harness_version": __version__,
        "created": utc_now(),
        "command": sys.argv,
        "scenario": {
            "name": sc.name, "path": str(loaded.path), "quick": loaded.quick,
            "text": loaded.text, "given": loaded.given,
            "effective": sc.model_dump(mode="json"),
        },
        "requested": {"threads": sc.threads, "pinning": plan.pinning.requested,
                      "memory_limit": args.memory_limit},
        "effective": {"pinning_cpus": format_cpulist(plan.pinning.cpus),
                      "pinning_notes": plan.pinning.notes,
                      "threads_runnable": sorted({p.threads for p in plan.runnable}),
                      "llc_bytes": plan.llc_bytes,
                      "memory_budget_bytes": plan.memory_budget_bytes,
                      "memory_budget_source": plan.memory_budget_source},
        "machine": machine.to_dict(),
        "versions": library_versions(),
        "git": git_state(),
        "plan": [p.to_dict() for p in plan.points],
    }


def _print_plan(plan: Plan, out=sys.stdout) -> None:
    for p in plan.points:
        state = "run " if p.status == "planned" else "skip"
        extra = f"  ({p.reason or p.note})" if p.reason or p.note else ""
        print(f"{state} {p.point_id}{extra}", file=out)


def _skipped_summary(plan: Plan) -> list[str]:
    reasons = Counter(p.reason for p in plan.points if p.status == "skipped")
    return [f"  {n:4d} x {reason}" for reason, n in reasons.most_common()]


class _Progress:
    """A progress bar with ETA on a terminal; one line per run otherwise (CI logs)."""

    def __init__(self, total: int):
        self.total, self.done, self.start = total, 0, time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("eta"), TimeRemainingColumn(), transient=False)
            self.task = self.bar.add_task("running", total=total)
            self.bar.start()

    def __call__(self, point, repeat, outcome) -> None:
        self.done += 1
        if outcome.get("status") == "ok":
            import statistics

            p50 = statistics.median(outcome["values_ns"])
            what = f"ok  {p50 / point.lookups_per_batch:9.1f} ns/lookup"
        else:
            what = f"FAILED: {outcome.get('reason')}"
        line = f"[{self.done}/{self.total}] {point.point_id} r{repeat}: {what}"
        if self.bar:
            self.bar.console.print(line, highlight=False)
            self.bar.update(self.task, advance=1)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar:
            self.bar.stop()


def run(args) -> int:
    loaded = load_scenario(args.scenario, quick=args.quick)
    machine = describe_machine()
    budget = (parse_memory_limit(args.memory_limit, machine.mem_available_bytes)
              if args.memory_limit else None)
    plan = make_plan(loaded, machine, budget)
    if args.dry_run:
        _print_plan(plan)
        return 0
    if not plan.runnable:
        raise UsageError([f"{loaded.path}: no point of this scenario can run on this machine:"]
                         + _skipped_summary(plan))
    out = args.out or default_result_dir(Path("results"), plan.scenario, machine.hostname)
    if (out / MANIFEST_FILE).exists():
        raise UsageError(f"{out}: already holds results; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        work = out / ".work"
        work.mkdir(exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the result directory: {exc}") from None

    store = ResultStore(out, plan, _manifest(args, loaded, machine, plan))
    store.manifest["started"] = utc_now()
    store.write("running")
    runs_total = sum(p.repeats for p in plan.runnable)
    skipped = sum(p.status == "skipped" for p in plan.points)
    print(f"{plan.scenario}: {len(plan.runnable)} points to run ({runs_total} worker runs), "
          f"{skipped} skipped; LLC {format_bytes(plan.llc_bytes)}, pinning CPUs "
          f"{format_cpulist(plan.pinning.cpus)}; results in {out}", file=sys.stderr)
    for note in plan.pinning.notes:
        print(f"note: {note}", file=sys.stderr)

    progress = _Progress(runs_total)
    try:
        run_plan(plan, store, WorkerLauncher(work, plan.llc_bytes), progress)
    finally:
        progress.close()
    store.write("complete")
    shutil.rmtree(work, ignore_errors=True)

    statuses = Counter(store.point_status(p)[0] for p in plan.points)
    print(f"\n{statuses['ok']} points ok, {statuses['failed']} failed, "
          f"{statuses['skipped']} skipped.", file=sys.stderr)
    if skipped:
        print("skipped:", file=sys.stderr)
        print("\n".join(_skipped_summary(plan)), file=sys.stderr)
    for p in plan.points:
        status, reason = store.point_status(p)
        if status == "failed":
            print(f"failed: {p.point_id}: {reason}", file=sys.stderr)
    print(f"results: {out}\n  python -m pyperf stats {out / 'pyperf.json'}", file=sys.stderr)
    return 1 if statuses["failed"] else 0

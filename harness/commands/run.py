"""Run a scenario: expand it into points on this machine, run each feasible point in
fresh pinned worker processes, and store pyperf.json, points.csv and manifest.json.
Points the machine cannot run are recorded as skipped with the reason. Exit 0 when
every runnable point succeeded, 1 when some failed (their results are still stored),
2 for bad input."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from harness import RESULT_FORMAT_VERSION, __version__
from harness.cpulist import format_cpulist
from harness.errors import UsageError
from harness.lock import DirectoryLock
from harness.machine import available_memory_bytes, describe_machine
from harness.plan import Plan, make_plan, memory_refusal, parse_memory_limit, parse_shard
from harness.provenance import git_state, library_versions
from harness.results import (MANIFEST_FILE, ResultStore, ResultWriteError, default_result_dir,
                             utc_now)
from harness.resultset import load_manifest_checked
from harness.runner import WorkerLauncher, run_plan
from harness.signals import Interrupted, SignalGuard
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
    parser.add_argument("--resume", metavar="DIR", type=Path,
                        help="continue an interrupted run in DIR: run only what is not done")
    parser.add_argument("--shard", metavar="I/N",
                        help="run every N-th point starting at I (0-based), e.g. for a job "
                             "array; join the shards with `harness merge`")


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
        "plan_meta": plan.meta(),
    }


def _print_plan(plan: Plan, out=sys.stdout) -> None:
    for p in plan.points:
        state = "run " if p.status == "planned" else "skip"
        extra = f"  ({p.reason})" if p.reason else ""
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
            self.bar = None


def _resume_problems(stored: dict, loaded, machine, directory: Path) -> list[str]:
    """Why ``directory`` cannot be resumed with this scenario on this machine."""
    from harness.machine import Machine

    problems = []
    given = json.loads(json.dumps(loaded.scenario.model_dump(mode="json")))
    before = stored["scenario"].get("effective", {})
    changed = sorted(k for k in set(given) | set(before) if given.get(k) != before.get(k))
    if changed:
        problems.append(f"{directory}: the scenario differs from the one it was started with "
                        f"(keys: {', '.join(changed)})")
    if bool(stored["scenario"].get("quick")) != loaded.quick:
        problems.append(f"{directory}: was started {'with' if stored['scenario'].get('quick') else 'without'}"
                        f" --quick; resume it the same way")
    then = Machine.from_dict(stored["machine"]).identity()
    now = machine.identity()
    if then != now:
        diff = ", ".join(f"{k}: {then[k]} then, {now[k]} now" for k in then if then[k] != now.get(k))
        problems.append(f"{directory}: was measured on another machine ({diff})")
    if "plan_meta" not in stored:
        problems.append(f"{directory}: has no stored plan to resume")
    return problems


def _resume_command(args, out: Path) -> str:
    parts = ["python -m harness run", str(args.scenario)]
    if args.quick:
        parts.append("--quick")
    if args.memory_limit:
        parts.append(f"--memory-limit {args.memory_limit}")
    return " ".join(parts + ["--resume", str(out)])


def _prepare_new(args, loaded, machine) -> tuple[Plan, Path, dict]:
    budget = (parse_memory_limit(args.memory_limit, machine.mem_available_bytes)
              if args.memory_limit else None)
    plan = make_plan(loaded, machine, budget)
    if args.shard:
        plan = plan.sharded(*parse_shard(args.shard))
    if not plan.runnable:
        raise UsageError([f"{loaded.path}: no point of this scenario can run on this machine"
                          + (f" in shard {args.shard}" if args.shard else "") + ":"]
                         + _skipped_summary(plan))
    out = args.out or default_result_dir(Path("results"), plan.scenario, machine.hostname)
    if args.shard and not args.out:
        out = out.with_name(out.name + f"-shard{plan.shard['index']}of{plan.shard['count']}")
    if (out / MANIFEST_FILE).exists():
        raise UsageError(f"{out}: already holds results; choose another --out, or continue "
                         f"it with --resume {out}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the result directory: {exc}") from None
    manifest = _manifest(args, loaded, machine, plan)
    manifest["started"] = utc_now()
    return plan, out, manifest


def _prepare_resume(args, loaded, machine) -> tuple[Plan, Path, dict]:
    out = Path(args.resume)
    if args.out or args.shard:
        raise UsageError("--resume DIR continues DIR as it was started: drop --out/--shard")
    stored = load_manifest_checked(out)
    problems = _resume_problems(stored, loaded, machine, out)
    if problems:
        raise UsageError(problems)
    stored.setdefault("resumed", []).append({"at": utc_now(), "command": sys.argv})
    return Plan.from_stored(stored["plan_meta"], stored["plan"]), out, stored


def run(args) -> int:
    loaded = load_scenario(args.scenario, quick=args.quick)
    machine = describe_machine()
    if args.dry_run:
        plan = make_plan(loaded, machine, parse_memory_limit(
            args.memory_limit, machine.mem_available_bytes) if args.memory_limit else None)
        if args.shard:
            plan = plan.sharded(*parse_shard(args.shard))
        _print_plan(plan)
        return 0
    prepare = _prepare_resume if args.resume else _prepare_new
    plan, out, manifest = prepare(args, loaded, machine)
    with DirectoryLock(out):
        return _run_locked(args, plan, out, manifest)


def _run_locked(args, plan: Plan, out: Path, manifest: dict) -> int:
    work = out / ".work"
    try:
        store = ResultStore(out, plan, manifest)
        work.mkdir(exist_ok=True)
    except (ResultWriteError, OSError) as exc:
        raise UsageError(f"{out}: cannot write results there: {exc}") from None
    resumed = store.load_recorded() if args.resume else 0
    runs_total = sum(p.repeats for p in plan.runnable)
    if resumed >= runs_total:
        store.write("complete")
        print(f"{out}: nothing left to run; all {runs_total} runs were already done.",
              file=sys.stderr)
        return 0
    skipped = sum(p.status == "skipped" for p in plan.points)
    print(f"{plan.scenario}: {len(plan.runnable)} points to run ({runs_total} worker runs"
          + (f", {resumed} already done" if resumed else "") + f"), {skipped} skipped; "
          f"LLC {format_bytes(plan.llc_bytes)}, pinning CPUs {format_cpulist(plan.pinning.cpus)}"
          + (f", shard {plan.shard['index']}/{plan.shard['count']}" if plan.shard else "")
          + f"; results in {out}", file=sys.stderr)
    for note in plan.pinning.notes:
        print(f"note: {note}", file=sys.stderr)

    guard = SignalGuard()
    progress = _Progress(runs_total - resumed)
    try:
        with guard.installed():
            try:
                store.write("running")
                run_plan(plan, store, WorkerLauncher(work, plan.llc_bytes), progress, guard,
                         memory_check=lambda p: memory_refusal(p, plan, available_memory_bytes()))
            except Interrupted as exc:
                progress.close()
                with guard.critical(deliver=False):
                    store.write("interrupted")
                done = sum(len(r) for r in store.runs.values())
                print(f"\ninterrupted by {exc}: {done} of {runs_total} runs done; the results "
                      f"so far are in {out} (marked incomplete).\nresume with: "
                      f"{_resume_command(args, out)}", file=sys.stderr)
                return exc.exit_status
            with guard.critical(deliver=False):
                store.write("complete")
    except ResultWriteError as exc:
        progress.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        progress.close()
        shutil.rmtree(work, ignore_errors=True)
    return _summarise(store, plan, out)


def _summarise(store: ResultStore, plan: Plan, out: Path) -> int:
    statuses = Counter(store.point_status(p)[0] for p in plan.points)
    print(f"\n{statuses['ok']} points ok, {statuses['failed']} failed, "
          f"{statuses['skipped']} skipped.", file=sys.stderr)
    reasons = Counter(store.point_status(p)[1] for p in plan.points
                      if store.point_status(p)[0] == "skipped")
    if reasons:
        print("skipped:", file=sys.stderr)
        for reason, n in reasons.most_common():
            print(f"  {n:4d} x {reason}", file=sys.stderr)
    for p in plan.points:
        status, reason = store.point_status(p)
        if status == "failed":
            print(f"failed: {p.point_id}: {reason}", file=sys.stderr)
    print(f"results: {out}\n  python -m pyperf stats {out / 'pyperf.json'}", file=sys.stderr)
    return 1 if statuses["failed"] else 0

"""Executing a plan into a result directory: the part `run` and `limits` share.

Holds the directory's lock, shows progress, turns SIGINT/SIGTERM into an
interrupted (resumable) result, and summarises what ran, failed and was skipped.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from harness.machine.cpulist import format_cpulist
from harness.errors import UsageError
from harness.store.lock import DirectoryLock
from harness.machine.detect import available_memory_bytes
from harness.execute.plan import Plan, memory_refusal
from harness.store.results import ResultStore, ResultWriteError
from harness.execute.runner import WorkerLauncher, run_plan
from harness.execute.signals import Interrupted, SignalGuard
from harness.scenario.sizes import format_bytes


def skipped_summary(plan: Plan) -> list[str]:
    reasons = Counter(p.reason for p in plan.points if p.status == "skipped")
    return [f"  {n:4d} x {reason}" for reason, n in reasons.most_common()]


class Progress:
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


def execute_plan(plan: Plan, out: Path, manifest: dict, resume: bool, resume_hint: str,
                 machine=None, counters=None) -> int:
    """Run ``plan`` into ``out`` (locked), storing as it goes; return the exit status.

    ``counters`` is the scenario's counters configuration (None or no backends: no
    counting). Exit 0 when every runnable point succeeded, 1 when some failed or
    the results could no longer be written, 128+signal when interrupted (with
    ``resume_hint``).
    """
    with DirectoryLock(out):
        return _execute_locked(plan, out, manifest, resume, resume_hint, machine, counters)


def _counter_setup(config, machine, work: Path):
    """Probe perf's events and build the callgrind helper, once per run."""
    if config is None or not config.backends or machine is None:
        return None
    from harness.counters.setup import CounterSetup

    return CounterSetup.create(config, machine, work)


def _execute_locked(plan: Plan, out: Path, manifest: dict, resume: bool,
                    resume_hint: str, machine, counter_config) -> int:
    work = out / ".work"
    try:
        store = ResultStore(out, plan, manifest)
        work.mkdir(exist_ok=True)
    except (ResultWriteError, OSError) as exc:
        raise UsageError(f"{out}: cannot write results there: {exc}") from None
    resumed = store.load_recorded() if resume else 0
    runs_total = sum(p.repeats for p in plan.runnable)
    if resumed >= runs_total:
        store.write("complete")
        print(f"{out}: nothing left to run; all {runs_total} runs were already done."
              if runs_total else f"{out}: no point here can run on this machine; recorded "
              f"as skipped.", file=sys.stderr)
        return _summarise(store, plan, out)  # 1 if some of those runs failed
    skipped = sum(p.status == "skipped" for p in plan.points)
    print(f"{plan.scenario}: {len(plan.runnable)} points to run ({runs_total} worker runs"
          + (f", {resumed} already done" if resumed else "") + f"), {skipped} skipped; "
          f"LLC {format_bytes(plan.llc_bytes)}, pinning CPUs {format_cpulist(plan.pinning.cpus)}"
          + (f", shard {plan.shard['index']}/{plan.shard['count']}" if plan.shard else "")
          + f"; results in {out}", file=sys.stderr)
    counters = _counter_setup(counter_config, machine, work)
    if counters is not None:
        store.manifest["counters"] = counters.describe()
    # Said once here (and in the manifest), not per point: what will not be counted and why.
    for note in plan.pinning.notes + (counters.notes if counters else []):
        print(f"note: {note}", file=sys.stderr)

    guard = SignalGuard()
    progress = Progress(runs_total - resumed)
    try:
        with guard.installed():
            try:
                store.write("running")
                launcher = WorkerLauncher(work, plan.llc_bytes, counters=counters)
                run_plan(plan, store, launcher, progress, guard,
                         memory_check=lambda p: memory_refusal(p, plan, available_memory_bytes()))
            except Interrupted as exc:
                progress.close()
                with guard.critical(deliver=False):
                    store.write("interrupted")
                done = sum(len(r) for r in store.runs.values())
                print(f"\ninterrupted by {exc}: {done} of {runs_total} runs done; the results "
                      f"so far are in {out} (marked incomplete).\nresume with: "
                      f"{resume_hint}", file=sys.stderr)
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
    pending = (f", {statuses['pending']} not finished (see manifest.json point_status)"
               if statuses["pending"] else "")
    print(f"\n{statuses['ok']} points ok, {statuses['failed']} failed, "
          f"{statuses['skipped']} skipped{pending}.", file=sys.stderr)
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

"""Executing a plan into result directories: the one path `run`, `limits` and `ab` share.

Holds each directory's lock (and checks again, lock held, that a new one is still
free), re-checks memory before each worker, shows one progress printer, resumes what a
directory already holds, turns SIGINT/SIGTERM/SIGHUP into an interrupted (resumable)
result with exit status 128+signal, and summarises what ran, failed and was skipped.
`ab` runs two sides (BASE and NEW code) through it, interleaved point by point.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.machine.cpulist import format_cpulist
from harness.errors import UsageError
from harness.store.lock import DirectoryLock
from harness.store.resultdir import check_still_free
from harness.machine.detect import available_memory_bytes
from harness.execute.plan import Plan, memory_refusal
from harness.store.results import ResultStore, ResultWriteError
from harness.execute.duty import DutyCycle
from harness.execute.estimate import Counting, format_duration, session_eta
from harness.execute.runner import Side, WorkerLauncher, run_sides
from harness.execute.signals import Interrupted, SignalGuard
from harness.scenario.sizes import format_bytes

WORK_DIR = ".work"  # worker specs, results and stderr while a run goes on; removed after


def skipped_summary(plan: Plan) -> list[str]:
    reasons = Counter(p.reason for p in plan.points if p.status == "skipped")
    return [f"  {n:4d} x {reason}" for reason, n in reasons.most_common()]


class Progress:
    """A progress bar with ETA on a terminal; one line per run otherwise (CI logs)."""

    def __init__(self, total: int, eta=None):
        """``eta``: a harness.execute.estimate.EtaModel (the cost model's remaining time),
        else rich's own estimate from the recent speed."""
        self.total, self.done, self.start = total, 0, time.monotonic()
        self.bar, self.eta = None, eta
        if sys.stderr.isatty():
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            remaining = (_model_eta_column(eta),) if eta is not None else \
                (TextColumn("eta"), TimeRemainingColumn())
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(), *remaining,
                                transient=False)
            self.task = self.bar.add_task("running", total=total)
            self.bar.start()

    def __call__(self, side, point, repeat, outcome) -> None:
        self.done += 1
        if outcome.get("status") == "ok":
            p50 = statistics.median(outcome["values_ns"])
            what = f"ok  {p50 / point.lookups_per_batch:9.1f} ns/lookup"
            if outcome.get("run_quality") not in (None, "ok"):  # after its retries
                what += f"  {outcome['run_quality'].upper()}: {outcome['run_quality_reason']}"
            if outcome.get("set_aside"):
                what += f" ({len(outcome['set_aside'])} attempts set aside)"
        elif outcome.get("status") == "skipped":
            what = f"skipped: {outcome.get('reason')}"
        else:
            what = f"FAILED: {outcome.get('reason')}"
        name = f"{side.name:4s} " if side.name else ""
        line = f"[{self.done}/{self.total}] {name}{point.point_id} r{repeat}: {what}"
        if self.eta is not None:
            self.eta.finished((side.name, point.point_id, repeat))
            if not self.bar and self.done < self.total:
                line += f"  (eta {format_duration(self.eta.remaining_s())})"
        if self.bar:
            self.bar.console.print(line, highlight=False)
            self.bar.update(self.task, advance=1)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar:
            self.bar.stop()
            self.bar = None


def _model_eta_column(eta):
    """A rich column showing the cost model's remaining time (made on a terminal only,
    where rich is imported)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Column(ProgressColumn):
        def render(self, task):
            return Text(f"eta {format_duration(eta.remaining_s())}")

    return Column()


@dataclass
class SideSpec:
    """What a session needs to know of one side: its name (empty for a plain run, BASE
    or NEW for ``harness ab``), its result directory and manifest, and the checkout its
    worker's code comes from (None: this one)."""

    name: str
    out: Path
    manifest: dict
    code_dir: Path | None = None


def execute_plan(plan: Plan, out: Path, manifest: dict, resume: bool, resume_hint: str,
                 machine=None, counters=None) -> int:
    """Run ``plan`` into ``out`` (locked), storing as it goes; return the exit status.

    ``counters`` is the scenario's counters configuration (None or no backends: no
    counting). Exit 0 when every runnable point succeeded, 1 when some failed or
    the results could no longer be written, 128+signal when interrupted (with
    ``resume_hint``).
    """
    status, _ = execute_sides(plan, [SideSpec("", out, manifest)], resume, resume_hint,
                              machine, counters)
    return status


def execute_sides(plan: Plan, specs: list[SideSpec], resume: bool, resume_hint: str,
                  machine=None, counters=None, guard: SignalGuard | None = None,
                  lock_also: tuple[Path, ...] = ()) -> tuple[int, bool]:
    """The one execution path of `run`, `limits` and `ab`: run ``plan`` at every side.

    Each side's directory (and ``lock_also``) is locked for the whole session; a new
    directory is checked again, lock held, for results another run wrote since it was
    claimed. Returns the exit status and whether every side's result is complete.
    ``guard``: a SignalGuard the caller already installed (``ab``, whose temporary
    worktree must be removed on any signal), else one is installed here.
    """
    with contextlib.ExitStack() as locks:
        for directory in (*lock_also, *(spec.out for spec in specs)):
            locks.enter_context(DirectoryLock(directory))
        if not resume:
            for directory in lock_also:
                check_still_free(directory, "another run wrote there meanwhile",
                                 tuple(spec.out.name for spec in specs))
            for spec in specs:
                check_still_free(spec.out, "another run wrote there meanwhile")
        return _execute_locked(plan, specs, resume, resume_hint, machine, counters, guard)


def _counter_setup(config, machine, work: Path):
    """Probe perf's events and build the callgrind helper, once per run."""
    if config is None or not config.backends or machine is None:
        return None
    from harness.counters.setup import CounterSetup

    return CounterSetup.create(config, machine, work)


def _open_stores(plan: Plan, specs: list[SideSpec], resume: bool) -> list[ResultStore]:
    stores = []
    for spec in specs:
        try:
            stores.append(ResultStore(spec.out, plan, spec.manifest))
            (spec.out / WORK_DIR).mkdir(exist_ok=True)
        except (ResultWriteError, OSError) as exc:
            raise UsageError(f"{spec.out}: cannot write results there: {exc}") from None
        if resume:
            stores[-1].load_recorded()
    return stores


def _execute_locked(plan: Plan, specs: list[SideSpec], resume: bool, resume_hint: str,
                    machine, counter_config, guard: SignalGuard | None) -> tuple[int, bool]:
    stores = _open_stores(plan, specs, resume)
    work = specs[0].out / WORK_DIR
    try:
        return _run_stores(plan, specs, stores, resume_hint, machine, counter_config, guard,
                           work)
    finally:
        for spec in specs:
            shutil.rmtree(spec.out / WORK_DIR, ignore_errors=True)


def _run_stores(plan: Plan, specs: list[SideSpec], stores: list[ResultStore],
                resume_hint: str, machine, counter_config, guard: SignalGuard | None,
                work: Path) -> tuple[int, bool]:
    resumed = sum(len(r) for store in stores for r in store.runs.values())
    runs_total = len(specs) * sum(p.repeats for p in plan.runnable)
    out = specs[0].out if len(specs) == 1 else specs[0].out.parent
    if resumed >= runs_total:
        for store in stores:
            store.write("complete")
        print(f"{out}: nothing left to run; all {runs_total} runs were already done."
              if runs_total else f"{out}: no point here can run on this machine; recorded "
              f"as skipped.", file=sys.stderr)
        return _summarise_all(specs, stores, plan), True
    skipped = sum(p.status == "skipped" for p in plan.points)
    print(f"{plan.scenario}: {len(plan.runnable)} points to run ({runs_total} worker runs"
          + (f", {resumed} already done" if resumed else "") + f"), {skipped} skipped; "
          f"LLC {format_bytes(plan.llc_bytes)}, pinning CPUs {format_cpulist(plan.pinning.cpus)}"
          + (f", shard {plan.shard['index']}/{plan.shard['count']}" if plan.shard else "")
          + f"; results in {out}", file=sys.stderr)
    counters = _counter_setup(counter_config, machine, work)
    if counters is not None:
        for store in stores:
            store.manifest["counters"] = counters.describe()
    # Said once here (and in the manifest), not per point: what will not be counted and why.
    for note in plan.pinning.notes + (counters.notes if counters else []):
        print(f"note: {note}", file=sys.stderr)

    sides = [Side(spec.name, WorkerLauncher(spec.out / WORK_DIR, plan.llc_bytes,
                                            code_dir=spec.code_dir, counters=counters), store)
             for spec, store in zip(specs, stores)]
    own_guard = guard is None
    guard = guard or SignalGuard()
    progress = Progress(runs_total - resumed, eta=session_eta(
        plan, {spec.name: {(pid, r) for pid, runs in store.runs.items() for r in runs}
               for spec, store in zip(specs, stores)},
        Counting.of(counter_config), hostname=getattr(machine, "hostname", None)))
    duty = DutyCycle()

    def on_run(side, point, repeat, outcome):
        duty.add(outcome)
        progress(side, point, repeat, outcome)

    def account() -> None:  # the duty cycle into every manifest, before its last write
        summary = duty.summary()
        for store in stores:
            store.manifest.update(summary)
        for line in DutyCycle.lines(summary):
            print(line, file=sys.stderr)

    try:
        with guard.installed() if own_guard else contextlib.nullcontext():
            try:
                with guard.critical():
                    for store in stores:
                        store.write("running")
                run_sides(plan, sides, on_run, guard,
                          memory_check=lambda p: memory_refusal(p, plan, available_memory_bytes()))
            except Interrupted as exc:
                guard.clear()
                progress.close()
                account()
                with guard.critical(deliver=False):
                    for store in stores:
                        store.write("interrupted")
                done = sum(len(r) for store in stores for r in store.runs.values())
                print(f"\ninterrupted by {exc}: {done} of {runs_total} runs done; the results "
                      f"so far are in {out} (marked incomplete).\nresume with: "
                      f"{resume_hint}", file=sys.stderr)
                return exc.exit_status, False
            progress.close()
            account()
            with guard.critical(deliver=False):
                for store in stores:
                    store.write("complete")
    except ResultWriteError as exc:
        progress.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1, False
    finally:
        progress.close()
    return _summarise_all(specs, stores, plan), True


def _summarise_all(specs: list[SideSpec], stores: list[ResultStore], plan: Plan) -> int:
    status = 0
    for spec, store in zip(specs, stores):
        if spec.name:
            print(f"\n{spec.name}:", end="", file=sys.stderr)
        status = max(status, _summarise(store, plan, spec.out))
    return status


def _summarise(store: ResultStore, plan: Plan, out: Path) -> int:
    statuses = Counter(store.point_status(p)[0] for p in plan.points)
    pending = (f", {statuses['pending']} not finished (see manifest.json point_status)"
               if statuses["pending"] else "")
    print(f"\n{statuses['ok']} points ok, {statuses['failed']} failed, "
          f"{statuses['skipped']} skipped{pending}.", file=sys.stderr)
    by_quality = (store.manifest.get("points_by_quality") or {})
    if by_quality.get("noisy") or by_quality.get("unstable"):
        print(f"not to be believed: {by_quality.get('noisy', 0)} noisy, "
              f"{by_quality.get('unstable', 0)} unstable (points.csv quality_reason says why)",
              file=sys.stderr)
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

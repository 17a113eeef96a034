"""The manager's loop: one fresh worker process per point and repeat; never measures.

Repeats run round-robin (every point once, then every point again) so that slow
drift of a shared machine falls on all kernels alike. A worker that crashes, is
killed (the memory cgroup's OOM-kill counter tells the OOM killer apart) or times
out becomes a failed run with its exit status and the tail of its stderr; the run
goes on. Just before each worker starts, its estimated memory is checked against
what is available now, so a table the machine can no longer hold is skipped
instead of OOM-killed. If the manager itself is interrupted, the worker's whole
process group is stopped before the interruption propagates.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

from harness.machine.cgroup import read_cgroup_memory
from harness.execute.plan import Plan, Point
from harness.execute.reruns import run_with_retries
from harness.store.results import ResultStore
from harness.execute.signals import (Interrupted, SignalGuard, die_with_parent, signals_held,
                                     stop_process_group)

STDERR_TAIL_LINES = 15


@dataclass
class WorkerLauncher:
    """Builds and runs the worker command line; the one place it is spawned."""

    work_dir: Path
    llc_bytes: int
    # Another checkout to run the worker's code from (``harness ab``'s temporary worktree
    # of a revision): put first on the worker's sys.path, ahead of cwd and PYTHONPATH.
    code_dir: Path | None = None
    python: str = sys.executable
    counters: object = None  # a harness.counters.setup.CounterSetup, or None: no counting

    @property
    def groups(self) -> bool:
        """One worker per group of points (harness.execute.groups): not for another
        checkout's worker (``harness ab``), which may predate grouped specs."""
        return self.code_dir is None

    def command(self, spec_path: Path, result_path: Path) -> list[str]:
        if self.code_dir is not None:
            return [self.python, "-c", self.RUN_WORKER_FROM, str(self.code_dir), str(spec_path),
                    "--result", str(result_path)]
        return [self.python, "-m", "harness.worker", str(spec_path), "--result", str(result_path)]

    # python -c programs taking a checkout as argv[1]: run the worker from it, or say
    # where ``harness`` would be imported from.
    RUN_WORKER_FROM = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
                       "runpy.run_module('harness.worker', run_name='__main__', alter_sys=True)")
    IMPORTED_FROM = ("import os, sys; sys.argv[1:] and sys.path.insert(0, sys.argv[1]); "
                     "import harness; print(os.path.dirname(os.path.dirname(harness.__file__)))")

    def code_location(self) -> str:
        """The checkout a worker imports ``harness`` from: checked before measuring."""
        probe = [self.python, "-c", self.IMPORTED_FROM] + (
            [str(self.code_dir)] if self.code_dir is not None else [])
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"cannot import harness: {proc.stderr.strip()[-500:]}")
        return proc.stdout.strip()

    def run(self, point: Point, repeat: int) -> dict:
        stem = f"{point.point_id}.r{repeat}"
        spec_path = self.work_dir / f"{stem}.spec.json"
        result_path = self.work_dir / f"{stem}.result.json"
        spec = {"point": point.to_dict(), "repeat": repeat, "llc_bytes": self.llc_bytes}
        command = self.command(spec_path, result_path)
        worker_argv0 = command[0]
        if self.counters is not None:  # perf stat wraps the worker; spec gets its fifos
            command = self.counters.prepare(command, spec, self.work_dir, stem)
        outcome = self.spawn(command, worker_argv0, spec, spec_path, result_path, stem,
                             point.timeout_s)
        if self.counters is not None:
            try:
                outcome = self.counters.finish(spec, repeat, outcome, self.work_dir, stem,
                                               self.command)
            except Interrupted as exc:  # in the counting pass: the timed run is done
                outcome["counters_interrupted"] = f"interrupted by {exc} while counting"
                exc.outcome = outcome
                raise
        return outcome

    def run_group(self, points: list[Point], repeat: int) -> list[dict]:
        """One worker for ``points`` (one group, see harness.execute.groups)."""
        from harness.execute.grouprun import run_group

        return run_group(self, points, repeat)

    def spawn(self, command: list[str], worker_argv0: str, spec: dict, spec_path: Path,
              result_path: Path, stem: str, timeout_s: float) -> dict:
        """Run one worker process to its end (or kill it at ``timeout_s``): its outcome."""
        stderr_path = self.work_dir / f"{stem}.stderr"
        wrapped = command[0] != worker_argv0
        spec["spawned_at"] = time.time()
        spec_path.write_text(json.dumps(spec))
        result_path.unlink(missing_ok=True)
        oom_before = read_cgroup_memory().oom_kills
        started = time.monotonic()
        with open(stderr_path, "wb") as stderr, open(os.devnull, "wb") as devnull:
            proc = None
            try:
                with signals_held():  # a signal during the fork is handled after it
                    proc = subprocess.Popen(command, stdout=devnull, stderr=stderr,
                                            start_new_session=True,
                                            preexec_fn=die_with_parent)
                returncode = proc.wait(timeout=timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                returncode = proc.wait()
                timed_out = True
            except BaseException:  # interrupted: never leave a worker running behind us
                if proc is not None:
                    stop_process_group(proc)
                raise
        elapsed = time.monotonic() - started
        process = "worker"
        if wrapped and returncode < 0:
            process = "perf stat (around the worker)"
        elif wrapped and returncode == 0 and not timed_out:
            # perf exits 0 when its child dies by a signal and only says so on stderr.
            sig = signal_reported_by_perf(_tail(stderr_path), worker_argv0)
            returncode = -sig if sig else returncode
        oom_after = read_cgroup_memory().oom_kills
        oom_killed = None if oom_before is None or oom_after is None else oom_after > oom_before
        return interpret_outcome(returncode, timed_out, timeout_s, result_path,
                                 stderr_path, elapsed, oom_killed, process)


def _tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


_SIGNAL_BY_TEXT = {signal.strsignal(s): s for s in signal.valid_signals()
                   if signal.strsignal(s)}


def signal_reported_by_perf(stderr_tail: str, worker_argv0: str) -> int | None:
    """The signal that killed perf's child, from the line perf prints for it (pure).

    ``perf stat`` exits 0 when the command it runs is killed, and reports the death
    only with psignal(3): ``<argv0>: Killed``. Messages in another language than
    English are not recognised (the point then fails as "no result").
    """
    prefix = f"{worker_argv0}: "
    for line in reversed(stderr_tail.splitlines()):
        if line.startswith(prefix) and line[len(prefix):].strip() in _SIGNAL_BY_TEXT:
            return int(_SIGNAL_BY_TEXT[line[len(prefix):].strip()])
    return None


def interpret_outcome(returncode: int, timed_out: bool, timeout_s: float, result_path: Path,
                      stderr_path: Path, elapsed: float, oom_killed: bool | None = None,
                      process: str = "worker") -> dict:
    """Turn a finished worker into a run record: its result, or why there is none."""
    result = None
    if result_path.exists():
        try:
            result = json.loads(result_path.read_text())
        except (OSError, json.JSONDecodeError):
            result = None
    stderr_tail = _tail(stderr_path)
    if timed_out:
        return {"status": "failed", "reason": f"timed out after {timeout_s:g} s (killed)",
                "returncode": returncode, "stderr_tail": stderr_tail, "elapsed_s": elapsed}
    if returncode == 0 and result and result.get("status") == "ok":
        result["elapsed_s"] = elapsed
        return result
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() \
            else str(-returncode)
        if returncode == -signal.SIGKILL and oom_killed:
            hint = " by the OOM killer (the memory cgroup counted an OOM kill)"
        elif returncode == -signal.SIGKILL and oom_killed is None:
            hint = " (the OOM killer sends SIGKILL; its counter was not readable)"
        else:
            hint = ""
        reason = f"{process} killed by {name}{hint}"
    elif result and result.get("error"):
        reason = result["error"]
    else:
        reason = f"worker exited with status {returncode} and no result"
    return {"status": "failed", "reason": reason, "returncode": returncode,
            "stderr_tail": stderr_tail, "elapsed_s": elapsed,
            "traceback": (result or {}).get("traceback")}


@dataclass
class Side:
    """One version of the code under test: its name (empty for a plain run, BASE or NEW
    in ``harness ab``), how its worker is launched and where its runs are stored."""

    name: str
    launcher: "Launcher"
    store: ResultStore


class Launcher(Protocol):
    def run(self, point: Point, repeat: int) -> dict: ...


def side_order(repeat: int, index: int, sides: int = 2) -> tuple[int, ...]:
    """Which side goes first for a point: alternate (AB, BA, ...) so neither is always
    second and drift falls on both alike; one side simply runs."""
    if sides == 1:
        return (0,)
    return (0, 1) if (repeat + index) % 2 == 0 else (1, 0)


def run_plan(plan: Plan, store: ResultStore, launcher: Launcher,
             on_run: Callable[[Point, int, dict], None] = lambda p, r, o: None,
             guard: SignalGuard | None = None,
             memory_check: Callable[[Point], str | None] = lambda p: None) -> None:
    """Run every planned point ``repeats`` times with one launcher (see ``run_sides``)."""
    run_sides(plan, [Side("", launcher, store)], lambda side, p, r, o: on_run(p, r, o),
              guard, memory_check)


def run_sides(plan: Plan, sides: Sequence[Side],
              on_run: Callable[[Side, Point, int, dict], None] = lambda *a: None,
              guard: SignalGuard | None = None,
              memory_check: Callable[[Point], str | None] = lambda p: None) -> None:
    """Run every planned point ``repeats`` times at every side, storing as it goes.

    Round-robin over repeats (every point once, then every point again); with two sides
    each point's runs are back to back in alternating order. Launchers that measure
    groups (``groups`` true) get one worker per table and repeat (``grouprun``). Runs already in a side's
    store (a resumed directory) are not run again. The memory check runs just before
    each worker starts, against the memory available then.
    """
    guard = guard or SignalGuard()
    repeats = max((p.repeats for p in plan.runnable), default=0)
    if all(getattr(side.launcher, "groups", False) for side in sides):
        from harness.execute.grouprun import run_groups

        run_groups(plan, sides, on_run, guard, memory_check, repeats)
        return
    for repeat in range(repeats):
        for index, point in enumerate(plan.runnable):
            if repeat >= point.repeats:
                continue
            for which in side_order(repeat, index, len(sides)):
                side = sides[which]
                if repeat in side.store.runs.get(point.point_id, {}):
                    continue
                outcome = _run_one(point, repeat, side, guard, memory_check)
                on_run(side, point, repeat, outcome)


def _run_one(point: Point, repeat: int, side: Side, guard: SignalGuard,
             memory_check: Callable[[Point], str | None]) -> dict:
    """One worker run (or its refusal for want of memory), recorded at once."""
    guard.check()  # a signal whose Interrupted was dropped on the way stops us here
    refusal = memory_check(point)
    outcome, recorded = None, False
    try:
        if refusal:
            outcome = {"status": "skipped", "reason": refusal}
        else:
            outcome = side.launcher.run(point, repeat)
            if outcome.get("status") == "ok":  # noisy or unstable: run again, keep all
                outcome = run_with_retries(
                    outcome, point.quality_limits, lambda: side.launcher.run(point, repeat),
                    lambda attempt, record, why: side.store.record_set_aside(
                        point, repeat, attempt, record, why), guard.check)
        with guard.critical():
            side.store.record(point, repeat, outcome)
            recorded = True
            side.store.write("running")
    except Interrupted as exc:
        # A run that finished before the signal (during its counting pass, or just
        # before its record was written) is kept, not measured again.
        finished = getattr(exc, "outcome", None) or outcome  # reruns: the best attempt
        if not recorded and finished and finished.get("status") == "ok":
            with guard.critical(deliver=False):
                side.store.record(point, repeat, finished)
        raise
    return outcome

"""The manager's side of a grouped worker: one process measures several points of one
table (``harness.execute.groups``); each point still gets its own run record.

Counting stays per point. ``perf stat`` reports one total per process, at its exit,
so a worker that measured several points cannot say which counts were whose. The
grouped worker therefore runs without perf (the LRU model, computed per point inside
it, stays); each point that perf should count then gets a counting run of its own: a
group of one under ``perf stat``, exactly as points were measured before grouping,
whose counts (never its timings) are stored with the point. That costs one more worker
process per point and repeat. Where no hardware event can be counted (a VM without a
PMU) that process is not spent: the events keep their probed status, and the software
events that could count are marked ``not-counted`` with the reason.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from harness.counters import COUNTED, NOT_COUNTED
from harness.counters.perf import SOFTWARE_EVENTS
from harness.execute.plan import Point
from harness.execute.signals import Interrupted

NO_HARDWARE = ("not counted: no hardware event counts on this machine, so no counting "
               "run was spent on software events alone")


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _point_outcome(record: dict | None, worker: dict, elapsed_s: float) -> dict:
    """One point's outcome from its own result file, or from how the worker ended."""
    if record is not None and record.get("status") == "ok":
        return record | {"elapsed_s": elapsed_s}
    if record is not None:
        return {"status": "failed", "reason": record.get("error") or "failed in its group",
                "traceback": record.get("traceback"), "elapsed_s": elapsed_s,
                "stderr_tail": worker.get("stderr_tail", "")}
    reason = worker.get("reason") if worker.get("status") != "ok" else \
        "the group's worker ended without measuring this point"
    return {"status": "failed", "reason": f"{reason} (grouped worker; its other points "
            f"that finished first are kept)", "returncode": worker.get("returncode"),
            "stderr_tail": worker.get("stderr_tail", ""), "elapsed_s": elapsed_s,
            "traceback": worker.get("traceback")}


def _account(kept: list[dict], workers: list[dict], aside_phases: dict) -> None:
    """Every worker a group's attempts ran in, and the phases of its points' attempts set
    aside, stay on one kept record (``worker_runs``, ``set_aside_phases_ns``) for the
    duty cycle, unless a kept record already carries that worker as its ``group_run``."""
    holder = next((k for k in kept if k.get("status") == "ok"), None)
    if holder is None:
        return
    carried = {id(k["group_run"]) for k in kept if k.get("group_run")}
    extra = [w for w in workers if id(w) not in carried]
    if extra:
        holder["worker_runs"] = extra
    if aside_phases:
        holder["set_aside_phases_ns"] = dict(aside_phases)


def run_group(launcher, points: list[Point], repeat: int) -> list[dict]:
    """Measure ``points`` in one worker; their outcomes, in the order given."""
    work = launcher.work_dir
    stem = f"{points[0].point_id}.g{len(points)}.r{repeat}"
    spec_path, summary_path = work / f"{stem}.spec.json", work / f"{stem}.result.json"
    results = [work / f"{p.point_id}.r{repeat}.point.json" for p in points]
    for path in results:
        path.unlink(missing_ok=True)
    counters = launcher.counters
    spec = {"points": [p.to_dict() for p in points], "repeat": repeat,
            "llc_bytes": launcher.llc_bytes, "results": [str(p) for p in results],
            "counters": {"model": counters.model} if counters is not None and
            counters.model else None}
    command = launcher.command(spec_path, summary_path)
    try:
        worker = launcher.spawn(command, command[0], spec, spec_path, summary_path, stem,
                                sum(p.timeout_s for p in points))
    except Interrupted as exc:  # keep what the worker finished before the signal
        exc.outcomes = [(p, r) for p, r in ((p, _read(path)) for p, path in
                                            zip(points, results))
                        if r is not None and r.get("status") == "ok"]
        raise
    elapsed = worker.get("elapsed_s", 0.0)
    outcomes = [_point_outcome(_read(path), worker, elapsed) for path in results]
    phases = dict(worker.get("phases_ns") or {})
    if phases:  # what no phase covers: the process's exit, untimed setup steps
        tracked = sum(phases.values()) + sum(sum((o.get("phases_ns") or {}).values())
                                             for o in outcomes)
        phases["untracked"] = max(0, int(elapsed * 1e9) - tracked)
    outcomes[0]["group_run"] = {"points": len(points), "elapsed_s": elapsed,
                                "phases_ns": phases,
                                "order": worker.get("order"),
                                "status": worker.get("status"),
                                "reason": worker.get("reason")}
    if counters is not None:
        try:
            for i, (point, outcome) in enumerate(zip(points, outcomes)):
                outcomes[i] = count_point(launcher, point, repeat, outcome)
        except Interrupted as exc:  # while counting: the timed runs are done, kept
            for outcome in outcomes:
                outcome.setdefault("counters_interrupted", f"interrupted by {exc} while "
                                                           f"counting")
            exc.outcomes = [(p, o) for p, o in zip(points, outcomes)
                            if o.get("status") == "ok"]
            raise
    return outcomes


def _hardware_counted(perf) -> bool:
    return any(p["status"] == COUNTED and p["scope"] == "task"
               and perf.event_set.events[n].perf not in SOFTWARE_EVENTS
               for n, p in perf.probed.items())


def count_point(launcher, point: Point, repeat: int, outcome: dict) -> dict:
    """Add the counters of ``point`` to its timing outcome: perf's from a counting run of
    its own (a group of one, as before grouping), the rest as ``CounterSetup.finish``
    adds them (the model's figures came with the timing run)."""
    counters = launcher.counters
    stem = f"{point.point_id}.r{repeat}.count"
    spec = {"point": point.to_dict(), "repeat": repeat, "llc_bytes": launcher.llc_bytes}
    from_worker = outcome.get("counters") or {}
    if outcome.get("status") != "ok" or counters.perf is None:
        return counters.finish(spec, repeat, outcome, launcher.work_dir, stem,
                               launcher.command) if counters.perf is None else outcome
    perf = counters.perf
    if not _hardware_counted(perf):
        counters.perf = None  # finish() must not collect a run that did not happen
        try:
            outcome = counters.finish(spec, repeat, outcome, launcher.work_dir, stem,
                                      launcher.command)
        finally:
            counters.perf = perf
        events = {}
        for name, probed in perf.probed.items():
            detail = NO_HARDWARE if probed["status"] == COUNTED else probed["detail"]
            events[name] = {"perf": probed["perf"], "scope": probed["scope"], "value": None,
                            "unit": "", "running_fraction": None,
                            "status": NOT_COUNTED if probed["status"] == COUNTED
                            else probed["status"], "detail": detail}
        outcome["counters"]["perf"] = {"events": events, "output": "", "problem": NO_HARDWARE}
        return outcome
    spec_path = launcher.work_dir / f"{stem}.spec.json"
    result_path = launcher.work_dir / f"{stem}.result.json"
    command = launcher.command(spec_path, result_path)
    argv0 = command[0]
    command = counters.prepare(command, spec, launcher.work_dir, stem)
    spec["counters"].pop("model", None)  # the timing run's model figures stand
    counting = launcher.spawn(command, argv0, spec, spec_path, result_path, stem,
                              point.timeout_s)
    region = (counting.get("counters") or {}).get("region")
    if counting.get("status") != "ok":
        region = {"backend": "perf", "error": f"the counting run failed: "
                  f"{counting.get('reason')}"}
    outcome["counters"] = {"region": region, "model": from_worker.get("model")}
    outcome["counting_run"] = {"status": counting.get("status"),
                               "elapsed_s": counting.get("elapsed_s"),
                               "pid": counting.get("pid"),
                               "note": "perf counted this point in a run of its own; "
                                       "its timings are the grouped run's"}
    return counters.finish(spec, repeat, outcome, launcher.work_dir, stem, launcher.command)


def run_groups(plan, sides, on_run, guard, memory_check, repeats: int) -> None:
    """``run_sides`` with one worker per group and repeat: round-robin over repeats,
    groups in plan order; a group's runs already stored are not run again, so a
    partly done group reruns only its missing points."""
    from harness.execute.groups import group_points
    from harness.execute.runner import side_order

    groups = group_points(plan.runnable)
    for repeat in range(repeats):
        for index, group in enumerate(groups):
            members = [p for p in group if repeat < p.repeats]
            for which in side_order(repeat, index, len(sides)):
                side = sides[which]
                todo = [p for p in members
                        if repeat not in side.store.runs.get(p.point_id, {})]
                if todo:
                    _run_group_recorded(todo, repeat, side, guard, memory_check, on_run)


def _run_group_recorded(points, repeat, side, guard, memory_check, on_run) -> None:
    """One group's worker (after each point's memory check), every outcome recorded at
    once; then the points that came out noisy or unstable run again together, in one
    fresh worker per round (``harness.execute.reruns``), and each attempt kept replaces
    its point's record."""
    from harness.execute.reruns import run_group_with_retries

    guard.check()
    done = []
    ready = []
    for point in points:
        refusal = memory_check(point)
        if refusal:
            done.append((point, {"status": "skipped", "reason": refusal}))
        else:
            ready.append(point)
    recorded, retrying = 0, False
    try:
        if ready:
            done += list(zip(ready, side.launcher.run_group(ready, repeat)))
        with guard.critical():
            for point, outcome in done:
                side.store.record(point, repeat, outcome)
                recorded += 1
            side.store.write("running")
        firsts = [outcome for _, outcome in done]
        workers = [firsts[0]["group_run"]] if firsts and firsts[0].get("group_run") else []
        aside_phases: Counter = Counter()

        def set_aside(i, attempt, record, why):
            aside_phases.update(record.get("phases_ns") or {})
            side.store.record_set_aside(done[i][0], repeat, attempt, record, why)

        def run_again(indices):
            try:
                outcomes = side.launcher.run_group([done[i][0] for i in indices], repeat)
                if outcomes and outcomes[0].get("group_run"):
                    workers.append(outcomes[0]["group_run"])
                return outcomes
            except Interrupted as exc:  # its points finished before the signal, by index
                at = {id(done[i][0]): i for i in indices}
                exc.outcomes = [(at[id(p)], o) for p, o in getattr(exc, "outcomes", [])
                                if id(p) in at]
                raise

        retrying = True
        kept = run_group_with_retries(firsts, [p.quality_limits for p, _ in done], run_again,
                                      set_aside, guard.check)
        changed = [i for i, k in enumerate(kept) if k is not firsts[i]]
        _account(kept, workers, aside_phases)
        with guard.critical():
            for i in changed:
                side.store.record(done[i][0], repeat, kept[i])
            if changed:
                side.store.write("running")
        done = [(point, k) for (point, _), k in zip(done, kept)]
    except Interrupted as exc:
        # Points the worker finished before the signal are kept, not measured again;
        # a point interrupted in its retries keeps the best attempt that finished.
        outcomes = getattr(exc, "outcomes", [])
        if retrying:  # the retries settled every point: (index, the attempt kept)
            finished = [(done[i][0], o) for i, o in outcomes]
        else:
            finished = done[recorded:] + outcomes
        with guard.critical(deliver=False):
            for point, outcome in finished:
                if outcome.get("status") == "ok":
                    side.store.record(point, repeat, outcome)
        raise
    for point, outcome in done:
        on_run(side, point, repeat, outcome)

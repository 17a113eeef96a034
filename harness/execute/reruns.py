"""Run again what interference or instability spoiled, keeping every attempt.

After a worker run finishes ok, the manager classifies it (harness.store.quality). A
``noisy`` or ``unstable`` run is repeated in a fresh worker, up to ``retries`` times
(``measure.retries``). Every attempt stays on disk: the kept one as the repeat's record,
each other one in ``set-aside/r<repeat>.a<attempt>.json`` beside it with why it was set aside
(a folder, so that whatever lists ``raw/*/r*.json`` sees the used runs only),
and the kept record lists them under ``set_aside``. The kept attempt is the first
``ok`` one; when none is, the best of the rest (unstable before noisy, then the one
that lost least CPU to others, then the latest), which keeps its quality: a point still noisy after its retries says so.

Choosing among attempts by quality, never by speed, keeps the selection from favouring
the fast runs.

A grouped worker's points (``run_group_with_retries``) are retried together: each round,
the points of the group still not ``ok`` (and with retries left) run again in one fresh
worker of their own, so a retry costs one process start and one table build per group
and round, not per point. Run one by one, reruns were a third of a busy full sweep's
wall time (238 attempts set aside, each a worker that imported and built its tables).
"""

from __future__ import annotations

from typing import Callable

from harness.store.quality import classify_run

DEFAULT_RETRIES = 2
_RANK = {"ok": 0, "unstable": 1, "noisy": 2}


def run_with_retries(first: dict, limits: dict | None, run_again: Callable[[], dict],
                     set_aside: Callable[[int, dict, str], None],
                     before_each: Callable[[], None] = lambda: None) -> dict:
    """The run to keep for one repeat, given its ``first`` attempt (ok).

    ``run_again()`` launches a fresh worker; ``set_aside(attempt, record, reason)``
    stores an attempt that is not kept; ``before_each()`` runs before each retry (the
    signal guard's check). An interruption during a retry settles the attempts that
    finished (the others set aside) and carries the best as ``exc.outcome``, for the
    caller to record.
    """
    def again(indices):
        try:
            return [run_again()]
        except BaseException as exc:  # it finished before its counting pass stopped
            finished = getattr(exc, "outcome", None)
            exc.outcomes = [(0, finished)] if finished else []
            raise

    try:
        (kept,) = run_group_with_retries([first], [limits], again,
                                         lambda _i, n, record, why: set_aside(n, record, why),
                                         before_each)
    except BaseException as exc:
        exc.outcome = dict(getattr(exc, "outcomes", None) or []).get(0)
        raise
    return kept


def run_group_with_retries(firsts: list[dict], limits: list[dict | None],
                           run_again: Callable[[list[int]], list[dict]],
                           set_aside: Callable[[int, int, dict, str], None],
                           before_each: Callable[[], None] = lambda: None) -> list[dict]:
    """The runs to keep for a group's points at one repeat, given their ``firsts``
    (ok attempts, or other outcomes, which are kept as they are).

    ``run_again(indices)`` runs those points again in one fresh worker and returns
    their outcomes in that order; ``set_aside(index, attempt, record, reason)`` stores
    an attempt of point ``index`` that is not kept. An interruption settles every point
    with the attempts that finished and carries the kept runs as ``exc.outcomes``
    ([(index, record)] of the points that have an ok one), for the caller to record.
    """
    attempts = [[f] for f in firsts]
    verdicts = [[classify_run(f, lim)] if f.get("status") == "ok" else [("ok", "")]
                for f, lim in zip(firsts, limits)]

    def settle_all() -> list[dict]:
        return [_settle(a, v, lambda n, rec, why, i=i: set_aside(i, n, rec, why))
                if len(a) > 1 or a[0].get("status") == "ok" else a[0]
                for i, (a, v) in enumerate(zip(attempts, verdicts))]

    while True:
        todo = [i for i in range(len(firsts))
                if verdicts[i][-1][0] != "ok" and
                len(attempts[i]) <= (limits[i] or {}).get("retries", DEFAULT_RETRIES)]
        if not todo:
            return settle_all()
        try:
            before_each()
            outcomes = run_again(todo)
        except BaseException as exc:  # interrupted: the finished attempts survive
            finished = getattr(exc, "outcomes", None) or []
            for i, outcome in finished:  # the retry worker's points done before it
                if outcome.get("status") == "ok":
                    attempts[i].append(outcome)
                    verdicts[i].append(classify_run(outcome, limits[i]))
            kept = settle_all()
            exc.outcomes = [(i, k) for i, k in enumerate(kept) if k.get("status") == "ok"]
            raise
        for i, again in zip(todo, outcomes):
            attempts[i].append(again)
            verdicts[i].append(classify_run(again, limits[i]) if again.get("status") == "ok"
                               else ("failed", again.get("reason") or again.get("error")
                                     or "failed"))


def _settle(attempts: list[dict], verdicts: list[tuple[str, str]],
            set_aside: Callable[[int, dict, str], None]) -> dict:
    """Store every attempt but the best as set aside; the best, saying what was."""
    keep, kept = _best(attempts, verdicts)
    set_aside_list = []
    for index, (attempt, (quality, why)) in enumerate(zip(attempts, verdicts)):
        if index == keep:
            continue
        reason = f"{quality}: {why}" if why else quality
        set_aside(index, attempt, reason)
        set_aside_list.append({"attempt": index, "quality": quality, "reason": reason})
    if set_aside_list:
        kept = kept | {"set_aside": set_aside_list, "attempt": keep}
    kept["run_quality"], kept["run_quality_reason"] = verdicts[keep]
    return kept


def _sharing(run: dict) -> float:
    """How much of the CPUs the run lost to others (its worst figure; 0 if unknown)."""
    probe = run.get("interference") or {}
    return max(probe.get("interference_fraction") or 0, probe.get("steal_fraction") or 0,
               probe.get("runqueue_wait_fraction") or 0)


def _best(attempts: list[dict], verdicts: list[tuple[str, str]]) -> tuple[int, dict]:
    """(index, record) of the attempt to keep: best quality, least shared, latest."""
    ok = [i for i, a in enumerate(attempts) if a.get("status") == "ok"]
    index = min(ok, key=lambda i: (_RANK.get(verdicts[i][0], 3), _sharing(attempts[i]), -i))
    return index, attempts[index]

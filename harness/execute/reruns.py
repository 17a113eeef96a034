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
    retries = (limits or {}).get("retries", DEFAULT_RETRIES)
    attempts = [first]
    verdicts = [classify_run(first, limits)]
    while verdicts[-1][0] != "ok" and len(attempts) <= retries:
        try:
            before_each()
            again = run_again()
        except BaseException as exc:  # interrupted: the finished attempts survive
            if getattr(exc, "outcome", None) and exc.outcome.get("status") == "ok":
                attempts.append(exc.outcome)  # it finished before its counting pass stopped
                verdicts.append(classify_run(exc.outcome, limits))
            exc.outcome = _settle(attempts, verdicts, set_aside)
            raise
        attempts.append(again)
        verdicts.append(classify_run(again, limits) if again.get("status") == "ok"
                        else ("failed", again.get("reason") or again.get("error") or "failed"))
    return _settle(attempts, verdicts, set_aside)


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

"""Whether a run's and a point's numbers can be believed: ``ok``, ``noisy`` or ``unstable``.

- ``noisy``: something else had the pinned CPUs while the batches were timed: the CPU
  time other tasks got there (``interference_fraction``), the longest time a worker
  thread waited for its CPU (``runqueue_wait_fraction``), both against
  ``max_interference``, or the hypervisor's steal (``steal_fraction``) against
  ``max_steal`` (harness.execute.interference).
- ``unstable``: the latencies themselves spread: a run's per-batch IQR over its median
  (``batch_iqr_ratio``), or, with two or more runs, the range of the runs' medians over
  their median (``repeat_spread``), exceeded ``max_spread``.

Noisy wins over unstable (it names the cause). The limits are the scenario's
``measure:`` block; a run measured before this existed has no interference figures and
its point's columns stay empty ("not assessed"). Pure functions: reports and compare
read the result, never recompute it from other inputs.
"""

from __future__ import annotations

import statistics

QUALITIES = ("ok", "noisy", "unstable")
# A thread's run-queue wait shorter than this is not called interference, whatever its
# share of a short region: another CPU-bound task takes a CPU in scheduler slices of
# milliseconds, while sub-millisecond waits (a wakeup, a kworker) delay a batch or two,
# which the median does not see.
MIN_WAIT_NS = 1_000_000
# The defaults of schema.Measure: see benchmarks/results/interference.md for how they
# were chosen.
DEFAULT_LIMITS = {"max_interference": 0.05, "max_steal": 0.02, "max_spread": 0.5}


def iqr_ratio(values: list[float]) -> float | None:
    """(p75 - p25) / median of ``values``; None for fewer than 4 or a zero median."""
    if len(values) < 4:
        return None
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (q3 - q1) / median if median > 0 else None


def repeat_spread(medians: list[float]) -> float | None:
    """(largest - smallest) / median of the runs' medians; None for fewer than two."""
    if len(medians) < 2:
        return None
    middle = statistics.median(medians)
    return (max(medians) - min(medians)) / middle if middle > 0 else None


def _limits(limits: dict | None) -> dict:
    return DEFAULT_LIMITS | (limits or {})


def classify_run(run: dict, limits: dict | None = None) -> tuple[str, str]:
    """(quality, reason in words with the numbers) of one ok run record."""
    lim = _limits(limits)
    probe = run.get("interference") or {}
    noisy, unstable = [], []
    share, steal = probe.get("interference_fraction"), probe.get("steal_fraction")
    if share is not None and share > lim["max_interference"]:
        noisy.append(f"other tasks had {share:.0%} of the pinned CPUs "
                     f"(limit {lim['max_interference']:.0%})")
    wait, wait_ns = probe.get("runqueue_wait_fraction"), probe.get("runqueue_wait_ns")
    if wait is not None and wait > lim["max_interference"] \
            and (wait_ns is None or wait_ns >= MIN_WAIT_NS):
        noisy.append(f"a worker thread waited {wait:.0%} of the timed region for its CPU "
                     f"(limit {lim['max_interference']:.0%})")
    if steal is not None and steal > lim["max_steal"]:
        noisy.append(f"steal {steal:.0%} (limit {lim['max_steal']:.0%})")
    spread = iqr_ratio(run.get("values_ns") or [])
    if spread is not None and spread > lim["max_spread"]:
        unstable.append(f"batch IQR {spread:.0%} of the median (limit {lim['max_spread']:.0%})")
    if noisy:
        return "noisy", "; ".join(noisy + unstable)
    if unstable:
        return "unstable", "; ".join(unstable)
    return "ok", ""


def _worst(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def point_quality(runs: list[dict], limits: dict | None = None) -> dict:
    """The points.csv quality columns of a point from its ok runs (the ones used).

    Interference and spread are the worst over the runs (a point is as trustworthy as
    its worst run); switches and migrations are summed. Runs that carry no probe (older
    results) leave the interference columns and ``quality`` empty: not assessed.
    """
    empty = {"interference_fraction": None, "runqueue_wait_fraction": None,
             "steal_fraction": None,
             "involuntary_switches": None, "threads_migrated": None,
             "batch_iqr_ratio": None, "repeat_spread": None, "quality": None,
             "quality_reason": None}
    if not runs:
        return empty
    lim = _limits(limits)
    probes = [r.get("interference") for r in runs]
    out = dict(empty)
    out["batch_iqr_ratio"] = _worst(iqr_ratio(r.get("values_ns") or []) for r in runs)
    out["repeat_spread"] = repeat_spread([statistics.median(r["values_ns"]) for r in runs
                                          if r.get("values_ns")])
    if not any(probes):
        return out  # measured before interference was probed: not assessed
    out["interference_fraction"] = _worst(p.get("interference_fraction") for p in probes if p)
    out["runqueue_wait_fraction"] = _worst(p.get("runqueue_wait_fraction") for p in probes if p)
    out["steal_fraction"] = _worst(p.get("steal_fraction") for p in probes if p)
    out["involuntary_switches"] = sum(p.get("involuntary_switches") or 0 for p in probes if p)
    out["threads_migrated"] = sum(p.get("threads_migrated") or 0 for p in probes if p)
    verdicts = [classify_run(r, lim) for r in runs]
    reasons = [f"run {i + 1}: {why}" if len(runs) > 1 else why
               for i, (_, why) in enumerate(verdicts) if why]
    spread = out["repeat_spread"]
    if spread is not None and spread > lim["max_spread"]:
        reasons.append(f"run medians differ by {spread:.0%} (limit {lim['max_spread']:.0%})")
    # The tick counts need 0.1 s; the run-queue wait judges shorter regions alone. Only
    # a run with neither (no schedstat, or /proc unreadable) is said to be unjudged.
    unassessed = [p.get("reason") for p in probes if p and not p.get("assessed")
                  and p.get("runqueue_wait_fraction") is None]
    if unassessed:
        reasons.append(f"CPU sharing not assessed in {len(unassessed)} of {len(runs)} runs "
                       f"({unassessed[0]})")
    qualities = {q for q, _ in verdicts}
    if "noisy" in qualities:
        out["quality"] = "noisy"
    elif "unstable" in qualities or (spread is not None and spread > lim["max_spread"]):
        out["quality"] = "unstable"
    else:
        out["quality"] = "ok"
    out["quality_reason"] = "; ".join(reasons)
    return out


def quality_columns(runs: list[dict], limits: dict | None = None) -> dict:
    """Every quality column of points.csv for a point's used (ok) runs: ``point_quality``
    plus how the batches were sampled and how many attempts were set aside."""
    out = point_quality(runs, limits)
    sampled = [r.get("sampling") or {} for r in runs]
    taken = [s.get("batches_taken", len(r.get("values_ns") or [])) for s, r in zip(sampled, runs)]
    out["batches_taken"] = min(taken) if taken else None  # per run: the fewest
    out["ci_half_width"] = _worst(s.get("ci_half_width") for s in sampled)
    out["runs_set_aside"] = sum(len(r.get("set_aside") or []) for r in runs) if runs else None
    return out

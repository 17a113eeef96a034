"""Compare two runs point by point: the change, its confidence interval, a verdict.

Pure statistics over results already loaded (``harness.compare.inputs``); no I/O. The
verdict follows asv: a point is ``slower`` only when the change is beyond an
effect-size factor AND a significance test on the samples says it is not noise.
Either alone fails on shared machines: a threshold alone flaps (repeats differ
by 10-70%), a test alone flags 1% changes once there are enough samples.

- ``p50`` and ``ns_per_lookup``: ratio of median latencies per batch (new/base),
  a percentile-bootstrap confidence interval of that ratio (resampling whole
  worker runs when there are several), and a two-sided Mann-Whitney U test on
  the per-batch samples (both from scipy); significant when both agree.
- ``p99``: ratio of 99th percentiles; the test is the bootstrap (is 1.0 outside
  the interval, with the p-value that interval implies) since Mann-Whitney
  tests a shift of the whole distribution, not of its tail.
- ``speedup``: MEM-REC's in-run speedup over the baseline at the same sizes
  (baseline median / MEM-REC median, in one run), compared between runs with a
  four-sample bootstrap. Higher is better.
- any other points.csv column (e.g. ``llc_misses_per_lookup``): one value per
  point and run, so there is no sample to test; the factor alone decides, and
  the verdict says so. An empty value means "not counted": incomparable.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from harness.compare.noisy import judged_anyway, noisy_problems
from harness.errors import UsageError
from harness.limits.ceiling import ceiling_of

VERDICTS = ("slower", "faster", "same", "incomparable")
MIN_SAMPLES = 5          # per side, below which no test or interval means much
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20230512  # fixed: one set of results always gives one report
# points.csv columns where a larger value is the better one; any other is a cost.
HIGHER_IS_BETTER_COLUMNS = frozenset({"lookups_per_s", "gbytes_per_s", "compression", "ipc",
                                      "huge_page_fraction"})


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    unit: str                  # of the values shown: "ns", "ns/lookup", "x", or ""
    kind: str                  # "samples" | "speedup" | "column"
    quantile: float = 50.0     # for kind "samples"
    per_lookup: bool = False   # divide per-batch samples by lookups per batch
    column: str | None = None  # for kind "column"
    higher_is_better: bool = False


METRICS = {
    "p50": Metric("p50", "median latency per batch", "ns", "samples"),
    "p99": Metric("p99", "99th-percentile latency per batch", "ns", "samples", quantile=99.0),
    "ns_per_lookup": Metric("ns_per_lookup", "median ns per lookup", "ns/lookup", "samples",
                            per_lookup=True),
    "speedup": Metric("speedup", "MEM-REC speedup over the baseline in the same run", "x",
                      "speedup", higher_is_better=True),
}
ALIASES = {"latency_p50_ns": "p50", "latency_p99_ns": "p99", "latency": "p50"}


def metric_named(name: str) -> Metric:
    """A built-in metric, or the points.csv column of that name (checked by the caller)."""
    name = ALIASES.get(name, name)
    if name in METRICS:
        return METRICS[name]
    return Metric(name, name, "", "column", column=name,
                  higher_is_better=name in HIGHER_IS_BETTER_COLUMNS)


@dataclass
class PointData:
    """One point of one run, as comparison needs it."""

    point_id: str
    label: str
    identity: dict
    status: str                 # ok | failed | skipped | pending
    reason: str = ""
    runs: list[list[float]] = field(default_factory=list)  # per worker run: ns per batch
    lookups_per_batch: int = 1
    row: dict = field(default_factory=dict)                # its points.csv row, as text

    @property
    def key(self) -> str:
        return identity_key(self.identity)

    def run_values(self, per_lookup: bool = False) -> list[list[float]]:
        """Per-batch samples per run; per lookup when asked."""
        scale = self.lookups_per_batch if per_lookup else 1
        return [[v / scale for v in run] for run in self.runs]


@dataclass
class Change:
    """The comparison of one matched point."""

    point_id: str
    label: str
    verdict: str
    why: str
    base: float | None = None           # the metric's value in BASE
    new: float | None = None
    ratio: float | None = None          # new / base
    ci_low: float | None = None         # confidence interval of the ratio
    ci_high: float | None = None
    p_value: float | None = None        # the one the verdict used
    test: str = "none"
    mann_whitney_p: float | None = None
    bootstrap_p: float | None = None
    resampled: str | None = None        # what the bootstrap resampled: runs or batches
    base_samples: int = 0
    new_samples: int = 0
    base_runs: int = 0
    new_runs: int = 0
    new_failure: bool = False           # ok in BASE, failed in NEW: counts as a regression
    # --metric speedup only: the speedup NEW's machine allows (harness/limits/ceiling.py)
    # and the share of it NEW's speedup reached, or why there is none.
    ceiling: float | None = None
    ceiling_fraction: float | None = None
    ceiling_note: str | None = None
    noisy: bool = False                 # incomparable: flagged noisy/unstable (compare.noisy)

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(self).items()}


@dataclass
class Report:
    metric: Metric
    factor: float
    alpha: float
    changes: list[Change]
    only_in_base: list[str] = field(default_factory=list)
    only_in_new: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(c.verdict == verdict for c in self.changes)

    @property
    def noisy(self) -> list[Change]:
        """Points not judged because a side is noisy or unstable: neither pass nor fail."""
        return [c for c in self.changes if c.noisy]

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "slower" or c.new_failure]

    @property
    def comparable(self) -> int:
        return sum(c.verdict != "incomparable" for c in self.changes)

    @property
    def exit_status(self) -> int:
        """1: a significant regression beyond the factor, or a point that now fails;
        2: not one point could be compared (the report says why for each); else 0."""
        if self.regressions:
            return 1
        return 0 if self.comparable else 2


def identity_key(identity: dict) -> str:
    """A canonical string of a point's identity: equal exactly when the points match."""
    return json.dumps(identity, sort_keys=True, separators=(",", ":"))


# -- verdicts ---------------------------------------------------------------------

def _pct(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.1f}%"


def decide(ratio: float, p_value: float | None, factor: float, alpha: float,
           higher_is_better: bool = False) -> tuple[str, str]:
    """asv's rule: beyond ``factor`` AND significant at ``alpha`` (p None: factor alone)."""
    worse = ratio < 1 / factor if higher_is_better else ratio > factor
    better = ratio > factor if higher_is_better else ratio < 1 / factor
    bound = f"{_pct(1 / factor if higher_is_better else factor)}"
    if not (worse or better):
        return "same", f"{_pct(ratio)} is within the factor {factor:g}"
    if p_value is not None and not p_value < alpha:
        return "same", f"{_pct(ratio)} but not significant (p={p_value:.3g} >= alpha {alpha:g})"
    evidence = (f"p={p_value:.3g} < {alpha:g}" if p_value is not None
                else "one value per side: factor alone, no significance test")
    if worse:
        return "slower", f"{_pct(ratio)} beyond {bound}, {evidence}"
    return "faster", f"{_pct(ratio)} beyond {_pct(factor if higher_is_better else 1 / factor)}, " \
                     f"{evidence}"


# -- statistics -----------------------------------------------------------------

class _Runs:
    """One side's runs as a NaN-padded matrix, so resampled run indices gather whole runs."""

    def __init__(self, runs: list[list[float]]):
        width = max(len(r) for r in runs)
        self.matrix = np.full((len(runs), width), np.nan)
        for i, run in enumerate(runs):
            self.matrix[i, :len(run)] = run
        self.ragged = any(len(r) != width for r in runs)

    def quantile(self, run_indices: np.ndarray, q: float) -> np.ndarray:
        pooled = self.matrix[run_indices.astype(np.intp)]
        pooled = pooled.reshape(*run_indices.shape[:-1], -1)
        return (np.nanpercentile if self.ragged else np.percentile)(pooled, q, axis=-1)


def bootstrap_change(groups: list[list[list[float]]], combine, q: float, alpha: float,
                     n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                     ) -> dict:
    """Percentile-bootstrap (1 - alpha) interval and p-value of ``combine`` of quantiles.

    ``groups`` are runs of per-batch samples (two groups: BASE, NEW; four for the
    speedup). Batches of one worker process are not independent draws: they share
    its memory layout, its calibration and whatever the machine did meanwhile. So
    when every group has two runs or more, whole runs are resampled (a cluster
    bootstrap) and the interval widens when runs disagree; with one run per side
    only the batches can be resampled, and the result says so.

    The p-value is the one the percentile interval implies: twice the share of
    resampled ratios on the far side of 1.0 (at least 1 / (resamples + 1)), so
    "p < alpha" and "1.0 is outside the interval" agree.
    """
    by_run = all(len(g) >= 2 for g in groups)
    if by_run:
        clustered = [_Runs(g) for g in groups]
        data = tuple(np.arange(len(g)) for g in groups)

        def statistic(*resampled, axis=-1):
            return combine(*(c.quantile(r, q) for c, r in zip(clustered, resampled)))
    else:
        data = tuple(np.array([v for run in g for v in run], dtype=np.float64) for g in groups)

        def statistic(*resampled, axis=-1):
            return combine(*(np.percentile(r, q, axis=axis) for r in resampled))
    pooled = [np.array([v for run in g for v in run], dtype=np.float64) for g in groups]
    estimate = float(combine(*(np.percentile(x, q) for x in pooled)))
    result = stats.bootstrap(data, statistic, n_resamples=n_resamples, vectorized=True,
                             confidence_level=1 - alpha, method="percentile",
                             random_state=np.random.default_rng(seed), batch=500)
    dist = result.bootstrap_distribution
    tail = np.mean(dist <= 1.0) if estimate > 1.0 else np.mean(dist >= 1.0)
    return {"ratio": estimate, "ci_low": float(result.confidence_interval.low),
            "ci_high": float(result.confidence_interval.high),
            "bootstrap_p": float(min(1.0, max(2 * tail, 1 / (n_resamples + 1)))),
            "resampled": "runs" if by_run else "batches"}


def _too_few(groups: list[list[list[float]]]) -> str | None:
    counts = [sum(len(r) for r in g) for g in groups]
    if min(counts) < MIN_SAMPLES:
        return f"too few samples ({', '.join(map(str, counts))}; need {MIN_SAMPLES} each)"
    return None


def compare_samples(base: list[list[float]], new: list[list[float]], factor: float,
                    alpha: float, quantile: float = 50.0) -> dict:
    """Change of a quantile of per-batch latencies, given per run: ratio, interval, verdict.

    The median is tested twice: Mann-Whitney U on the per-batch samples and the
    bootstrap above; it is significant only when both say so (an intersection-union
    test, still of level alpha), because Mann-Whitney alone takes a few percent of
    run-to-run difference for certainty once there are a few hundred batches. A
    tail quantile is tested by the bootstrap alone: Mann-Whitney tests a shift of
    the whole distribution, not of its tail.
    """
    base = [list(r) for r in base if len(r)]
    new = [list(r) for r in new if len(r)]
    out = {"base_samples": sum(map(len, base)), "new_samples": sum(map(len, new)),
           "base_runs": len(base), "new_runs": len(new)}
    problem = _too_few([base, new])
    if problem:
        return out | {"verdict": "incomparable", "why": problem}
    flat_base = np.concatenate([np.asarray(r, dtype=np.float64) for r in base])
    flat_new = np.concatenate([np.asarray(r, dtype=np.float64) for r in new])
    b, n = float(np.percentile(flat_base, quantile)), float(np.percentile(flat_new, quantile))
    out |= {"base": b, "new": n}
    if b <= 0:
        return out | {"verdict": "incomparable",
                      "why": "the BASE value is not positive; a ratio means nothing"}
    boot = bootstrap_change([base, new], lambda x, y: y / x, quantile, alpha)
    if quantile == 50.0:
        mwu_p = float(stats.mannwhitneyu(flat_base, flat_new, alternative="two-sided").pvalue)
        p_value, test = max(mwu_p, boot["bootstrap_p"]), "mann-whitney-u+bootstrap"
    else:
        mwu_p, p_value, test = None, boot["bootstrap_p"], "bootstrap"
    verdict, why = decide(boot["ratio"], p_value, factor, alpha)
    return out | boot | {"mann_whitney_p": mwu_p, "p_value": p_value, "test": test,
                         "verdict": verdict, "why": why}


def compare_speedups(base_bl, base_mr, new_bl, new_mr, factor: float, alpha: float) -> dict:
    """Change of MEM-REC's in-run speedup over the baseline (higher is better).

    Each argument is a list of runs of per-batch latencies; the speedup of a run
    directory is its baseline median over its MEM-REC median.
    """
    groups = [[list(r) for r in g if len(r)] for g in (base_bl, base_mr, new_bl, new_mr)]
    out = {"base_samples": sum(map(len, groups[1])), "new_samples": sum(map(len, groups[3])),
           "base_runs": len(groups[1]), "new_runs": len(groups[3])}
    problem = _too_few(groups)
    if problem:
        return out | {"verdict": "incomparable", "why": problem}
    medians = [float(np.median([v for r in g for v in r])) for g in groups]
    if min(medians) <= 0:
        return out | {"verdict": "incomparable", "why": "a median latency is not positive"}
    out |= {"base": medians[0] / medians[1], "new": medians[2] / medians[3]}
    boot = bootstrap_change(groups, lambda bb, bm, nb, nm: (nb / nm) / (bb / bm), 50.0, alpha)
    verdict, why = decide(boot["ratio"], boot["bootstrap_p"], factor, alpha,
                          higher_is_better=True)
    return out | boot | {"p_value": boot["bootstrap_p"], "test": "bootstrap",
                         "verdict": verdict, "why": why}


def compare_values(base: float, new: float, factor: float, higher_is_better: bool) -> dict:
    """Change of one value per side (a points.csv column): the factor alone decides."""
    if base == 0 and new == 0:
        return {"base": base, "new": new, "ratio": 1.0, "verdict": "same", "why": "0 in both"}
    if base == 0 and new > 0:  # a cost (or a benefit) that was nothing and now is not
        verdict = "faster" if higher_is_better else "slower"
        return {"base": base, "new": new, "ratio": None, "verdict": verdict,
                "why": f"0 in BASE, {new:g} in NEW"}
    if base < 0 or new < 0:
        return {"base": base, "new": new, "verdict": "incomparable",
                "why": f"BASE is {base:g}, NEW is {new:g}: a ratio means nothing"}
    ratio = new / base
    verdict, why = decide(ratio, None, factor, 0.0, higher_is_better)
    return {"base": base, "new": new, "ratio": ratio, "verdict": verdict, "why": why}


# -- matching and the whole comparison ----------------------------------------------

def match_points(base: list[PointData], new: list[PointData],
                 ) -> tuple[list[tuple[PointData, PointData]], list[str], list[str]]:
    """Pair points by identity, in NEW's order; also the point ids found on one side only."""
    by_key = {}
    for side, points in (("BASE", base), ("NEW", new)):
        seen = {}
        for p in points:
            if p.key in seen:
                raise UsageError(f"{side}: points {seen[p.key]} and {p.point_id} have the same "
                                 f"identity; cannot tell which to compare")
            seen[p.key] = p.point_id
        by_key[side] = {p.key: p for p in points}
    pairs = [(by_key["BASE"][p.key], p) for p in new if p.key in by_key["BASE"]]
    only_base = [p.point_id for p in base if p.key not in by_key["NEW"]]
    only_new = [p.point_id for p in new if p.key not in by_key["BASE"]]
    return pairs, only_base, only_new


def _usable_despite_failures(p: PointData, metric: Metric) -> bool:
    """A point with some failed runs still has its ok runs' samples: enough to compare?"""
    return (p.status == "failed" and metric.kind == "samples"
            and sum(len(r) for r in p.runs) >= MIN_SAMPLES)


def _status_problem(b: PointData, n: PointData, metric: Metric) -> Change | None:
    for side, p in (("BASE", b), ("NEW", n)):
        if p.status != "ok" and not _usable_despite_failures(p, metric):
            why = f"{p.status} in {side}" + (f": {p.reason}" if p.reason else "")
            return Change(n.point_id, n.label, "incomparable", why,
                          new_failure=side == "NEW" and p.status == "failed"
                          and b.status == "ok")
    return None


def _partial_failures(b: PointData, n: PointData) -> str:
    """What the ok runs compared above leave out: failed runs of either side."""
    return "; ".join(f"{side} {p.reason}" for side, p in (("BASE", b), ("NEW", n))
                     if p.status == "failed")


def baseline_partner(point: PointData, points: list[PointData]) -> PointData | None:
    """The baseline point of the same run at the same sizes and backend as ``point``."""
    want = dict(point.identity, kernel="baseline",
                params={"backend": point.identity["params"].get("backend", "torch")})
    key = identity_key(want)
    return next((p for p in points if p.key == key), None)


def _column_change(b: PointData, n: PointData, metric: Metric, factor: float) -> dict:
    col = metric.column
    values = {}
    for side, p in (("BASE", b), ("NEW", n)):
        if col not in p.row:
            return {"verdict": "incomparable",
                    "why": f"{side}'s points.csv has no column {col} (an older harness?)"}
        text = (p.row.get(col) or "").strip()
        if text == "":
            status = (p.row.get(f"{col}_status") or p.row.get(f"{col}_source") or "").strip()
            return {"verdict": "incomparable",
                    "why": f"not counted in {side}" + (f" ({status})" if status else "")}
        try:
            values[side] = float(text)
        except ValueError:
            return {"verdict": "incomparable", "why": f"{side}: {col}={text!r} is not a number"}
        if not math.isfinite(values[side]):
            return {"verdict": "incomparable", "why": f"{side}: {col} is {text}"}
    sources = [(p.row.get(f"{col}_source") or "").strip() for p in (b, n)]
    if sources[0] != sources[1]:
        return {"verdict": "incomparable",
                "why": f"counted by {sources[0] or '?'} in BASE but {sources[1] or '?'} in NEW"}
    return compare_values(values["BASE"], values["NEW"], factor, metric.higher_is_better)


def check_options(metric: Metric, factor: float, alpha: float) -> None:
    """--factor, --alpha and --metric, before anything is measured (``harness ab``)."""
    if not factor >= 1.0:
        raise UsageError(f"--factor must be at least 1.0, got {factor:g}")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be between 0 and 1, got {alpha:g}")
    from harness.store.results import POINT_COLUMNS

    if metric.kind == "column" and metric.column not in POINT_COLUMNS:
        raise UsageError(f"--metric {metric.name}: not a built-in metric ({', '.join(METRICS)})"
                         f" and not a points.csv column")


def compare_runs(base: list[PointData], new: list[PointData], metric: Metric,
                 factor: float, alpha: float, new_limits: dict | None = None,
                 include_noisy: bool = False) -> Report:
    """Compare every point of NEW with its match in BASE on ``metric``; a point flagged
    noisy or unstable on a side is not judged unless ``include_noisy``.

    ``new_limits``: a limits result of NEW's machine; with ``--metric speedup`` each
    change then carries the ceiling computed from it (else the one NEW stored).
    """
    if not factor >= 1.0:
        raise UsageError(f"--factor must be at least 1.0, got {factor:g}")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be between 0 and 1, got {alpha:g}")
    if metric.kind == "column" and not any(metric.column in p.row for p in base + new):
        numeric = sorted({c for p in base + new for c in p.row} - {"point_id", "label"})
        raise UsageError(f"--metric {metric.name}: not a built-in metric "
                         f"({', '.join(METRICS)}) and no points.csv column of that name; "
                         f"columns: {', '.join(numeric) or 'none'}")
    pairs, only_base, only_new = match_points(base, new)
    if not pairs:
        raise UsageError(f"no common points: BASE has {len(base)}, NEW has {len(new)}, and no "
                         f"identity (kernel, parameters, sizes, threads) is in both")
    report = Report(metric, factor, alpha, [], only_base, only_new)
    for b, n in pairs:
        if metric.kind == "speedup" and n.identity["kernel"] != "memrec":
            continue
        problem = _status_problem(b, n, metric)
        if problem:
            report.changes.append(problem)
            continue
        sides = [("BASE", b), ("NEW", n)]
        if metric.kind == "speedup":  # the baselines it divides by count too
            sides += [("BASE", baseline_partner(b, base)), ("NEW", baseline_partner(n, new))]
        noisy = noisy_problems(sides)
        if noisy and not include_noisy:
            report.changes.append(Change(n.point_id, n.label, "incomparable",
                                         "; ".join(noisy), noisy=True))
            continue
        if metric.kind == "samples":
            fields = compare_samples(b.run_values(metric.per_lookup),
                                     n.run_values(metric.per_lookup), factor, alpha,
                                     metric.quantile)
        elif metric.kind == "speedup":
            partners = (baseline_partner(b, base), baseline_partner(n, new))
            missing = [side for side, p in zip(("BASE", "NEW"), partners)
                       if p is None or p.status != "ok"]
            if missing:
                fields = {"verdict": "incomparable",
                          "why": f"no measured baseline at the same sizes and backend in "
                                 f"{' and '.join(missing)}"}
            else:
                fields = compare_speedups(partners[0].runs, b.runs, partners[1].runs, n.runs,
                                          factor, alpha)
                fields |= ceiling_of(n.row, partners[1].row, fields.get("new"), new_limits)
        else:
            fields = _column_change(b, n, metric, factor)
        partial = _partial_failures(b, n)
        if partial:  # compared on the ok runs; a run failing now that did not before counts
            fields["why"] = f"{fields.get('why', '')} (ok runs only; {partial})".strip()
            fields["new_failure"] = n.status == "failed" and b.status == "ok"
        if noisy:
            fields["why"] = fields.get("why", "") + judged_anyway(noisy)
        report.changes.append(Change(n.point_id, n.label, **fields))
    if metric.kind == "speedup" and not report.changes:
        raise UsageError("--metric speedup: no MEM-REC point is in both runs")
    single = sum(c.resampled == "batches" for c in report.changes)
    if single:
        report.notes.append(f"{single} point(s) have a single run on a side: their intervals "
                            f"and tests cannot see run-to-run variance (use repeats >= 3)")
    return report

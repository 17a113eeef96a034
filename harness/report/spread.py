"""Spreads drawn as error bars, as pure functions of stored values.

Latency figures show the interquartile range of per-batch latency (points.csv's
p25 and p75). A speedup is a ratio of two medians, so its bar is a 95% bootstrap
confidence interval: both samples are resampled together, with a fixed seed so a
regenerated report is identical.
"""

from __future__ import annotations

import math

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20230512  # fixed: the same results always give the same figure


def ratio_of_medians_ci(numerator, denominator, *, level: float = 0.95,
                        resamples: int = BOOTSTRAP_RESAMPLES,
                        seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of median(numerator) / median(denominator).

    Returns (nan, nan) when either sample is empty: no interval is better than a
    made-up one.
    """
    a = np.asarray(numerator, dtype=float)
    b = np.asarray(denominator, dtype=float)
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    med_a = np.median(rng.choice(a, size=(resamples, a.size)), axis=1)
    med_b = np.median(rng.choice(b, size=(resamples, b.size)), axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(med_a / med_b, [tail, 100 - tail])
    return float(lo), float(hi)

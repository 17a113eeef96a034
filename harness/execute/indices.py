"""The id streams a worker feeds its kernel: uniform, bounded Zipf, or a trace.

Streams are generated before timing from a seed, so every kernel at a point sees
the same ids and any stream can be regenerated exactly (e.g. by a cache model).
"""

from __future__ import annotations

import math

import numpy as np


def _coprime_multiplier(rows: int, rng: np.random.Generator) -> int:
    """A multiplier < 2**22 coprime to ``rows``: (rank * m + c) % rows permutes ranks."""
    if rows <= 2:
        return 1
    while True:
        m = int(rng.integers(1 << 20, 1 << 22)) | 1
        if math.gcd(m, rows) == 1 and m % rows != 1:
            return m


def zipf_ranks(rng: np.random.Generator, rows: int, n: int, alpha: float) -> np.ndarray:
    """Ranks in [0, rows) with P(rank r) ~ (r + 1) ** -alpha (bounded Zipf).

    Inverse-CDF sampling of the continuous power law on [1, rows + 1), floored:
    O(1) memory for any vocabulary, where an exact discrete CDF of 40M rows would
    need 320 MB. The head probabilities differ from the discrete law by a few %.
    """
    u = rng.random(n)
    top = float(rows + 1)
    if abs(alpha - 1.0) < 1e-9:
        x = np.power(top, u)
    else:
        a = 1.0 - alpha
        x = np.power(1.0 + u * (top ** a - 1.0), 1.0 / a)
    return np.clip(np.floor(x).astype(np.int64) - 1, 0, rows - 1)


def zipf_scatter(rows: int, rng: np.random.Generator) -> tuple[int, int]:
    """(multiplier, offset) that place Zipf ranks over a table: ``(rank * m + c) % rows``."""
    return _coprime_multiplier(rows, rng), int(rng.integers(0, rows))


def make_ids(dist: dict, rows: int, n: int, rng: np.random.Generator,
             trace: np.ndarray | None = None, trace_start: int = 0,
             scatter: tuple[int, int] | None = None) -> np.ndarray:
    """``n`` ids in [0, rows) drawn from distribution ``dist``.

    For Zipf, ``scatter`` fixes where each rank lives; a stream of several calls must
    pass the same one (``make_batches`` does), or its hot ids move between calls.
    """
    name = dist["name"]
    if name == "uniform":
        return rng.integers(0, rows, size=n, dtype=np.int64)
    if name == "zipf":
        ranks = zipf_ranks(rng, rows, n, dist["alpha"])
        # Scatter popular ranks over the table, as real vocabularies do: the hottest
        # ids are not neighbours in memory.
        mult, offset = scatter or zipf_scatter(rows, rng)
        return (ranks * mult + offset) % rows
    if name == "trace":
        if trace is None:
            raise ValueError("a trace distribution needs the trace's ids")
        positions = (np.arange(n, dtype=np.int64) + trace_start) % trace.shape[0]
        # Trace ids larger than the table fold onto it; the worker records that.
        return np.asarray(trace[positions], dtype=np.int64) % rows
    raise ValueError(f"unknown distribution {name!r}")


def make_batches(dist: dict, rows: int | list[int], batch_size: int, pooling: int,
                 features: int, count: int, seed: int,
                 trace: np.ndarray | None = None) -> list[list[tuple]]:
    """``count`` batches; each a list (one per feature) of (ids, offsets) arrays.

    ``rows`` is every feature's vocabulary size, or a list of one per feature.
    """
    rows_of = rows if isinstance(rows, list) else [rows] * features
    rng = np.random.default_rng(seed)
    # One placement of the Zipf ranks per feature for the whole stream: the same ids stay
    # hot from batch to batch, which is the reuse a skewed stream exists to measure.
    place = np.random.default_rng([*np.atleast_1d(seed).tolist(), 0x5CA7])
    scatters = [zipf_scatter(r, place) if dist["name"] == "zipf" else None for r in rows_of]
    per_feature = batch_size * pooling
    offsets = np.arange(batch_size, dtype=np.int64) * pooling
    batches = []
    for b in range(count):
        feats = []
        for f in range(features):
            start = (b * features + f) * per_feature
            ids = make_ids(dist, rows_of[f], per_feature, rng, trace, start, scatters[f])
            feats.append((ids, offsets))
        batches.append(feats)
    return batches

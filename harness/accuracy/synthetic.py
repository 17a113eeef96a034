"""A Criteo-like click stream drawn from a known model, so the best AUC is known.

Shape as Criteo's: 13 dense count features and 26 categorical features, whose
cardinalities are Criteo Kaggle's scaled down (features with few values kept as
they are). Ids follow a finite Zipf law (rank r drawn with probability
proportional to (r+1)^-alpha, ranks shuffled onto ids so that an id's number says
nothing about its frequency: QR and TT-Rec, which address by the id, get no help).

Labels come from a factorisation machine: every id has a bias and a latent vector,
the dense features a linear term and a projection into the same latent space, and

    logit = b0 + dense term + sum_f bias_f(id_f) + sum over pairs <v_i, v_j>

(pairs of all 27 latent vectors, feature interactions). ``y ~ Bernoulli(sigmoid)``.
The generator's own probabilities rank the test set as well as anything can: their
AUC and log loss are the best achievable ones, reported beside every model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Criteo Kaggle (Display Advertising Challenge) distinct values of C1..C26, as the
# reference DLRM counts them on the full training file.
CRITEO_KAGGLE_CARDINALITIES = (
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
    27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572)
DENSE_FEATURES = 13
CATEGORICAL_FEATURES = 26


@dataclass
class ClickData:
    """Samples as arrays: ``dense`` (n, 13) float32 counts, ``ids`` (n, 26) int64
    (feature f's ids in [0, rows[f])), ``labels`` (n,) float32 0/1, and for synthetic
    data the generator's probabilities ``best_p`` (n,) (None for real data)."""

    dense: np.ndarray
    ids: np.ndarray
    labels: np.ndarray
    rows: list[int]
    best_p: np.ndarray | None = None

    def __len__(self) -> int:
        return self.labels.shape[0]

    def slice(self, start: int, stop: int) -> "ClickData":
        p = None if self.best_p is None else self.best_p[start:stop]
        return ClickData(self.dense[start:stop], self.ids[start:stop],
                         self.labels[start:stop], self.rows, p)


def scaled_cardinalities(scale: float, min_rows: int) -> list[int]:
    """Criteo Kaggle's cardinalities times ``scale``; ones below ``min_rows`` kept."""
    return [c if c <= min_rows else max(min_rows, round(c * scale))
            for c in CRITEO_KAGGLE_CARDINALITIES]


def zipf_ids(rng: np.random.Generator, rows: int, alpha: float, n: int,
             ids_by_rank: np.ndarray | None = None) -> np.ndarray:
    """``n`` ids in [0, rows) with finite-Zipf frequencies; rank r is id
    ``ids_by_rank[r]`` (default: a shuffle drawn from ``rng``)."""
    weights = (np.arange(1, rows + 1, dtype=np.float64)) ** -alpha
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    if ids_by_rank is None:
        ids_by_rank = rng.permutation(rows)
    ranks = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), rows - 1)
    return ids_by_rank[ranks]


def generate(cfg, seed: int) -> tuple[ClickData, ClickData]:
    """Train and test sets from the generating model of ``seed`` (``cfg``: the
    scenario's ``synthetic:`` block). The model (cardinalities, id shuffles, biases,
    latent vectors, dense weights, intercept) comes from its own random stream, so a
    quick run with fewer samples draws from the same model as the full one."""
    model_rng = np.random.default_rng([seed, 0])
    sample_rng = np.random.default_rng([seed, 1])
    rows = scaled_cardinalities(cfg.cardinality_scale, cfg.min_rows)
    n = cfg.train_samples + cfg.test_samples
    r, fields = cfg.latent_dim, CATEGORICAL_FEATURES + 1
    # Variances chosen so each part of the logit has a standard deviation of about its
    # scale: 26 biases, and 351 pairwise products of r-dimensional vectors.
    bias_sd = cfg.bias_scale / np.sqrt(CATEGORICAL_FEATURES)
    pairs = fields * (fields - 1) / 2
    latent_sd = (cfg.interaction_scale ** 2 / (pairs * r)) ** 0.25

    mu = model_rng.uniform(0.5, 3.0, DENSE_FEATURES)
    sigma = model_rng.uniform(0.5, 1.5, DENSE_FEATURES)
    dense_w = model_rng.normal(0, cfg.dense_scale / np.sqrt(DENSE_FEATURES), DENSE_FEATURES)
    dense_v = model_rng.normal(0, latent_sd / np.sqrt(DENSE_FEATURES), (DENSE_FEATURES, r))
    # Standardise log(1+x) by the model's own moments (a fixed reference draw), not the
    # sample's, so the same sample means the same thing at any sample count.
    reference = np.log1p(np.floor(model_rng.lognormal(mu, sigma, (100_000, DENSE_FEATURES))))
    centre, scale = reference.mean(0), reference.std(0) + 1e-9
    features = [(model_rng.permutation(rows_f), model_rng.normal(0, bias_sd, rows_f),
                 model_rng.normal(0, latent_sd, (rows_f, r))) for rows_f in rows]

    def draw(rng: np.random.Generator, count: int):
        """``count`` samples: dense counts, ids, and their logits before the intercept."""
        dense = np.floor(rng.lognormal(mu, sigma, (count, DENSE_FEATURES))).astype(np.float32)
        z = (np.log1p(dense) - centre) / scale
        logit = z @ dense_w
        total = z @ dense_v
        squares = (total ** 2).sum(1)
        ids = np.empty((count, CATEGORICAL_FEATURES), dtype=np.int64)
        for f, (ids_by_rank, bias, latent) in enumerate(features):
            ids[:, f] = zipf_ids(rng, rows[f], cfg.zipf_alpha, count, ids_by_rank)
            v = latent[ids[:, f]]
            logit += bias[ids[:, f]]
            total += v
            squares += (v ** 2).sum(1)
        return dense, ids, logit + 0.5 * ((total ** 2).sum(1) - squares)  # pairs i<j

    # The intercept that gives the target click rate, from a reference draw of the model.
    intercept = _intercept(draw(model_rng, 50_000)[2], cfg.ctr)
    dense, ids, logit = draw(sample_rng, n)
    logit += intercept
    p = 1.0 / (1.0 + np.exp(-logit))
    labels = (sample_rng.random(n) < p).astype(np.float32)
    data = ClickData(dense, ids, labels, rows, p)
    return data.slice(0, cfg.train_samples), data.slice(cfg.train_samples, n)


def _intercept(logit: np.ndarray, ctr: float) -> float:
    """The b0 that makes the mean click probability ``ctr`` (bisection)."""
    low, high = -20.0, 20.0
    for _ in range(60):
        mid = (low + high) / 2
        if (1.0 / (1.0 + np.exp(-(logit + mid)))).mean() < ctr:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def describe(cfg) -> dict:
    """What the manifest records about the stream (the generating model's settings)."""
    return {"source": "synthetic", **cfg.model_dump(),
            "rows": scaled_cardinalities(cfg.cardinality_scale, cfg.min_rows)}

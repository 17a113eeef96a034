"""How a point's features map onto kernel instances and bags (per-feature or shared).

``per-feature``: one kernel per feature, each with its own tables, and one bag per
sample and feature. ``shared``: one kernel for all features and one bag per
sample holding every feature's ids, as MEM-REC's reference code lays out
Criteo-TB (one token table, a bag of 26*K token indices per sample). In the
shared layout a hashed kernel sees feature-salted keys (``id + f *
FEATURE_SALT``), and a kernel that addresses rows by id (baseline, QR) sees the
tables stacked (``id + rows of features 0..f-1``). How MEM-REC pools such a bag is
its ``combine`` parameter, resolved by the planner (per_bag, the reference's rule,
unless the scenario says otherwise). The worker calls these before
timing; keys are formed there, outside the timed region, like the input
pipeline of a real model would.
"""

from __future__ import annotations

import numpy as np

from harness.scenario.kernelspec import Geometry, KernelSpec

FEATURE_SEED_STRIDE = 1_000_003  # kernel seed = scenario seed * stride + feature


def feature_rows(point: dict) -> list[int]:
    """Rows of each feature's vocabulary as this point runs it."""
    return point.get("feature_rows") or [point["table_rows"]] * point["features"]


def build_kernels(point: dict, spec: KernelSpec, llc_bytes: int, **geometry) -> list:
    """The kernel instances of a point: one per feature, or one shared by all.

    ``geometry`` holds any further ``Geometry`` fields the caller sets (e.g. pages).
    """
    rows = feature_rows(point)
    dim, seed = point["dim"], point["seed"] * FEATURE_SEED_STRIDE
    if point.get("layout", "per-feature") == "shared":
        return [spec.build(point["params"], Geometry(sum(rows), dim, llc_bytes, **geometry),
                           seed)]
    return [spec.build(point["params"], Geometry(r, dim, llc_bytes, **geometry), seed + f)
            for f, r in enumerate(rows)]


def shared_keys(ids: np.ndarray, feature: int, keying: str, row_offset: int) -> np.ndarray:
    """Feature ``feature``'s ids as keys of the one shared table (int64)."""
    if keying == "concat":
        return ids + np.int64(row_offset)
    from kernels.hashing import as_keys_numpy

    return as_keys_numpy(ids, feature).view(np.int64)


def shared_bags(per_feature: list[tuple[np.ndarray, np.ndarray]], keying: str,
                rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """One bag per sample holding every feature's ids: (keys, offsets).

    ``per_feature[f]`` is (ids, offsets) of fixed-size bags; sample b's bag is
    feature 0's ids of sample b, then feature 1's, and so on.
    """
    n_bags = per_feature[0][1].shape[0]
    row_offsets = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
    columns = []
    for f, (ids, _) in enumerate(per_feature):
        keys = shared_keys(ids, f, keying, int(row_offsets[f]))
        columns.append(keys.reshape(n_bags, -1))
    keys = np.ascontiguousarray(np.concatenate(columns, axis=1).reshape(-1))
    per_bag = keys.shape[0] // n_bags if n_bags else 0
    return keys, np.arange(n_bags, dtype=np.int64) * per_bag


def arrange(point: dict, spec: KernelSpec, batch: list[tuple]) -> list[tuple]:
    """A batch (one (ids, offsets) per feature) as the kernel instances take it."""
    if point.get("layout", "per-feature") != "shared":
        return batch
    return [shared_bags(batch, spec.shared_keys, feature_rows(point))]

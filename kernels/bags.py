"""Bags (pooled lookups) as torch's embedding_bag takes them: flat ids + offsets.

``offsets[b]`` is where bag ``b`` starts in ``ids``; the last bag runs to the end.
Equal consecutive offsets make empty bags, whose sum is zero. ``offsets=None``
means one id per bag.
"""

from __future__ import annotations

import numpy as np


_INT64 = np.dtype(np.int64)


def as_ids(ids, name: str = "ids") -> np.ndarray:
    """ids (or offsets: ``name``) as a 1-D int64 numpy array (torch tensors accepted)."""
    if type(ids) is np.ndarray and ids.dtype is _INT64 and ids.ndim == 1:
        return ids  # already what every kernel takes: no checks or copies to pay
    if hasattr(ids, "detach"):  # a torch tensor
        ids = ids.detach().cpu().numpy()
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {ids.shape}")
    if ids.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integers, got {ids.dtype}")
    return ids.astype(np.int64, copy=False)


def check_offsets(offsets, n_ids: int) -> np.ndarray:
    offsets = as_ids(offsets, name="offsets")
    if offsets.size == 0 and n_ids:
        raise ValueError(f"no bags (empty offsets) for {n_ids} ids")
    if offsets.size and (offsets[0] != 0 or np.any(np.diff(offsets) < 0)
                         or offsets[-1] > n_ids):
        raise ValueError("offsets must start at 0, never decrease, and stay <= len(ids)")
    return offsets


def bag_sum(values: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """Sum per-id rows into per-bag rows (reference implementation)."""
    if offsets is None:
        return values
    n_bags = offsets.shape[0]
    lengths = np.diff(np.append(offsets, values.shape[0]))
    bag_of_id = np.repeat(np.arange(n_bags), lengths)
    out = np.zeros((n_bags,) + values.shape[1:], dtype=values.dtype)
    np.add.at(out, bag_of_id, values)
    return out


def torch_bags(ids: np.ndarray, offsets: np.ndarray | None, rows_per_id: int = 1):
    """(ids, offsets) as torch tensors for embedding_bag, sharing memory.

    With ``rows_per_id`` = k each id expands to k rows, so bag b starts at
    k * offsets[b]; no offsets means one id per bag.
    """
    import torch

    if offsets is None:
        offsets = np.arange(ids.shape[0], dtype=np.int64)
    if rows_per_id != 1:
        offsets = offsets * rows_per_id
    return torch.from_numpy(ids), torch.from_numpy(offsets)

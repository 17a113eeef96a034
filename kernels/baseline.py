"""The uncompressed embedding table: one fp32 row per id, summed per bag.

The torch backend is ``torch.nn.functional.embedding_bag`` in sum mode on a
contiguous fp32 table, which on CPU runs FBGEMM's JIT-compiled kernel: the
baseline at its best. The numpy backend is the readable reference.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from kernels.bags import as_ids, bag_sum, check_offsets, torch_bags
from kernels.memory import PAGE_BYTES, alignment_of, random_table
from kernels.params import KernelParams

BACKENDS = ("torch", "numpy")


class Baseline:
    """A ``rows`` x ``dim`` fp32 table; ``lookup`` sums each bag's rows."""

    class Params(KernelParams):
        """Uncompressed table: torch embedding_bag (FBGEMM on CPU) or numpy."""

        backend: Literal["torch", "numpy"] = "torch"

    def __init__(self, rows: int, dim: int, seed: int = 0, backend: str = "torch",
                 align: int = PAGE_BYTES, pages: str = "default"):
        if rows < 1 or dim < 1:
            raise ValueError(f"rows and dim must be positive, got rows={rows}, dim={dim}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.rows, self.dim, self.seed, self.backend = rows, dim, seed, backend
        self.table = random_table((rows, dim), seed, align, pages)
        if backend == "torch":
            import torch

            self._weight = torch.from_numpy(self.table)  # shares the aligned memory

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: Params) -> int:
        """Bytes of the table: one fp32 row per id."""
        return rows * dim * 4

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: Params) -> int:
        """Table bytes one id reads: its row."""
        return dim * 4

    @classmethod
    def from_params(cls, rows: int, dim: int, params: Params, seed: int = 0,
                    pages: str = "default") -> "Baseline":
        return cls(rows, dim, seed=seed, pages=pages, **params.model_dump())

    @property
    def nbytes(self) -> int:
        return self.table.nbytes

    @property
    def alignment(self) -> int:
        return alignment_of(self.table)

    def bytes_per_lookup(self) -> int:
        """Table bytes one id reads."""
        return self.dim * 4

    def prepare(self, ids, offsets=None):
        """Convert a batch to this backend's native form, outside any timed region."""
        ids = as_ids(ids)
        offsets = None if offsets is None else check_offsets(offsets, ids.shape[0])
        if self.backend == "torch":
            return torch_bags(ids, offsets)
        return ids, offsets

    def run(self, prepared):
        """The timed operation: one batch, native output."""
        ids, offsets = prepared
        if self.backend == "torch":
            import torch.nn.functional as F

            return F.embedding_bag(ids, self._weight, offsets, mode="sum")
        return bag_sum(self.table[ids], offsets)

    def lookup(self, ids, offsets=None) -> np.ndarray:
        """Per-bag sums as a float32 numpy array (n_bags, dim)."""
        out = self.run(self.prepare(ids, offsets))
        return out.numpy() if hasattr(out, "numpy") else out

    def reference(self, ids, offsets=None) -> np.ndarray:
        ids = as_ids(ids)
        offsets = None if offsets is None else check_offsets(offsets, ids.shape[0])
        return bag_sum(self.table[ids], offsets)

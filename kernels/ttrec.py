"""TT-Rec (Yin et al., MLSys 2021): the table as a tensor train of three cores.

Rows are factored as n1*n2*n3 >= rows and the dim as d1*d2*d3 = dim; id x maps to
(i1, i2, i3) = (x // (n2 n3), (x // n3) % n2, x % n3) and its row is

    e[a, b, c] = sum_{r1, r2} G1[i1][a, r1] G2[i2][r1, b, r2] G3[i3][r2, c]

with TT ranks (1, R, R, 1). The cores hold (n1 d1 + n2 d2 R + n3 d3) R floats,
which is tiny, and each lookup costs d1 d2 R (R + d3) multiply-adds: the other
end of the memory-compute trade from MEM-REC. No cache of hot rows (TT-Rec's
optional LRU) is modelled. Backends: numpy (einsum, the reference), torch
(einsum), fused (numba, ``kernels.fused_peers``).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveInt

from kernels.memory import PAGE_BYTES, alignment_of, random_table
from kernels.params import PREFETCH_HELP, KernelParams
from kernels.peers import _Fused


def balanced_factors(n: int) -> tuple[int, int, int]:
    """Three integers with product ``n``, as close to each other as possible."""
    best = (1, 1, n)
    for a in range(1, int(round(n ** (1 / 3))) + 2):
        if n % a:
            continue
        for b in range(a, int(math.isqrt(n // a)) + 1):
            if (n // a) % b == 0:
                c = n // a // b
                if max(a, b, c) - min(a, b, c) < max(best) - min(best):
                    best = (a, b, c)
    return tuple(sorted(best))


def row_factors(rows: int) -> tuple[int, int, int]:
    """n1, n2, n3 near the cube root of ``rows`` with n1 n2 n3 >= rows."""
    n1 = max(1, math.ceil(rows ** (1 / 3)))
    n2 = max(1, math.ceil(math.sqrt(math.ceil(rows / n1))))
    n3 = max(1, math.ceil(rows / (n1 * n2)))
    return n1, n2, n3


class TTRec(_Fused):
    """A ``rows`` x ``dim`` table held as three tensor-train cores of rank ``rank``."""

    class Params(KernelParams):
        """TT-Rec: the table as three tensor-train cores of rank ``rank``."""

        rank: PositiveInt = 16
        backend: Literal["torch", "numpy", "fused"] = "fused"
        prefetch: NonNegativeInt | None = Field(None, description=PREFETCH_HELP)

    def __init__(self, rows: int, dim: int, rank: int = 16, seed: int = 0,
                 backend: str = "torch", align: int = PAGE_BYTES, pages: str = "default",
                 prefetch: int | None = None):
        if rows < 1 or dim < 1 or rank < 1:
            raise ValueError(f"need rows, dim, rank >= 1; got {rows}, {dim}, {rank}")
        self._check_backend(backend, prefetch)
        self.rows, self.dim, self.rank, self.seed = rows, dim, rank, seed
        self.d = balanced_factors(dim)
        self.n = row_factors(rows)
        (d1, d2, d3), (n1, n2, n3), r = self.d, self.n, rank
        # Scaled so that rows come out of the order of the other kernels' (~0.3).
        scale = np.float32(2.0 / math.sqrt(r))
        # Scaled in place: a product would be a new, unaligned array on default pages.
        self.g1 = random_table((n1, d1 * r), seed, align, pages)
        self.g1 *= scale
        self.g2 = random_table((n2, r * d2 * r), seed + 1, align, pages)
        self.g2 *= scale
        self.g3 = random_table((n3, r * d3), seed + 2, align, pages)
        self._dims = np.array([d1, d2, d3, r, n2, n3], dtype=np.int64)
        if backend == "torch":
            import torch

            self._cores = [torch.from_numpy(g) for g in (self.g1, self.g2, self.g3)]
        self._warm()

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: Params) -> int:
        """Bytes of the three cores (n_i x r d_i r, with r = 1 at the ends)."""
        (d1, d2, d3), (n1, n2, n3), r = balanced_factors(dim), row_factors(rows), params.rank
        return (n1 * d1 * r + n2 * r * d2 * r + n3 * r * d3) * 4

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: Params) -> int:
        """One slice of each core."""
        (d1, d2, d3), r = balanced_factors(dim), params.rank
        return (d1 * r + r * d2 * r + r * d3) * 4

    @classmethod
    def prefetched_bytes_for(cls, rows: int, dim: int, params: Params) -> int:
        return 0  # the cores are tiny and read whole: no prefetch unless asked for

    @classmethod
    def from_params(cls, rows: int, dim: int, params: Params, seed: int = 0,
                    pages: str = "default") -> "TTRec":
        return cls(rows, dim, seed=seed, pages=pages, **params.model_dump())

    @property
    def nbytes(self) -> int:
        return self.g1.nbytes + self.g2.nbytes + self.g3.nbytes

    @property
    def alignment(self) -> int:
        return min(alignment_of(g) for g in (self.g1, self.g2, self.g3))

    def bytes_per_lookup(self) -> int:
        (d1, d2, d3), r = self.d, self.rank
        return (d1 * r + r * d2 * r + r * d3) * 4

    def _check_ids(self, ids) -> None:
        if ids.size and (ids.min() < 0 or ids.max() >= self.rows):
            raise ValueError(f"TT-Rec needs ids in [0, {self.rows}); got "
                             f"[{ids.min()}, {ids.max()}]")

    def _split(self, ids):
        _, n2, n3 = self.n
        return ids // (n2 * n3), (ids // n3) % n2, ids % n3

    def per_id(self, ids) -> np.ndarray:
        (d1, d2, d3), r, n = self.d, self.rank, ids.shape[0]
        i1, i2, i3 = self._split(ids)
        e = np.einsum("nar,nrbs,nsc->nabc", self.g1[i1].reshape(n, d1, r),
                      self.g2[i2].reshape(n, r, d2, r), self.g3[i3].reshape(n, r, d3),
                      optimize=True)
        return e.reshape(n, self.dim).astype(np.float32)

    def run(self, prepared):
        if self.backend == "fused":
            from kernels import fused_peers

            ids, offsets = prepared
            return self._fused_call(fused_peers.tt_parallel, ids,
                                    offsets, self.g1, self.g2, self.g3, self._dims)
        if self.backend == "torch":
            import torch

            ids, bag_of_id, n_bags = prepared
            (d1, d2, d3), r, n = self.d, self.rank, ids.shape[0]
            i1, i2, i3 = self._split(ids)
            g1, g2, g3 = self._cores
            e = torch.einsum("nar,nrbs,nsc->nabc", g1[i1].reshape(n, d1, r),
                             g2[i2].reshape(n, r, d2, r), g3[i3].reshape(n, r, d3))
            return self._torch_bags(e.reshape(n, self.dim), bag_of_id, n_bags)
        ids, offsets = prepared
        from kernels.bags import bag_sum

        return bag_sum(self.per_id(ids), offsets)

"""MEM-REC: z(x) = alpha(x) * sum_i M[h_i(x)],  alpha(x) = sum_j W[g_j(x)].

A token table M (``token_rows`` x ``dim``) addressed by ``k`` hashes whose rows are
summed, and a weight table W (``weight_rows`` scalars) addressed by ``k_weight``
hashes whose sum scales the result (arXiv 2305.07205). ``k_weight=0`` drops the
weight encoder: plain Bloom embeddings (Serra & Karatzoglou, RecSys 2017).
Bags sum z(x) over their ids; a repeated index counts twice.

Backends: ``numpy`` (the reference), ``torch`` (hash in torch, then one
``embedding_bag`` with alpha folded in as per-sample weights: the best torch
composition) and ``fused`` (``kernels.fused``: one numba pass per id, parallel
over bags on numba's pool, with software prefetch).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeInt

from kernels import hashing
from kernels.backend import BackendInfo
from kernels.bags import as_ids, bag_sum, check_offsets, torch_bags
from kernels.memory import PAGE_BYTES, aligned_empty, alignment_of, random_table
from kernels.params import (PREFETCH_HELP, HashCount, KernelParams, TableFloats, TableRows,
                            WeightHashCount)

BACKENDS = ("torch", "numpy", "fused")


class MemRec(BackendInfo):
    """A token table of ``token_rows`` rows read by ``k`` hashes, scaled by the sum of
    ``k_weight`` scalars of a ``weight_rows`` weight table."""

    class Params(KernelParams):
        """MEM-REC: token table of d rows (k hashes), weight table of d' scalars (k' hashes)."""

        token_rows: TableRows = Field(description="d: rows of the token table")
        k: HashCount = 2
        weight_rows: TableFloats = Field(description="d': scalars in the weight table")
        k_weight: WeightHashCount = 1
        backend: Literal["torch", "numpy", "fused"] = "torch"
        prefetch: NonNegativeInt | None = Field(None, description=PREFETCH_HELP)

    def __init__(self, token_rows: int, dim: int, k: int, weight_rows: int, k_weight: int,
                 seed: int = 0, backend: str = "torch", align: int = PAGE_BYTES,
                 pages: str = "default", prefetch: int | None = None):
        if not 1 <= token_rows <= hashing.MAX_ROWS:
            raise ValueError(f"token_rows must be in 1..{hashing.MAX_ROWS}, got {token_rows}")
        if not 1 <= weight_rows <= hashing.MAX_ROWS:
            raise ValueError(f"weight_rows must be in 1..{hashing.MAX_ROWS}, got {weight_rows}")
        if k < 1 or k_weight < 0 or dim < 1:
            raise ValueError(f"need k >= 1, k_weight >= 0, dim >= 1; got k={k}, "
                             f"k_weight={k_weight}, dim={dim}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.token_rows, self.dim, self.k = token_rows, dim, k
        self.weight_rows, self.k_weight = weight_rows, k_weight
        self.seed, self.backend = seed, backend
        self.token_table = random_table((token_rows, dim), seed, align, pages)
        # Weights near 1 keep alpha(x) of the order of k_weight, like trained ones. Without
        # a weight encoder (k_weight=0) there is no weight table: none is allocated, none
        # counted in the footprint.
        stored_weights = weight_rows if k_weight else 0
        self.weight_table = aligned_empty((stored_weights,), np.float32, align, pages)
        rng = np.random.default_rng(seed + 1)
        self.weight_table[:] = rng.uniform(0.5, 1.5, stored_weights).astype(np.float32)
        if backend == "torch":
            import torch

            self._token = torch.from_numpy(self.token_table)
            self._weight = torch.from_numpy(self.weight_table)
        self.prefetch = None
        if backend == "fused":
            self._init_fused(prefetch)

    def _init_fused(self, prefetch: int | None) -> None:
        from kernels import fused

        self.prefetch = fused.DEFAULT_PREFETCH if prefetch is None else int(prefetch)
        if self.prefetch < 0:
            raise ValueError(f"prefetch must be >= 0 ids ahead, got {self.prefetch}")
        self._seeds = fused.padded_seeds(hashing.hash_seeds(self.seed, max(self.k, self.k_weight)))
        self._threads = fused.threads_now()
        # Compile (or load from numba's cache) and start the pool now, not in a timed batch:
        # the bag kernel and the one-id-per-bag kernel.
        self.run(self.prepare(np.arange(4, dtype=np.int64), np.array([0, 2, 2])))
        self.run(self.prepare(np.arange(4, dtype=np.int64)))

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: Params) -> int:
        """Bytes of the token table, and of the weight table when there is a weight encoder."""
        return params.token_rows * dim * 4 + (params.weight_rows * 4 if params.k_weight else 0)

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: Params) -> int:
        """Table bytes one id reads: k token rows and k' scalars."""
        return params.k * dim * 4 + params.k_weight * 4

    @classmethod
    def prefetched_bytes_for(cls, rows: int, dim: int, params: Params) -> int:
        """Bytes of the table whose rows the fused backend prefetches (the token table)."""
        return params.token_rows * dim * 4

    @classmethod
    def from_params(cls, rows: int, dim: int, params: Params, seed: int = 0,
                    pages: str = "default") -> "MemRec":
        """The kernel for a vocabulary of ``rows`` ids (hashed: ``rows`` is not needed)."""
        return cls(dim=dim, seed=seed, pages=pages, **params.model_dump())

    @property
    def nbytes(self) -> int:
        return self.token_table.nbytes + (self.weight_table.nbytes if self.k_weight else 0)

    @property
    def alignment(self) -> int:
        return alignment_of(self.token_table)

    def bytes_per_lookup(self) -> int:
        """Table bytes one id reads: k token rows and k' scalars."""
        return self.k * self.dim * 4 + self.k_weight * 4

    def token_indices(self, ids) -> np.ndarray:
        keys = hashing.as_keys_numpy(as_ids(ids))
        return hashing.token_indices_numpy(keys, self.seed, self.k, self.token_rows)

    def weight_indices(self, ids) -> np.ndarray:
        keys = hashing.as_keys_numpy(as_ids(ids))
        return hashing.weight_indices_numpy(keys, self.seed, self.k_weight, self.weight_rows)

    def prepare(self, ids, offsets=None):
        ids = as_ids(ids)
        offsets = None if offsets is None else check_offsets(offsets, ids.shape[0])
        if self.backend == "torch":
            return torch_bags(ids, offsets, rows_per_id=self.k)  # k token rows per id
        if self.backend == "fused":
            one_per_bag = offsets is None or (
                offsets.shape[0] == ids.shape[0]
                and np.array_equal(offsets, np.arange(ids.shape[0])))
            return np.ascontiguousarray(ids), None if one_per_bag else np.ascontiguousarray(offsets)
        return ids, offsets

    def run(self, prepared):
        ids, offsets = prepared
        if self.backend == "torch":
            return self._run_torch(ids, offsets)
        if self.backend == "fused":
            return self._run_fused(ids, offsets)
        return self._run_numpy(ids, offsets)

    def _run_fused(self, ids, offsets):
        from kernels import fused

        n_bags = ids.shape[0] if offsets is None else offsets.shape[0]
        out = np.empty((n_bags, self.dim), dtype=np.float32)
        tables = (self.token_table, self.weight_table, self._seeds, self.k, self.k_weight,
                  self.prefetch, out)
        # One thread too goes through the parallel kernels: see kernels/fused.py on why.
        if offsets is None:  # one id per bag
            fused.memrec_ids_parallel(ids, *tables, self._threads)
        else:
            fused.memrec_parallel(ids, offsets, *tables, self._threads)
        return out

    def _run_torch(self, ids, token_offsets):
        import torch.nn.functional as F

        h = hashing.hashes_torch(ids, self.seed, max(self.k, self.k_weight))
        tokens = (hashing._lshr(h[:, :self.k], 32) * self.token_rows) >> 32
        alpha = None
        if self.k_weight:
            w = ((h[:, :self.k_weight] & 0xFFFFFFFF) * self.weight_rows) >> 32
            alpha = self._weight[w].sum(1).repeat_interleave(self.k)
        return F.embedding_bag(tokens.reshape(-1), self._token, token_offsets, mode="sum",
                               per_sample_weights=alpha)

    def _run_numpy(self, ids, offsets):
        z = self.token_table[self.token_indices(ids)].sum(1)
        if self.k_weight:
            z *= self.weight_table[self.weight_indices(ids)].sum(1)[:, None]
        return bag_sum(z, offsets)

    def lookup(self, ids, offsets=None) -> np.ndarray:
        out = self.run(self.prepare(ids, offsets))
        return out.numpy() if hasattr(out, "numpy") else out

    def reference(self, ids, offsets=None) -> np.ndarray:
        ids = as_ids(ids)
        offsets = None if offsets is None else check_offsets(offsets, ids.shape[0])
        return self._run_numpy(ids, offsets)

"""MEM-REC's peers: the other ways people compress an embedding table.

- ``HashingTrick``: one hash of the id into a smaller table (Weinberger et al. 2009).
- ``Bloom``: k hashes into one table, rows summed (Serra & Karatzoglou 2017):
  MEM-REC without the weight encoder.
- ``QREmbedding``: quotient-remainder trick with the multiply combiner, as in
  facebookresearch/dlrm's ``tricks/qr_embedding_bag.py``: for ``collisions`` = m,
  z(x) = Q[x // m] * R[x % m], Q of ceil(rows/m) rows and R of m rows.
- ``RobeZ``: ROBE-Z (Desai et al. 2022): one shared array of ``size`` floats; the
  embedding is dim/Z blocks, block i read as Z consecutive floats (wrapping at the
  end) at a hashed offset h_i(x), times a hashed sign.

Each has a ``numpy`` reference, a ``torch`` composition and a ``fused`` numba
backend, and the same surface as ``kernels.memrec.MemRec`` (prepare/run/lookup/
reference, nbytes, alignment, bytes_per_lookup; ``Params`` and the class-level
formulas of ``kernels.params``). Hashes are
``kernels.hashing``'s family, so indices match across backends bit for bit.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveInt

from kernels import hashing
from kernels.backend import BackendInfo
from kernels.bags import as_ids, bag_sum, check_offsets
from kernels.memory import PAGE_BYTES, alignment_of, random_table
from kernels.memrec import MemRec
from kernels.params import PREFETCH_HELP, HashCount, KernelParams, TableFloats, TableRows

BACKENDS = ("torch", "numpy", "fused")


class HashingTrick(MemRec):
    """z(x) = M[h(x)]: one hash into ``rows`` rows (MEM-REC with k=1, no weights)."""

    class Params(KernelParams):
        """One hash of the id into a table of ``rows`` rows."""

        rows: TableRows = Field(description="rows of the hashed table")
        backend: Literal["torch", "numpy", "fused"] = "fused"
        prefetch: NonNegativeInt | None = Field(None, description=PREFETCH_HELP)

    def __init__(self, rows: int, dim: int, seed: int = 0, backend: str = "torch",
                 align: int = PAGE_BYTES, pages: str = "default", prefetch: int | None = None,
                 hashing: str = "in_kernel"):
        super().__init__(rows, dim, 1, 1, 0, seed=seed, backend=backend, align=align,
                         pages=pages, prefetch=prefetch, hashing=hashing)

    @property
    def table(self) -> np.ndarray:
        return self.token_table

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: Params) -> int:
        return params.rows * dim * 4

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: Params) -> int:
        return dim * 4

    @classmethod
    def prefetched_bytes_for(cls, rows: int, dim: int, params: Params) -> int:
        return params.rows * dim * 4


class Bloom(MemRec):
    """z(x) = sum_i M[h_i(x)]: Bloom embeddings, MEM-REC without the weight encoder."""

    class Params(KernelParams):
        """Bloom embeddings: k hashes into one table, rows summed (MEM-REC with k' = 0)."""

        token_rows: TableRows
        k: HashCount = 2
        backend: Literal["torch", "numpy", "fused"] = "fused"
        prefetch: NonNegativeInt | None = Field(None, description=PREFETCH_HELP)
        # No combine: without weights both rules are the plain sum of the bag's rows.
        hashing: Literal["in_kernel", "precomputed"] | None = Field(
            None, description="in_kernel (unset): the timed call hashes; precomputed: indices "
                                     "made before the timed region")

    def __init__(self, token_rows: int, dim: int, k: int, seed: int = 0,
                 backend: str = "torch", align: int = PAGE_BYTES, pages: str = "default",
                 prefetch: int | None = None, hashing: str = "in_kernel"):
        # Without weights both combining rules are the plain sum of the bag's rows.
        super().__init__(token_rows, dim, k, 1, 0, seed=seed, backend=backend, align=align,
                         pages=pages, prefetch=prefetch, hashing=hashing)

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: Params) -> int:
        return params.token_rows * dim * 4

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: Params) -> int:
        return params.k * dim * 4

    @classmethod
    def prefetched_bytes_for(cls, rows: int, dim: int, params: Params) -> int:
        return params.token_rows * dim * 4


class _Fused(BackendInfo):
    """The shared plumbing of a kernel with a fused numba backend and bags."""

    backend: str

    def _check_backend(self, backend: str, prefetch: int | None):
        """Check backend and prefetch; numba is imported only for the fused backend."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend, self.prefetch, self._threads = backend, None, 1
        if backend == "fused":
            from kernels import fused

            self.prefetch = fused.DEFAULT_PREFETCH if prefetch is None else int(prefetch)
            if self.prefetch < 0:
                raise ValueError(f"prefetch must be >= 0 ids ahead, got {self.prefetch}")
            self._threads = fused.threads_now()

    def _warm(self) -> None:
        """Compile (or load from cache) the fused kernel and start its pool now."""
        if self.backend == "fused":
            self.run(self.prepare(np.zeros(3, dtype=np.int64), np.array([0, 2, 2])))

    def _bags(self, ids, offsets):
        ids = as_ids(ids)
        offsets = None if offsets is None else check_offsets(offsets, ids.shape[0])
        return ids, offsets

    def _fused_call(self, kernel, ids, offsets, *tables):
        # One thread too runs the parallel kernel (one chunk): see kernels/fused.py on why.
        out = np.empty((offsets.shape[0], self.dim), dtype=np.float32)
        kernel(ids, offsets, *tables, self.prefetch, out, self._threads)
        return out

    def _torch_bags(self, z, bag_of_id, n_bags):
        import torch

        if bag_of_id is None:
            return z
        return torch.zeros((n_bags, self.dim), dtype=z.dtype).index_add_(0, bag_of_id, z)

    def prepare(self, ids, offsets=None):
        ids, offsets = self._bags(ids, offsets)
        self._check_ids(ids)
        if self.backend == "fused":
            if offsets is None:
                offsets = np.arange(ids.shape[0], dtype=np.int64)
            return np.ascontiguousarray(ids), np.ascontiguousarray(offsets)
        if self.backend == "torch":
            import torch

            bag_of_id = None
            if offsets is not None:
                lengths = np.diff(np.append(offsets, ids.shape[0]))
                bag_of_id = torch.from_numpy(np.repeat(np.arange(offsets.shape[0]), lengths))
            n_bags = ids.shape[0] if offsets is None else offsets.shape[0]
            return torch.from_numpy(ids), bag_of_id, n_bags
        return ids, offsets

    def _check_ids(self, ids) -> None:
        pass

    def lookup(self, ids, offsets=None) -> np.ndarray:
        out = self.run(self.prepare(ids, offsets))
        return out.numpy() if hasattr(out, "numpy") else out

    def reference(self, ids, offsets=None) -> np.ndarray:
        ids, offsets = self._bags(ids, offsets)
        self._check_ids(ids)
        return bag_sum(self.per_id(ids), offsets)


class QREmbedding(_Fused):
    """Quotient-remainder embeddings, multiply combiner: Q[x // m] * R[x % m]."""

    class Params(KernelParams):
        """Quotient-remainder embeddings, multiply combiner (dlrm's qr_collisions = m)."""

        collisions: PositiveInt = Field(4, description="m: rows of the remainder table")
        backend: Literal["torch", "numpy", "fused"] = "fused"
        prefetch: NonNegativeInt | None = Field(None, description=PREFETCH_HELP)

    def __init__(self, rows: int, dim: int, collisions: int = 4, seed: int = 0,
                 backend: str = "torch", align: int = PAGE_BYTES, pages: str = "default",
                 prefetch: int | None = None):
        if rows < 1 or dim < 1 or collisions < 1:
            raise ValueError(f"need rows, dim, collisions >= 1; got {rows}, {dim}, {collisions}")
        self._check_backend(backend, prefetch)
        self.rows, self.dim, self.collisions, self.seed = rows, dim, collisions, seed
        self.quotient = random_table((-(-rows // collisions), dim), seed, align, pages)
        self.remainder = random_table((collisions, dim), seed + 1, align, pages)
        if backend == "torch":
            import torch

            self._q, self._r = torch.from_numpy(self.quotient), torch.from_numpy(self.remainder)
        self._warm()

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: Params) -> int:
        """Bytes of Q (ceil(rows / m) rows) and R (m rows)."""
        return (-(-rows // params.collisions) + params.collisions) * dim * 4

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: Params) -> int:
        return 2 * dim * 4  # a row of Q and a row of R

    @classmethod
    def prefetched_bytes_for(cls, rows: int, dim: int, params: Params) -> int:
        return -(-rows // params.collisions) * dim * 4  # Q: R is small and stays cached

    @classmethod
    def from_params(cls, rows: int, dim: int, params: Params, seed: int = 0,
                    pages: str = "default") -> "QREmbedding":
        """The kernel for a vocabulary of ``rows`` ids (QR addresses by the id itself)."""
        return cls(rows, dim, seed=seed, pages=pages, **params.model_dump())

    @property
    def nbytes(self) -> int:
        return self.quotient.nbytes + self.remainder.nbytes

    @property
    def alignment(self) -> int:
        return alignment_of(self.quotient)

    def bytes_per_lookup(self) -> int:
        return 2 * self.dim * 4

    def _check_ids(self, ids) -> None:
        # QR addresses by the id itself: an id outside the vocabulary has no row.
        if ids.size and (ids.min() < 0 or ids.max() >= self.rows):
            raise ValueError(f"QR embeddings need ids in [0, {self.rows}); got "
                             f"[{ids.min()}, {ids.max()}]")

    def per_id(self, ids) -> np.ndarray:
        return self.quotient[ids // self.collisions] * self.remainder[ids % self.collisions]

    def run(self, prepared):
        if self.backend == "fused":
            from kernels import fused_peers

            ids, offsets = prepared
            return self._fused_call(fused_peers.qr_parallel, ids,
                                    offsets, self.quotient, self.remainder)
        if self.backend == "torch":
            import torch.nn.functional as F

            ids, bag_of_id, n_bags = prepared
            z = (F.embedding(ids // self.collisions, self._q)
                 * F.embedding(ids % self.collisions, self._r))
            return self._torch_bags(z, bag_of_id, n_bags)
        ids, offsets = prepared
        return bag_sum(self.per_id(ids), offsets)


class RobeZ(_Fused):
    """ROBE-Z: embeddings read as blocks of Z floats at hashed offsets of one array."""

    class Params(KernelParams):
        """ROBE-Z: one array of ``size`` floats; blocks of ``z`` floats at hashed offsets."""

        size: TableFloats = Field(description="the array: a size, or a bare number of floats")
        z: PositiveInt = 32
        backend: Literal["torch", "numpy", "fused"] = "fused"
        prefetch: NonNegativeInt | None = Field(None, description=PREFETCH_HELP)

    def __init__(self, size: int, dim: int, z: int = 32, seed: int = 0, backend: str = "torch",
                 align: int = PAGE_BYTES, pages: str = "default", prefetch: int | None = None):
        if not 1 <= size <= hashing.MAX_ROWS:
            raise ValueError(f"size must be in 1..{hashing.MAX_ROWS} floats, got {size}")
        if dim < 1 or z < 1:
            raise ValueError(f"need dim, z >= 1; got dim={dim}, z={z}")
        self._check_backend(backend, prefetch)
        self.size, self.dim, self.z, self.seed = size, dim, z, seed
        self.blocks = -(-dim // z)
        # The array plus its first z-1 floats again: a block starting near the end
        # wraps around without a modulo in the loop. Stored as (1, n) for the kernel.
        self.array = random_table((1, size + z - 1), seed, align, pages)
        self.array[0, size:] = self.array[0, np.arange(z - 1) % size]
        if backend == "fused":
            from kernels.fused import padded_seeds

            self._seeds = padded_seeds(hashing.hash_seeds(seed, self.blocks))
        if backend == "torch":
            import torch

            self._array = torch.from_numpy(self.array[0])
            self._within = torch.arange(z)
        self._warm()

    @classmethod
    def footprint_for(cls, rows: int, dim: int, params: Params) -> int:
        """Bytes of the array and the z - 1 floats repeated after it (wrapping blocks)."""
        return (params.size + params.z - 1) * 4

    @classmethod
    def bytes_per_lookup_for(cls, rows: int, dim: int, params: Params) -> int:
        """ceil(dim / z) blocks of z floats."""
        return -(-dim // params.z) * params.z * 4

    @classmethod
    def prefetched_bytes_for(cls, rows: int, dim: int, params: Params) -> int:
        return params.size * 4

    # Its tables are sized by its own parameters, never by the vocabulary (``rows``):
    # points of every table size can share one worker (harness.execute.groups).
    TABLES_IGNORE_ROWS = True

    @classmethod
    def from_params(cls, rows: int, dim: int, params: Params, seed: int = 0,
                    pages: str = "default") -> "RobeZ":
        """The kernel for a vocabulary of ``rows`` ids (hashed: ``rows`` is not needed)."""
        return cls(dim=dim, seed=seed, pages=pages, **params.model_dump())

    @property
    def nbytes(self) -> int:
        return self.array.nbytes

    @property
    def alignment(self) -> int:
        return alignment_of(self.array)

    def bytes_per_lookup(self) -> int:
        return self.blocks * self.z * 4

    def _starts_signs_numpy(self, ids):
        h = hashing.hashes_numpy(hashing.as_keys_numpy(ids), self.seed, self.blocks)
        starts = hashing.reduce_numpy(h >> np.uint64(32), self.size)
        signs = 1.0 - 2.0 * (h & np.uint64(1)).astype(np.float32)
        return starts, signs.astype(np.float32)

    def per_id(self, ids) -> np.ndarray:
        starts, signs = self._starts_signs_numpy(ids)
        blocks = self.array[0][starts[:, :, None] + np.arange(self.z)]  # (n, blocks, z)
        z = (blocks * signs[:, :, None]).reshape(ids.shape[0], self.blocks * self.z)
        return np.ascontiguousarray(z[:, :self.dim])

    def run(self, prepared):
        if self.backend == "fused":
            from kernels import fused_peers

            ids, offsets = prepared
            return self._fused_call(fused_peers.robe_parallel, ids,
                                    offsets, self.array, self.size, self.z, self._seeds)
        if self.backend == "torch":
            ids, bag_of_id, n_bags = prepared
            h = hashing.hashes_torch(ids, self.seed, self.blocks)
            starts = (hashing._lshr(h, 32) * self.size) >> 32
            signs = 1.0 - 2.0 * (h & 1).float()
            blocks = self._array[starts.unsqueeze(2) + self._within] * signs.unsqueeze(2)
            z = blocks.reshape(ids.shape[0], self.blocks * self.z)[:, :self.dim]
            return self._torch_bags(z, bag_of_id, n_bags)
        ids, offsets = prepared
        return bag_sum(self.per_id(ids), offsets)

"""What every kernel with torch/numpy/fused backends reports about how it runs."""

from __future__ import annotations


class BackendInfo:
    """Mixin: ``threads`` and ``info()`` from ``backend`` (and ``_threads``, ``prefetch``
    for the fused backend, set when the kernel starts numba's pool)."""

    backend: str
    _threads: int = 1
    prefetch: int | None = None

    @property
    def threads(self) -> int:
        """Threads a batch runs on: numba's pool size (fused), else torch's or 1."""
        if self.backend == "fused":
            return self._threads
        if self.backend == "torch":
            import torch

            return torch.get_num_threads()
        return 1

    def info(self) -> dict:
        """What a result should record about how this kernel ran."""
        if self.backend != "fused":
            return {"backend": self.backend}
        from kernels import fused

        return {"backend": "fused", "prefetch_ids_ahead": self.prefetch} | fused.pool_info()

"""A small DLRM whose embedding layer is one of the project's kernels, trained in torch.

The kernels (``kernels/``) build their tables as numpy arrays and hand torch views of
them (``torch.from_numpy``) to their torch backends. ``TrainableEmbedding`` turns
those views into ``nn.Parameter``s sharing the same memory, so the kernel's own
``prepare``/``run`` (its hashing, its ``embedding_bag``) is the forward pass and
autograd differentiates it: nothing of the kernel is re-implemented here. Which
attributes hold the tables is listed per kind in ``TABLES``; the kernels expose them
only as private attributes (see the report on a public accessor).

Tables are re-initialised for training (seeded): the kernels fill large tables by
repeating one random block (fast for speed runs, but rows 16384 apart start nearly
equal), and training wants small values: rows uniform in +-INIT, MEM-REC's weights
and QR's remainder rows near 1 (they multiply), TT-Rec's cores scaled so that rows
come out near +-INIT.

The model is DLRM's (facebookresearch/dlrm): a bottom MLP over the 13 dense
features (log(1+x)) ending in ``dim``, the 26 feature embeddings, the "cat"
interaction (concatenation), a top MLP, and a logit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness.scenario.kernelspec import KERNELS, Geometry
from kernels import hashing

INIT = 0.05
# Per kind: (attribute, how to initialise it). "rows": uniform +-INIT; "one": 1 +-INIT;
# "cores": TT-Rec cores, scaled. ROBE-Z's array is handled on its own (see below).
TABLES = {
    "baseline": (("_weight", "rows"),),
    "hashing_trick": (("_token", "rows"),),
    "bloom": (("_token", "rows"),),
    "memrec": (("_token", "rows"), ("_weight", "one")),
    "qr": (("_q", "rows"), ("_r", "one")),
    "robez": (("_array", "rows"),),
    "ttrec": (("_cores", "cores"),),
}


def build_kernel(spec, total_rows: int, dim: int, seed: int):
    """The kind's kernel (torch backend) through its KernelSpec's build function."""
    params = {"backend": "torch", **spec.params}
    geometry = Geometry(rows=total_rows, dim=dim, llc_bytes=0)
    return KERNELS[spec.kind].build(params, geometry, seed)


class TrainableEmbedding(nn.Module):
    """A kernel's torch backend as a module: its tables are this module's parameters."""

    def __init__(self, kind: str, kernel, rows: list[int], seed: int):
        super().__init__()
        self.kind, self.kernel = kind, kernel
        self.layout = KERNELS[kind].shared_keys
        gen = torch.Generator().manual_seed(seed)
        self.tables = nn.ParameterList()
        for attr, init in TABLES[kind]:
            value = getattr(kernel, attr)
            if attr == "_cores":
                params = [nn.Parameter(t) for t in value]
                setattr(kernel, attr, params)
            elif kind == "robez":
                # The kernel's array carries its first Z-1 floats again at the end (so a
                # block may wrap); training keeps them tied by rebuilding that tail from
                # the parameter before every forward pass (``_refresh``).
                params = [nn.Parameter(value[:kernel.size])]
            elif value.numel() == 0:
                continue  # MEM-REC without a weight encoder has no weight table
            else:
                params = [nn.Parameter(value)]
                setattr(kernel, attr, params[0])
            with torch.no_grad():
                for p in params:
                    _initialise(p, init, gen, kernel)
            self.tables.extend(params)
        # Feature f's ids become keys of the one shared object: stacked after the earlier
        # features' vocabularies, or salted as MEM-REC's reference code salts them.
        if self.layout == "concat":
            offsets = np.concatenate([[0], np.cumsum(rows)[:-1]])
        else:
            offsets = np.arange(len(rows), dtype=np.int64) * hashing.FEATURE_SALT
        self.register_buffer("key_offsets", torch.as_tensor(offsets, dtype=torch.int64))

    def _refresh(self) -> None:
        if self.kind == "robez":
            array = self.tables[0]
            self.kernel._array = torch.cat([array, array[:self.kernel.z - 1]])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(n, features) ids -> (n, features, dim) embeddings, one id per bag."""
        self._refresh()
        keys = (ids + self.key_offsets).reshape(-1)
        out = self.kernel.run(self.kernel.prepare(keys))
        return out.reshape(ids.shape[0], ids.shape[1], -1)


def _initialise(p: torch.Tensor, init: str, gen: torch.Generator, kernel) -> None:
    if init == "rows":
        p.uniform_(-INIT, INIT, generator=gen)
    elif init == "one":
        p.uniform_(1 - INIT, 1 + INIT, generator=gen)
    else:  # a TT-Rec core: the product of three cores of rank R sums R^2 terms
        p.uniform_(-1, 1, generator=gen)
        p.mul_((INIT / kernel.rank) ** (1 / 3))


def mlp(sizes: list[int], last_linear: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if not (last_linear and i == len(sizes) - 2):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    """Bottom MLP (dense) + embeddings, concatenated, through the top MLP to a logit."""

    def __init__(self, embedding: TrainableEmbedding, dense_features: int, features: int,
                 dim: int, bottom: list[int], top: list[int]):
        super().__init__()
        self.embedding = embedding
        self.bottom = mlp([dense_features, *bottom, dim], last_linear=False)
        self.top = mlp([dim * (features + 1), *top, 1], last_linear=True)

    def forward(self, dense: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        x = self.bottom(torch.log1p(dense))
        e = self.embedding(ids)
        return self.top(torch.cat([x, e.reshape(e.shape[0], -1)], dim=1)).squeeze(1)

    def embedding_parameters(self) -> int:
        return sum(p.numel() for p in self.embedding.parameters())


def build_model(spec, rows: list[int], cfg, seed: int) -> DLRM:
    """The DLRM for one ModelSpec (``cfg``: the scenario's model block)."""
    torch.manual_seed(seed)
    kernel = build_kernel(spec, sum(rows), cfg.dim, seed)
    embedding = TrainableEmbedding(spec.kind, kernel, rows, seed)
    return DLRM(embedding, 13, len(rows), cfg.dim, list(cfg.bottom), list(cfg.top))

"""Kinds at equal memory: a compression ratio or a byte budget -> each kernel's sizes.

All 26 features share one embedding object, laid out as the kernel's spec says
(``KernelSpec.shared_keys``): hashed kinds (MEM-REC, Bloom, hashing trick, ROBE-Z)
hash feature-salted ids into one shared table, as MEM-REC's reference code does;
kinds that address by the id (baseline, QR, TT-Rec) stack the features' vocabularies
into one of ``sum(rows)`` rows. The budget is what the whole embedding may occupy;
``compression`` is the baseline's bytes over it. A kind whose smallest form is larger
than the budget is a bad request (exit 2 naming the parameter), never a silent
substitute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.errors import UsageError
from harness.scenario.kernelspec import KERNELS
from harness.scenario.sizes import format_bytes

DEFAULT_K = 2
DEFAULT_K_WEIGHT = 1
DEFAULT_WEIGHT_SHARE = 0.25
DEFAULT_Z = 32


@dataclass
class ModelSpec:
    """One model to train: a kind at one size, with its kernel's concrete parameters."""

    model_id: str
    kind: str
    label: str
    requested: str              # "100x" or "64KiB", as the scenario asked
    params: dict                # the kernel's constructor arguments besides rows/dim
    embedding_bytes: int
    baseline_bytes: int
    notes: list[str] = field(default_factory=list)

    @property
    def compression(self) -> float:
        return self.baseline_bytes / self.embedding_bytes

    @property
    def layout(self) -> str:
        return KERNELS[self.kind].shared_keys


def _unreachable(where: str, kind: str, target: int, smallest: int | None, why: str):
    least = f"; its smallest form is {format_bytes(smallest)}" if smallest else ""
    return UsageError(f"{where}: {kind} cannot be made {format_bytes(target)} ({target} "
                      f"bytes): {why}{least}")


def qr_collisions(total_rows: int, dim: int, target: int) -> int | None:
    """The smallest m whose quotient and remainder tables fit ``target`` bytes."""
    budget_rows = target // (dim * 4)
    m = max(1, total_rows // max(1, budget_rows))
    while m <= math.isqrt(total_rows) + 1:
        if -(-total_rows // m) + m <= budget_rows:
            return m
        m += 1
    return None


def tt_rank(total_rows: int, dim: int, target: int) -> int | None:
    """The largest TT rank whose cores fit ``target`` bytes."""
    from kernels.ttrec import TTRec

    best = None
    for rank in range(1, 4097):
        if TTRec.footprint_for(total_rows, dim, TTRec.Params(rank=rank)) > target:
            break
        best = rank
    return best


def resolve_kind(kind, target: int, total_rows: int, dim: int, where: str) -> tuple[dict, int]:
    """(kernel parameters, bytes) of ``kind`` (a scenario Kind) within ``target`` bytes."""
    row = dim * 4
    name = kind.kind
    if name == "baseline":
        return {}, total_rows * row
    if name in ("hashing_trick", "bloom"):
        rows = target // row
        if rows < 1:
            raise _unreachable(where, name, target, row, "not one row fits")
        params = {"rows": rows} if name == "hashing_trick" else \
            {"token_rows": rows, "k": kind.k or DEFAULT_K}
        return params, rows * row
    if name == "memrec":
        k_weight = DEFAULT_K_WEIGHT if kind.k_weight is None else kind.k_weight
        share = kind.weight_share or DEFAULT_WEIGHT_SHARE
        weight_rows = int(share * target) // 4 if k_weight else 1
        token_rows = (target - (weight_rows * 4 if k_weight else 0)) // row
        if token_rows < 1 or weight_rows < 1:
            raise _unreachable(where, name, target, row + (4 if k_weight else 0),
                               f"{token_rows} token rows and {weight_rows} weights fit "
                               f"(weight_share {share})")
        params = {"token_rows": token_rows, "k": kind.k or DEFAULT_K,
                  "weight_rows": weight_rows, "k_weight": k_weight}
        # One bag per sample and feature (the concatenation interaction needs each
        # feature's vector): per_bag and per_id then agree unless a feature is pooled.
        params["combine"] = kind.combine or "per_id"
        return params, token_rows * row + (weight_rows * 4 if k_weight else 0)
    if name == "robez":
        z = kind.z or min(DEFAULT_Z, dim)
        size = target // 4 - (z - 1)
        if size < 1:
            raise _unreachable(where, name, target, z * 4, f"Z={z} floats do not fit")
        return {"size": size, "z": z}, (size + z - 1) * 4
    if name == "qr":
        m = qr_collisions(total_rows, dim, target)
        if m is None:
            m_best = max(1, math.isqrt(total_rows))
            raise _unreachable(where, name, target,
                               (-(-total_rows // m_best) + m_best) * row,
                               f"quotient + remainder rows of {total_rows} ids cannot "
                               f"be fewer than about 2*sqrt({total_rows})")
        return {"collisions": m}, (-(-total_rows // m) + m) * row
    if name == "ttrec":
        from kernels.ttrec import TTRec

        rank = tt_rank(total_rows, dim, target)
        if rank is None:
            raise _unreachable(where, name, target,
                               TTRec.footprint_for(total_rows, dim, TTRec.Params(rank=1)),
                               "rank-1 cores do not fit")
        return {"rank": rank}, TTRec.footprint_for(total_rows, dim, TTRec.Params(rank=rank))
    raise ValueError(f"unknown kind {name!r}")


def model_specs(loaded, rows: list[int]) -> list[ModelSpec]:
    """Every (kind, size) of the scenario as a ModelSpec; UsageError for one that cannot
    be built at its size, naming the scenario's file:line and parameter."""
    sc = loaded.scenario
    dim, total = sc.model.dim, sum(rows)
    baseline_bytes = total * dim * 4
    specs: list[ModelSpec] = []
    problems: list[str] = []
    for i, kind in enumerate(sc.kinds):
        label = kind.label or kind.kind
        if kind.kind == "baseline":
            sizes = [("compression", 0, 1.0, "1x", baseline_bytes)]
        elif kind.compression is not None:
            sizes = [("compression", j, c, f"{c:g}x", int(baseline_bytes / c))
                     for j, c in enumerate(kind.compression)]
        else:
            sizes = [("bytes", j, b, str(b), int(b.value)) for j, b in enumerate(kind.bytes)]
        for key, j, _, requested, target in sizes:
            where = loaded.where(("kinds", i, key, j) if kind.kind != "baseline"
                                 else ("kinds", i, "kind"))
            try:
                params, nbytes = resolve_kind(kind, target, total, dim, where)
            except UsageError as exc:
                problems.extend(exc.problems)
                continue
            model_id = label if kind.kind == "baseline" else f"{label}@{requested}"
            notes = []
            if kind.kind == "memrec":
                notes.append("one id per feature per sample: per_bag and per_id scale "
                             "the same single id")
            specs.append(ModelSpec(model_id, kind.kind, label, requested, params, nbytes,
                                   baseline_bytes, notes))
    ids = [s.model_id for s in specs]
    dup = sorted({m for m in ids if ids.count(m) > 1})
    if dup:
        problems.append(f"{loaded.path}: kinds: {', '.join(dup)} asked for twice (give "
                        f"one a label:)")
    if problems:
        raise UsageError(problems)
    return specs

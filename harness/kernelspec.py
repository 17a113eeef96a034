"""What the harness knows about each kernel: its scenario parameters and how to build it.

A scenario names kernels by ``kernel:``; each entry's other keys are that kernel's
parameters, and any parameter may be a list to sweep it. ``KERNELS`` maps the
name to a ``KernelSpec``; adding a kernel means adding a spec here and a class
in ``kernels/``. Building imports ``kernels`` lazily, so the manager (which never
measures) does not pay for torch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, NonNegativeInt, PositiveInt

from harness.sizes import Size, parse_size

MAX_ROWS = 2**31 - 1  # kernels.hashing.MAX_ROWS, without importing numpy here


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _rows(value):
    return parse_size(value, int_means="rows")


RowsSpec = Annotated[Size, BeforeValidator(_rows)]


def Sweep(item):  # noqa: N802 - reads as a type in the models below
    """A parameter given as one value or a non-empty list of values to sweep."""
    return Annotated[list[item], BeforeValidator(_as_list), Field(min_length=1)]


class KernelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str | None = None


class BaselineParams(KernelParams):
    """Uncompressed table: torch embedding_bag (FBGEMM on CPU) or numpy."""

    kernel: Literal["baseline"]
    backend: Sweep(Literal["torch", "numpy"]) = ["torch"]


class SpinParams(KernelParams):
    """The null kernel: busy-waits ns_per_lookup per id and reads no table (kernels/spin.py)."""

    kernel: Literal["spin"]
    ns_per_lookup: Sweep(NonNegativeInt) = Field(description="busy-wait per id, in ns")


class MemRecParams(KernelParams):
    """MEM-REC: token table of d rows (k hashes), weight table of d' scalars (k' hashes)."""

    kernel: Literal["memrec"]
    token_rows: Sweep(RowsSpec) = Field(description="d: rows of the token table")
    k: Sweep(PositiveInt) = [2]
    weight_rows: Sweep(RowsSpec) = Field(description="d': scalars in the weight table")
    k_weight: Sweep(NonNegativeInt) = [1]
    backend: Sweep(Literal["torch", "numpy"]) = ["torch"]


class MicrobenchParams(KernelParams):
    """Machine-limit microbenchmarks (kernels/microbench.py); no parameters of their own."""

    kernel: Literal["gather", "chase", "stream"]
    backend: Sweep(Literal["numba"]) = ["numba"]


@dataclass(frozen=True)
class Geometry:
    """What a kernel's sizes resolve against: the vocabulary table and the machine."""

    rows: int      # ids range over [0, rows): the uncompressed table's rows
    dim: int
    llc_bytes: int
    effective_llc_bytes: int | None = None  # measured by `harness limits`, when known
    pages: str = "default"  # kernels.memory.PAGE_POLICIES: the tables' page size


@dataclass(frozen=True)
class KernelSpec:
    name: str
    params_model: type[KernelParams]
    resolve: Callable[[dict, Geometry], dict]        # sizes -> concrete ints
    footprint_bytes: Callable[[dict, Geometry], int]  # bytes of the tables it owns
    bytes_per_lookup: Callable[[dict, Geometry], int]
    describe: Callable[[dict], str]
    build: Callable[[dict, Geometry, int], Any]       # (params, geometry, seed) -> kernel


def _resolve_baseline(p: dict, g: Geometry) -> dict:
    return {"backend": p["backend"]}


def _resolve_memrec(p: dict, g: Geometry) -> dict:
    token_rows = p["token_rows"].to_rows(g.llc_bytes, g.dim * 4, g.effective_llc_bytes)
    weight_rows = p["weight_rows"].to_rows(g.llc_bytes, 4, g.effective_llc_bytes)
    for key, rows in (("token_rows", token_rows), ("weight_rows", weight_rows)):
        if rows > MAX_ROWS:
            raise ValueError(f"{key} resolves to {rows} rows; at most {MAX_ROWS} are supported")
    return {"token_rows": token_rows, "k": p["k"], "weight_rows": weight_rows,
            "k_weight": p["k_weight"], "backend": p["backend"]}


def _build_baseline(p: dict, g: Geometry, seed: int):
    from kernels.baseline import Baseline

    return Baseline(g.rows, g.dim, seed=seed, backend=p["backend"], pages=g.pages)


def _build_spin(p: dict, g: Geometry, seed: int):
    from kernels.spin import Spin

    return Spin(p["ns_per_lookup"], g.dim)


def _build_memrec(p: dict, g: Geometry, seed: int):
    from kernels.memrec import MemRec

    return MemRec(p["token_rows"], g.dim, p["k"], p["weight_rows"], p["k_weight"],
                  seed=seed, backend=p["backend"], pages=g.pages)


def _build_microbench(name: str):
    def build(p: dict, g: Geometry, seed: int):
        from kernels import microbench

        cls = {"gather": microbench.Gather, "chase": microbench.Chase,
               "stream": microbench.Stream}[name]
        return cls(g.rows, g.dim, seed=seed, pages=g.pages)
    return build


_MICROBENCH = {
    "gather": ("random rows of the table, summed (a gather's memory traffic)",
               lambda p, g: g.dim * 4),
    "chase": ("dependent loads through 64-byte lines (latency)", lambda p, g: 64),
    "stream": ("sequential read of 64-byte lines (bandwidth)", lambda p, g: 64),
}

KERNELS: dict[str, KernelSpec] = {
    "baseline": KernelSpec(
        "baseline", BaselineParams, _resolve_baseline,
        footprint_bytes=lambda p, g: g.rows * g.dim * 4,
        bytes_per_lookup=lambda p, g: g.dim * 4,
        describe=lambda p: f"baseline ({p['backend']})",
        build=_build_baseline),
    "spin": KernelSpec(
        "spin", SpinParams, lambda p, g: {"ns_per_lookup": p["ns_per_lookup"]},
        footprint_bytes=lambda p, g: 0,
        bytes_per_lookup=lambda p, g: 0,
        describe=lambda p: f"spin {p['ns_per_lookup']} ns/lookup",
        build=_build_spin),
    "memrec": KernelSpec(
        "memrec", MemRecParams, _resolve_memrec,
        footprint_bytes=lambda p, g: p["token_rows"] * g.dim * 4
        + (p["weight_rows"] * 4 if p["k_weight"] else 0),
        bytes_per_lookup=lambda p, g: p["k"] * g.dim * 4 + p["k_weight"] * 4,
        describe=lambda p: (f"memrec ({p['backend']}) d={p['token_rows']} k={p['k']} "
                            f"d'={p['weight_rows']} k'={p['k_weight']}"),
        build=_build_memrec),
}

KERNELS.update({
    name: KernelSpec(
        name, MicrobenchParams, lambda p, g: {"backend": p["backend"]},
        footprint_bytes=lambda p, g: g.rows * g.dim * 4,
        bytes_per_lookup=per_lookup,
        describe=lambda p, name=name: name,
        build=_build_microbench(name))
    for name, (_, per_lookup) in _MICROBENCH.items()
})

KernelEntry = Annotated[
    BaselineParams | MemRecParams | MicrobenchParams | SpinParams,
    Field(discriminator="kernel"),
]


def variants(entry: KernelParams) -> list[dict]:
    """Expand a kernel entry's swept parameters into one dict per combination."""
    fields = [name for name in type(entry).model_fields if name not in ("kernel", "label")]
    values = [getattr(entry, name) for name in fields]
    return [dict(zip(fields, combo)) for combo in itertools.product(*values)]

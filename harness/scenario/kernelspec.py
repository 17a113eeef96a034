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

from harness.scenario.sizes import Size, parse_size

MAX_ROWS = 2**31 - 1  # kernels.hashing.MAX_ROWS, without importing numpy here
# The fused kernels' prefetch when a scenario does not set it: 8 ids ahead for tables
# of at least 1/4 LLC, none below. Measured on the Zen 3 VM (benchmarks/speed.py):
# at 1/2 LLC prefetch cut k=2 from 80 to 66 ns/lookup, at 1/32-1/8 LLC it cost 5-15%.
AUTO_PREFETCH_IDS = 8
AUTO_PREFETCH_FROM_LLC = 0.25


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _rows(value):
    return parse_size(value, int_means="rows")


RowsSpec = Annotated[Size, BeforeValidator(_rows)]
# Hashes per id: MEM-REC's k and k' are small (the paper uses 1-4); a bound keeps a typo
# (k: 2000000) a clear error instead of a worker that runs out of memory.
HashCount = Annotated[int, Field(ge=1, le=64)]
WeightHashCount = Annotated[int, Field(ge=0, le=64)]


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
    k: Sweep(HashCount) = [2]
    weight_rows: Sweep(RowsSpec) = Field(description="d': scalars in the weight table")
    k_weight: Sweep(WeightHashCount) = [1]
    backend: Sweep(Literal["torch", "numpy", "fused"]) = ["torch"]
    prefetch: Sweep(NonNegativeInt) | None = Field(
        None, description="fused backend: ids ahead whose rows are prefetched (0: none; "
                          "unset: 8 for tables of 1/4 LLC or more, else 0)")


class HashingTrickParams(KernelParams):
    """One hash of the id into a table of ``rows`` rows."""

    kernel: Literal["hashing_trick"]
    rows: Sweep(RowsSpec) = Field(description="rows of the hashed table")
    backend: Sweep(Literal["torch", "numpy", "fused"]) = ["fused"]
    prefetch: Sweep(NonNegativeInt) | None = None


class BloomParams(KernelParams):
    """Bloom embeddings: k hashes into one table, rows summed (MEM-REC with k' = 0)."""

    kernel: Literal["bloom"]
    token_rows: Sweep(RowsSpec)
    k: Sweep(HashCount) = [2]
    backend: Sweep(Literal["torch", "numpy", "fused"]) = ["fused"]
    prefetch: Sweep(NonNegativeInt) | None = None


class QRParams(KernelParams):
    """Quotient-remainder embeddings, multiply combiner (dlrm's qr_collisions = m)."""

    kernel: Literal["qr"]
    collisions: Sweep(PositiveInt) = Field([4], description="m: rows of the remainder table")
    backend: Sweep(Literal["torch", "numpy", "fused"]) = ["fused"]
    prefetch: Sweep(NonNegativeInt) | None = None


class RobeZParams(KernelParams):
    """ROBE-Z: one array of ``size`` floats; blocks of ``z`` floats at hashed offsets."""

    kernel: Literal["robez"]
    size: Sweep(RowsSpec) = Field(description="the array: a size, or a bare number of floats")
    z: Sweep(PositiveInt) = [32]
    backend: Sweep(Literal["torch", "numpy", "fused"]) = ["fused"]
    prefetch: Sweep(NonNegativeInt) | None = None


class TTRecParams(KernelParams):
    """TT-Rec: the table as three tensor-train cores of rank ``rank``."""

    kernel: Literal["ttrec"]
    rank: Sweep(PositiveInt) = [16]
    backend: Sweep(Literal["torch", "numpy", "fused"]) = ["fused"]
    prefetch: Sweep(NonNegativeInt) | None = None


class MicrobenchParams(KernelParams):
    """Machine-limit microbenchmarks (kernels/microbench.py)."""

    kernel: Literal["gather", "chase", "stream"]
    backend: Sweep(Literal["numba"]) = ["numba"]
    prefetch: Sweep(NonNegativeInt) | None = Field(
        None, description="gather only: ids ahead whose rows are prefetched (0: demand "
                          "loads only); unset: 8")


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
    # How the shared layout (one table for all features) keys feature f's ids:
    # "salt" adds f * FEATURE_SALT before hashing (the reference code's keys);
    # "concat" offsets them past the earlier features' rows (tables stacked).
    shared_keys: str = "salt"


def _resolve_baseline(p: dict, g: Geometry) -> dict:
    return {"backend": p["backend"]}


def _resolve_memrec(p: dict, g: Geometry) -> dict:
    token_rows = p["token_rows"].to_rows(g.llc_bytes, g.dim * 4, g.effective_llc_bytes)
    weight_rows = p["weight_rows"].to_rows(g.llc_bytes, 4, g.effective_llc_bytes)
    for key, rows in (("token_rows", token_rows), ("weight_rows", weight_rows)):
        if rows > MAX_ROWS:
            raise ValueError(f"{key} resolves to {rows} rows; at most {MAX_ROWS} are supported")
    return {"token_rows": token_rows, "k": p["k"], "weight_rows": weight_rows,
            "k_weight": p["k_weight"], "backend": p["backend"]} | _prefetch(
                p, g, token_rows * g.dim * 4)


def _prefetch(p: dict, g: Geometry, table_bytes: int) -> dict:
    """The prefetch distance, for the fused backend only (others have none to set)."""
    if p["backend"] != "fused":
        return {}
    if p.get("prefetch") is not None:
        return {"prefetch": p["prefetch"]}
    resident = not g.llc_bytes or table_bytes < AUTO_PREFETCH_FROM_LLC * g.llc_bytes
    return {"prefetch": 0 if resident else AUTO_PREFETCH_IDS}


def _checked_rows(key: str, rows: int) -> int:
    if rows > MAX_ROWS:
        raise ValueError(f"{key} resolves to {rows} rows; at most {MAX_ROWS} are supported")
    return rows


def _resolve_hashing_trick(p: dict, g: Geometry) -> dict:
    rows = _checked_rows("rows", p["rows"].to_rows(g.llc_bytes, g.dim * 4,
                                                   g.effective_llc_bytes))
    return {"rows": rows, "backend": p["backend"]} | _prefetch(p, g, rows * g.dim * 4)


def _resolve_bloom(p: dict, g: Geometry) -> dict:
    rows = _checked_rows("token_rows", p["token_rows"].to_rows(g.llc_bytes, g.dim * 4,
                                                               g.effective_llc_bytes))
    return ({"token_rows": rows, "k": p["k"], "backend": p["backend"]}
            | _prefetch(p, g, rows * g.dim * 4))


def _resolve_qr(p: dict, g: Geometry) -> dict:
    return ({"collisions": p["collisions"], "backend": p["backend"]}
            | _prefetch(p, g, -(-g.rows // p["collisions"]) * g.dim * 4))


def _resolve_robez(p: dict, g: Geometry) -> dict:
    size = _checked_rows("size", p["size"].to_rows(g.llc_bytes, 4, g.effective_llc_bytes))
    return {"size": size, "z": p["z"], "backend": p["backend"]} | _prefetch(p, g, size * 4)


def _resolve_ttrec(p: dict, g: Geometry) -> dict:
    # The cores are tiny and read whole: no prefetch unless asked for.
    return {"rank": p["rank"], "backend": p["backend"]} | _prefetch(p, g, 0)


def _ttrec_bytes(p: dict, g: Geometry) -> int:
    from kernels.ttrec import TTRec  # pure Python factoring; no numpy work

    return TTRec.footprint_bytes(g.rows, g.dim, p["rank"])


def _ttrec_bytes_per_lookup(p: dict, g: Geometry) -> int:
    from kernels.ttrec import balanced_factors

    d1, d2, d3 = balanced_factors(g.dim)
    return (d1 + p["rank"] * d2 + d3) * p["rank"] * 4


def _qr_bytes(p: dict, g: Geometry) -> int:
    return (-(-g.rows // p["collisions"]) + p["collisions"]) * g.dim * 4


def _build_baseline(p: dict, g: Geometry, seed: int):
    from kernels.baseline import Baseline

    return Baseline(g.rows, g.dim, seed=seed, backend=p["backend"], pages=g.pages)


def _build_spin(p: dict, g: Geometry, seed: int):
    from kernels.spin import Spin

    return Spin(p["ns_per_lookup"], g.dim)


def _build_memrec(p: dict, g: Geometry, seed: int):
    from kernels.memrec import MemRec

    return MemRec(p["token_rows"], g.dim, p["k"], p["weight_rows"], p["k_weight"],
                  seed=seed, backend=p["backend"], pages=g.pages,
                  prefetch=p.get("prefetch"))


def _build_hashing_trick(p: dict, g: Geometry, seed: int):
    from kernels.peers import HashingTrick

    return HashingTrick(p["rows"], g.dim, seed=seed, backend=p["backend"],
                        pages=g.pages, prefetch=p.get("prefetch"))


def _build_bloom(p: dict, g: Geometry, seed: int):
    from kernels.peers import Bloom

    return Bloom(p["token_rows"], g.dim, p["k"], seed=seed, backend=p["backend"],
                 pages=g.pages, prefetch=p.get("prefetch"))


def _build_qr(p: dict, g: Geometry, seed: int):
    from kernels.peers import QREmbedding

    return QREmbedding(g.rows, g.dim, p["collisions"], seed=seed, backend=p["backend"],
                       pages=g.pages, prefetch=p.get("prefetch"))


def _build_ttrec(p: dict, g: Geometry, seed: int):
    from kernels.ttrec import TTRec

    return TTRec(g.rows, g.dim, p["rank"], seed=seed, backend=p["backend"],
                 pages=g.pages, prefetch=p.get("prefetch"))


def _build_robez(p: dict, g: Geometry, seed: int):
    from kernels.peers import RobeZ

    return RobeZ(p["size"], g.dim, p["z"], seed=seed, backend=p["backend"],
                 pages=g.pages, prefetch=p.get("prefetch"))


def _build_microbench(name: str):
    def build(p: dict, g: Geometry, seed: int):
        from kernels import microbench

        cls = {"gather": microbench.Gather, "chase": microbench.Chase,
               "stream": microbench.Stream}[name]
        if name == "gather":
            return cls(g.rows, g.dim, seed=seed, pages=g.pages, prefetch=p["prefetch"])
        return cls(g.rows, g.dim, seed=seed, pages=g.pages)
    return build


def _resolve_microbench(name: str):
    def resolve(p: dict, g: Geometry) -> dict:
        if name != "gather":
            return {"backend": p["backend"]}
        from_default = 8 if p.get("prefetch") is None else p["prefetch"]
        return {"backend": p["backend"], "prefetch": from_default}
    return resolve


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
        build=_build_baseline, shared_keys="concat"),
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
    "hashing_trick": KernelSpec(
        "hashing_trick", HashingTrickParams, _resolve_hashing_trick,
        footprint_bytes=lambda p, g: p["rows"] * g.dim * 4,
        bytes_per_lookup=lambda p, g: g.dim * 4,
        describe=lambda p: f"hashing trick ({p['backend']}) rows={p['rows']}",
        build=_build_hashing_trick),
    "bloom": KernelSpec(
        "bloom", BloomParams, _resolve_bloom,
        footprint_bytes=lambda p, g: p["token_rows"] * g.dim * 4,
        bytes_per_lookup=lambda p, g: p["k"] * g.dim * 4,
        describe=lambda p: f"bloom ({p['backend']}) d={p['token_rows']} k={p['k']}",
        build=_build_bloom),
    "qr": KernelSpec(
        "qr", QRParams, _resolve_qr,
        footprint_bytes=_qr_bytes,
        bytes_per_lookup=lambda p, g: 2 * g.dim * 4,
        describe=lambda p: f"qr ({p['backend']}) m={p['collisions']}",
        build=_build_qr, shared_keys="concat"),
    "robez": KernelSpec(
        "robez", RobeZParams, _resolve_robez,
        footprint_bytes=lambda p, g: (p["size"] + p["z"] - 1) * 4,
        bytes_per_lookup=lambda p, g: -(-g.dim // p["z"]) * p["z"] * 4,
        describe=lambda p: f"robe-z ({p['backend']}) size={p['size']} Z={p['z']}",
        build=_build_robez),
    "ttrec": KernelSpec(
        "ttrec", TTRecParams, _resolve_ttrec,
        footprint_bytes=_ttrec_bytes,
        bytes_per_lookup=_ttrec_bytes_per_lookup,
        describe=lambda p: f"tt-rec ({p['backend']}) rank={p['rank']}",
        build=_build_ttrec, shared_keys="concat"),
}

KERNELS.update({
    name: KernelSpec(
        name, MicrobenchParams, _resolve_microbench(name),
        footprint_bytes=lambda p, g: g.rows * g.dim * 4,
        bytes_per_lookup=per_lookup,
        describe=lambda p, name=name: name,
        build=_build_microbench(name))
    for name, (_, per_lookup) in _MICROBENCH.items()
})

KernelEntry = Annotated[
    BaselineParams | MemRecParams | HashingTrickParams | BloomParams | QRParams | RobeZParams
    | TTRecParams | MicrobenchParams | SpinParams,
    Field(discriminator="kernel"),
]


def variants(entry: KernelParams) -> list[dict]:
    """Expand a kernel entry's swept parameters into one dict per combination."""
    fields = [name for name in type(entry).model_fields if name not in ("kernel", "label")]
    values = [getattr(entry, name) or [None] for name in fields]  # None: not given
    return [dict(zip(fields, combo)) for combo in itertools.product(*values)]

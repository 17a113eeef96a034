"""What the harness knows about each kernel: its scenario parameters and how to build it.

A scenario names kernels by ``kernel:``; each entry's other keys are that kernel's
parameters, and any parameter may be a list to sweep it. ``KERNELS`` maps the name to
a ``KernelSpec`` built from the kernel's class in ``kernels/``, which carries the
parameter model (``Params``), its footprint and bytes-per-lookup formulas and how it
is built (``kernels/params.py``); this module only adds what the harness decides: the
scenario form of each parameter (a list sweeps it; a table-entry count may be written
as a size such as "4x LLC"), the fused kernels' prefetch when a scenario leaves it
unset, the label, and how the shared layout keys features. Adding a kernel means a
class in ``kernels/`` and one line in ``KERNELS``. The kernel modules import numpy
only; torch and numba are imported when a kernel is built, in the worker.
"""

from __future__ import annotations

import itertools
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from harness.scenario.sizes import Size, parse_size
from kernels.baseline import Baseline
from kernels.hashing import MAX_ROWS
from kernels.memrec import MemRec
from kernels.microbench import Chase, Gather, Stream
from kernels.params import Entries, KernelParams, entries_of
from kernels.peers import Bloom, HashingTrick, QREmbedding, RobeZ
from kernels.spin import Spin
from kernels.ttrec import TTRec

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


def Sweep(item):  # noqa: N802 - reads as a type in the models below
    """A parameter given as one value or a non-empty list of values to sweep."""
    return Annotated[list[item], BeforeValidator(_as_list), Field(min_length=1)]


class ScenarioKernel(BaseModel):
    """A scenario's kernel entry: ``kernel:``, an optional ``label:``, and the kernel's
    parameters, each one value or a list to sweep (subclassed per kernel below)."""

    model_config = ConfigDict(extra="forbid")
    label: str | None = None


def _sweep_field(field: FieldInfo) -> tuple[Any, FieldInfo]:
    """A kernel parameter's scenario form: a list of its values (a size where it counts
    table entries), with the kernel's default as a one-item list."""
    item, optional = field.annotation, False
    if (typing.get_origin(item) in (typing.Union, types.UnionType)
            and type(None) in typing.get_args(item)):
        item, = (a for a in typing.get_args(item) if a is not type(None))
        optional = True
    if any(isinstance(m, Entries) for m in field.metadata):
        item = RowsSpec
    elif field.metadata:
        item = Annotated.__class_getitem__((item, *field.metadata))
    kind = Optional[Sweep(item)] if optional else Sweep(item)
    if field.is_required():
        return kind, Field(description=field.description)
    default = None if field.default is None else [field.default]
    return kind, Field(default, description=field.description)


def scenario_model(name: str, params: type[KernelParams]) -> type[ScenarioKernel]:
    """The scenario entry model for kernel ``name`` from its class's ``Params``."""
    fields = {key: _sweep_field(field) for key, field in params.model_fields.items()}
    return create_model(f"{params.__qualname__.split('.')[0]}Entry", __base__=ScenarioKernel,
                        __doc__=params.__doc__, kernel=(Literal[name], ...), **fields)


@dataclass(frozen=True)
class Geometry:
    """What a kernel's sizes resolve against: the vocabulary table and the machine."""

    rows: int      # ids range over [0, rows): the uncompressed table's rows
    dim: int
    llc_bytes: int
    effective_llc_bytes: int | None = None  # measured by `harness limits`, when known
    pages: str = "default"  # kernels.memory.PAGE_POLICIES: the tables' page size
    layout: str = "per-feature"  # or "shared": decides MEM-REC's combine rule when unset
    layout: str = "per-feature"  # tables.layout: sets MEM-REC's default combining rule


class KernelSpec:
    """A kernel as the harness sees it: its class's formulas on resolved parameters.

    ``params`` (a dict) is a resolved variant: sizes as entry counts, prefetch decided.
    """

    def __init__(self, name: str, kernel_class: type, describe: Callable[[dict], str],
                 shared_keys: str = "salt"):
        self.name, self.kernel_class, self.describe = name, kernel_class, describe
        # How the shared layout (one table for all features) keys feature f's ids:
        # "salt" adds f * FEATURE_SALT before hashing (the reference code's keys);
        # "concat" offsets them past the earlier features' rows (tables stacked).
        self.shared_keys = shared_keys
        self.params_model = scenario_model(name, kernel_class.Params)
        self._entries = entries_of(kernel_class.Params)

    def _params(self, params: dict) -> KernelParams:
        return self.kernel_class.Params(**params)

    def resolve(self, raw: dict, g: Geometry) -> dict:
        """One variant as written (sizes, prefetch unset) -> concrete parameters."""
        out = {}
        for key, value in raw.items():
            if key == "prefetch":
                continue
            field = self.kernel_class.Params.model_fields.get(key)
            if value is None and field is not None and field.default is not None:
                value = field.default  # not given (e.g. a variant stored before it existed)
            unit = self._entries.get(key)
            if unit is not None:
                value = value.to_rows(g.llc_bytes, unit.entry_bytes(g.dim),
                                      g.effective_llc_bytes)
                if value > MAX_ROWS:
                    raise ValueError(f"{key} resolves to {value} rows; at most {MAX_ROWS} "
                                     f"are supported")
            out[key] = value
        if "prefetch" in self.kernel_class.Params.model_fields:
            out |= self._prefetch(raw.get("prefetch"), out, g)
        if "combine" in out and out["combine"] is None:
            # The reference code's rule for its one shared bag; per id otherwise.
            out["combine"] = "per_bag" if g.layout == "shared" else "per_id"
        if "hashing" in out and out["hashing"] is None:
            out["hashing"] = "in_kernel"
        return out

    def _prefetch(self, given: int | None, params: dict, g: Geometry) -> dict:
        """The prefetch distance: for a kernel with a fused backend, on that backend only
        (others have none to set), by table size when unset; else the kernel's default."""
        cls = self.kernel_class
        if not hasattr(cls, "prefetched_bytes_for"):
            return {"prefetch": cls.DEFAULT_PREFETCH if given is None else given}
        if params["backend"] != "fused":
            return {}
        if given is not None:
            return {"prefetch": given}
        table_bytes = cls.prefetched_bytes_for(g.rows, g.dim, self._params(params))
        resident = not g.llc_bytes or table_bytes < AUTO_PREFETCH_FROM_LLC * g.llc_bytes
        return {"prefetch": 0 if resident else AUTO_PREFETCH_IDS}

    def footprint_bytes(self, params: dict, g: Geometry) -> int:
        """Bytes of the arrays the kernel owns for a vocabulary of ``g.rows`` ids."""
        return self.kernel_class.footprint_for(g.rows, g.dim, self._params(params))

    def bytes_per_lookup(self, params: dict, g: Geometry) -> int:
        """Table bytes one id reads."""
        return self.kernel_class.bytes_per_lookup_for(g.rows, g.dim, self._params(params))

    def build(self, params: dict, g: Geometry, seed: int) -> Any:
        """The kernel object (imports torch or numba as its backend needs)."""
        return self.kernel_class.from_params(g.rows, g.dim, self._params(params), seed=seed,
                                             pages=g.pages)

    @property
    def runtime_params(self) -> tuple[str, ...]:
        """Parameters that shape the kernel's loop, not its tables (the class's
        ``RUNTIME_PARAMS``): a worker sets them per point with ``retune``."""
        return tuple(getattr(self.kernel_class, "RUNTIME_PARAMS", ()))

    def retune(self, kernels: list, params: dict) -> None:
        """Give kernels built for one point of a group another point's runtime params."""
        if self.runtime_params:
            for kernel in kernels:
                kernel.retune(self._params(params))


# Parameters results stored before they existed lack, with the value those runs had.
LEGACY_PARAMS = {"combine": "per_id", "hashing": "in_kernel"}


def precomputed_index_bytes(params: dict) -> int:
    """Bytes per id of the indices ``hashing: precomputed`` keeps for each batch."""
    if params.get("hashing") != "precomputed":
        return 0
    return 8 * (params["k"] + params.get("k_weight", 0))  # int64 token and weight indices


def _semantics(p: dict) -> str:
    """The combining rule (with weights only) and where hashing ran, for labels."""
    parts = [p["combine"]] if p.get("combine") and p.get("k_weight") else []
    parts += ["hashed before timing"] if p.get("hashing") == "precomputed" else []
    return f" {', '.join(parts)}" if parts else ""


def _describe_memrec(p: dict) -> str:
    return (f"memrec ({p['backend']}) d={p['token_rows']} k={p['k']} "
            f"d'={p['weight_rows']} k'={p['k_weight']}" + _semantics(p))


_SPECS = [
    KernelSpec("baseline", Baseline, lambda p: f"baseline ({p['backend']})",
               shared_keys="concat"),
    KernelSpec("spin", Spin, lambda p: f"spin {p['ns_per_lookup']} ns/lookup"),
    KernelSpec("memrec", MemRec, _describe_memrec),
    KernelSpec("hashing_trick", HashingTrick,
               lambda p: f"hashing trick ({p['backend']}) rows={p['rows']}"),
    KernelSpec("bloom", Bloom, lambda p: (f"bloom ({p['backend']}) d={p['token_rows']} "
                                          f"k={p['k']}" + _semantics(p))),
    KernelSpec("qr", QREmbedding, lambda p: f"qr ({p['backend']}) m={p['collisions']}",
               shared_keys="concat"),
    KernelSpec("robez", RobeZ,
               lambda p: f"robe-z ({p['backend']}) size={p['size']} Z={p['z']}"),
    KernelSpec("ttrec", TTRec, lambda p: f"tt-rec ({p['backend']}) rank={p['rank']}",
               shared_keys="concat"),
    KernelSpec("gather", Gather, lambda p: f"gather and write, {p['bag']} row(s) per output "
               f"row" if p.get("bag") else "gather"),
    KernelSpec("chase", Chase, lambda p: "chase"),
    KernelSpec("stream", Stream, lambda p: "stream"),
]
KERNELS: dict[str, KernelSpec] = {spec.name: spec for spec in _SPECS}

KernelEntry = Annotated[
    typing.Union[tuple(spec.params_model for spec in _SPECS)],  # noqa: UP007 - built
    Field(discriminator="kernel"),
]


def variants(entry: ScenarioKernel) -> list[dict]:
    """Expand a kernel entry's swept parameters into one dict per combination."""
    fields = [name for name in type(entry).model_fields if name not in ("kernel", "label")]
    values = [getattr(entry, name) or [None] for name in fields]  # None: not given
    return [dict(zip(fields, combo)) for combo in itertools.product(*values)]

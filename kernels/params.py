"""The parameter model every kernel class carries, and the field types they share.

Each kernel class describes itself at class level, without building a table:

- ``Params``: a pydantic model of its parameters beyond the vocabulary's ``rows`` and
  ``dim`` (unknown keys are errors). Defaults are what a scenario gets when it leaves
  the key out.
- ``footprint_for(rows, dim, params)``: bytes of the arrays it owns (what the built
  object's ``nbytes`` reports; a test holds the two equal).
- ``bytes_per_lookup_for(rows, dim, params)``: table bytes one id reads.
- ``from_params(rows, dim, params, seed, pages)``: the built kernel.

A parameter that counts table entries is marked ``Entries("row")`` (a row of ``dim``
fp32) or ``Entries("float")`` (one fp32), so a caller may accept it as a size ("4x LLC",
"64MiB") and turn it into entries. The harness builds its scenario schema from these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from kernels.hashing import MAX_ROWS


@dataclass(frozen=True)
class Entries:
    """Marks a parameter counting table entries: ``row`` (dim fp32) or ``float`` (one fp32)."""

    unit: str

    def entry_bytes(self, dim: int) -> int:
        return dim * 4 if self.unit == "row" else 4


class KernelParams(BaseModel):
    """A kernel's parameters (subclassed by each kernel as its ``Params``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


TableRows = Annotated[int, Field(ge=1, le=MAX_ROWS), Entries("row")]
TableFloats = Annotated[int, Field(ge=1, le=MAX_ROWS), Entries("float")]
# Hashes per id: MEM-REC's k and k' are small (the paper uses 1-4); a bound keeps a typo
# (k: 2000000) a clear error instead of a worker that runs out of memory.
HashCount = Annotated[int, Field(ge=1, le=64)]
WeightHashCount = Annotated[int, Field(ge=0, le=64)]
PREFETCH_HELP = "fused backend: ids ahead whose rows are prefetched (0: none)"


def entries_of(params: type[KernelParams]) -> dict[str, Entries]:
    """The parameters of a model that count table entries, with their unit."""
    return {name: meta for name, field in params.model_fields.items()
            for meta in field.metadata if isinstance(meta, Entries)}

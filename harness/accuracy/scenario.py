"""Accuracy scenario files (``scenarios/accuracy.yaml``): one strict schema.

Unknown keys are errors; every problem is reported as ``file:line: key.path: what was
expected`` (exit 2). A ``quick:`` block overrides keys for ``--quick`` and is checked
too. Sizes of compressed kinds are given as compression ratios against the baseline's
bytes or as total embedding bytes, so that kinds compare at equal memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PositiveFloat,
                      PositiveInt, ValidationError, model_validator)

from harness.errors import UsageError
from harness.scenario.schema import deep_merge
from harness.scenario.sizes import Size, parse_size
from harness.scenario.inputfile import read_scenario_text
from harness.scenario.yamlload import YamlProblem, format_path, load_yaml

KINDS = ("baseline", "memrec", "bloom", "hashing_trick", "qr", "robez", "ttrec")


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _byte_size(value):
    size = parse_size(value)
    if size.kind != "bytes":
        raise ValueError(f"expected bytes like '64KiB' or '2MB', got {value!r}")
    return size


ByteSize = Annotated[Size, BeforeValidator(_byte_size)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Synthetic(Strict):
    """A click stream drawn from a known model (see harness.accuracy.synthetic)."""

    train_samples: PositiveInt = 400_000
    test_samples: PositiveInt = 100_000
    cardinality_scale: PositiveFloat = Field(0.01, le=1.0, description=(
        "Criteo Kaggle's 26 cardinalities times this (small ones kept)"))
    min_rows: PositiveInt = 10
    zipf_alpha: PositiveFloat = 1.1
    latent_dim: PositiveInt = 4
    bias_scale: float = Field(1.0, ge=0)
    interaction_scale: float = Field(1.0, ge=0)
    dense_scale: float = Field(0.5, ge=0)
    ctr: float = Field(0.25, gt=0, lt=1, description="target click rate")


class Criteo(Strict):
    """Criteo Kaggle / Terabyte text: label, 13 integers, 26 hex categoricals, tabs."""

    path: str
    max_rows: PositiveInt = Field(100_000, description=(
        "ids per feature: hex values are reduced modulo this (dlrm's max-ind-range)"))
    test_fraction: float = Field(0.1, gt=0, lt=1)
    limit: PositiveInt | None = Field(None, description="read at most this many lines")


class Data(Strict):
    synthetic: Synthetic | None = None
    criteo: Criteo | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.synthetic is None) == (self.criteo is None):
            raise ValueError("give exactly one of synthetic: or criteo:")
        return self


class Model(Strict):
    dim: PositiveInt = 16
    bottom: list[PositiveInt] = [64]
    top: list[PositiveInt] = [64, 32]


class Train(Strict):
    epochs: PositiveInt = 1
    batch_size: PositiveInt = 1024
    lr: PositiveFloat = 1e-3
    eval_samples: PositiveInt = Field(100_000, description="train samples scored per epoch")


class Kind(Strict):
    """One embedding kind, at one or more sizes (compression ratios or total bytes)."""

    kind: Literal[KINDS]
    label: str | None = None
    compression: Annotated[list[PositiveFloat], BeforeValidator(_as_list)] | None = None
    bytes: Annotated[list[ByteSize], BeforeValidator(_as_list)] | None = None
    k: PositiveInt | None = Field(None, le=64, description="memrec, bloom: token hashes")
    k_weight: int | None = Field(None, ge=0, le=64, description="memrec: weight hashes k'")
    combine: Literal["per_id", "per_bag"] | None = None
    weight_share: float | None = Field(None, gt=0, lt=1, description=(
        "memrec: fraction of the bytes given to the weight table (d')"))
    z: PositiveInt | None = Field(None, description="robez: floats per block")

    @model_validator(mode="after")
    def _sizes_and_params(self):
        if self.compression is not None and self.bytes is not None:
            raise ValueError("give compression: or bytes:, not both")
        if self.kind == "baseline" and (self.bytes is not None
                                        or any(c != 1 for c in self.compression or [])):
            raise ValueError("the baseline is the uncompressed table: no compression or bytes")
        if self.kind != "baseline" and self.compression is None and self.bytes is None:
            raise ValueError(f"{self.kind} needs compression: (ratios) or bytes: (sizes)")
        allowed = {"memrec": {"k", "k_weight", "combine", "weight_share"},
                   "bloom": {"k"}, "robez": {"z"}}.get(self.kind, set())
        given = {n for n in ("k", "k_weight", "combine", "weight_share", "z")
                 if getattr(self, n) is not None}
        if given - allowed:
            raise ValueError(f"{', '.join(sorted(given - allowed))} does not apply to "
                             f"{self.kind}")
        return self


class AccuracyScenario(Strict):
    name: str
    description: str | None = None
    seed: int = 0
    threads: PositiveInt = 1
    data: Data
    model: Model = Model()
    train: Train = Train()
    kinds: list[Kind] = Field(min_length=1)


@dataclass
class LoadedAccuracy:
    scenario: AccuracyScenario
    path: Path
    given: dict      # as written, quick: block included
    quick: bool
    doc: object = None  # harness.scenario.yamlload.Document: the line of each key path

    def where(self, path: tuple) -> str:
        """'file:line: key.path' for a problem at ``path``."""
        line = self.doc.line_of(path) if self.doc is not None else None
        return f"{self.path}:{line}: {format_path(path)}" if line \
            else f"{self.path}: {format_path(path)}"


def _problems(exc: ValidationError, file: str, doc, prefix: tuple = ()) -> list[str]:
    out = []
    for err in exc.errors():
        path = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p in
                                                             ("function-after",)))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] != "value_error" and not isinstance(err.get("input"), (dict, list)):
            msg += f" (got {err.get('input')!r})"
        line = doc.line_of(path)
        out.append(f"{file}:{line}: {format_path(path)}: {msg}" if line
                   else f"{file}: {format_path(path)}: {msg}")
    return out


def load_accuracy_scenario(path: str | Path, quick: bool = False) -> LoadedAccuracy:
    """Load and check an accuracy scenario; UsageError (exit 2) lists every problem."""
    path = Path(path)
    file = str(path)
    text = read_scenario_text(path)  # a regular file of at most 1 MiB
    try:
        doc = load_yaml(text)
    except YamlProblem as exc:
        raise UsageError(f"{file}:{exc.line}: {exc}" if exc.line else f"{file}: {exc}") \
            from None
    if not isinstance(doc.data, dict):
        raise UsageError(f"{file}: expected a mapping of scenario keys at the top level")
    base = {k: v for k, v in doc.data.items() if k != "quick"}
    block = doc.data.get("quick")
    if block is not None and not isinstance(block, dict):
        line = doc.line_of(("quick",))
        raise UsageError(f"{file}:{line}: quick: expected a mapping of keys to override")
    try:
        scenario = AccuracyScenario.model_validate(base)
    except ValidationError as exc:
        raise UsageError(_problems(exc, file, doc)) from None
    if quick and block:
        try:
            scenario = AccuracyScenario.model_validate(deep_merge(base, block))
        except ValidationError as exc:
            raise UsageError([f"{p} (with the quick: block applied)"
                              for p in _problems(exc, file, doc)]) from None
    return LoadedAccuracy(scenario, path, doc.data, quick, doc)

"""Scenario files: one validated schema, every error named by file, line and key path.

A scenario says what to measure (kernels, table sizes relative to the LLC, batch
sizes, threads, pinning, index distribution) independently of the machine it
runs on; ``harness.execute.plan`` resolves it against a machine. Unknown keys are errors.
A ``quick:`` block overrides any keys for ``--quick`` runs and is validated too.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from harness.counters.config import CountersConfig
from harness.machine.cpulist import parse_cpulist
from harness.machine.numa import PLACEMENT_PATTERN
from harness.errors import UsageError
from harness.scenario.inputfile import check_trace, read_scenario_text
from harness.scenario.bounds import (KERNEL_PARAM_RANGES, MAX_THREADS, BatchSize, Batches,
                                     MinTimeS, Fraction01, Precision, Retries, SpreadLimit,
                                     Cardinality, CpuCount, CpuNumber, Pooling, Repeats,
                                     Seed, TimeoutS, Warmups, ZipfAlpha)
from harness.scenario.inputfile import load_trace  # noqa: F401 - the worker's import
from harness.scenario.kernelspec import KERNELS, KernelEntry, _as_list, variants
from harness.scenario.sizes import Size, parse_size
from harness.scenario.yamlload import YamlProblem, format_path, load_yaml
from harness.serve.config import Batching, ServeConfig

TableSize = Annotated[Size, BeforeValidator(lambda v: parse_size(v))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(Strict):
    """The machine the scenario was written for; advisory, never enforced."""

    cpu: str | None = None
    uarch: str | None = None
    sockets: CpuCount | None = None
    cores_per_socket: CpuCount | None = None
    llc: TableSize | None = None
    notes: str | None = None


class Pinning(Strict):
    cores: Literal["auto"] | str | list[CpuNumber] = "auto"
    socket: CpuNumber | None = None
    smt: bool = False  # False: one logical CPU per physical core

    @field_validator("cores")
    @classmethod
    def _cpulist(cls, value):
        if isinstance(value, str) and value != "auto":
            try:
                cpus = parse_cpulist(value)
            except ValueError as exc:
                raise ValueError(f"expected 'auto', a cpulist like '0-27' or a list of "
                                 f"CPU numbers: {exc}") from None
            if not cpus:
                raise ValueError("the cpulist is empty")
        if isinstance(value, list) and not value:
            raise ValueError("the list of cores is empty")
        return value


class Tables(Strict):
    """The uncompressed tables: one size swept for every feature, or one row count each.

    ``cardinalities`` lists each feature's rows (e.g. MLPerf Criteo-TB's 26); with
    ``scale_to_fit`` a kernel whose tables grow with the rows (the baseline, QR) is
    scaled down, all features alike, to fit the memory budget, and says so, while
    the others still see ids over the full cardinalities. ``layout: shared`` puts
    every feature in one table with one bag per sample, as MEM-REC's reference code
    does; ``per-feature`` gives each feature its own table and bag.
    """

    sizes: Annotated[list[TableSize], BeforeValidator(_as_list), Field(min_length=1)] | None = None
    cardinalities: Annotated[list[Cardinality],
                             Field(min_length=1, max_length=10_000)] | None = None
    dim: Annotated[int, Field(ge=1, le=1 << 16)] = 128
    features: Annotated[int, Field(ge=1, le=10_000)] = 1
    # Page size of every kernel's tables (a fair baseline gets huge pages too); a list
    # sweeps it. default: numpy's allocator; 4k; thp (madvise); hugetlb (reserved pool).
    pages: Annotated[list[Literal["default", "4k", "thp", "hugetlb"]],
                     BeforeValidator(_as_list), Field(min_length=1)] = ["default"]
    layout: Literal["per-feature", "shared"] = "per-feature"
    scale_to_fit: bool = False
    # Size "effective-LLC" tables even from a limits result marked doubtful
    # (harness.limits.doubt); without it `run` refuses such a result. A permission, not
    # a setting of what is measured: left out of the dump that resume and merge compare
    # (the manifest lists the doubts it was given), so older results still resume.
    trust_doubtful_limits: bool = Field(default=False, exclude=True)

    @model_validator(mode="after")
    def _one_way_to_size(self):
        if (self.sizes is None) == (self.cardinalities is None):
            raise ValueError("give either sizes (swept, the same for every feature) or "
                             "cardinalities (one row count per feature), not both or neither")
        if self.cardinalities is not None:
            if "features" in self.model_fields_set and self.features != len(self.cardinalities):
                raise ValueError(f"features is {self.features} but cardinalities lists "
                                 f"{len(self.cardinalities)} tables; drop features or match it")
            self.features = len(self.cardinalities)
        elif self.scale_to_fit:
            raise ValueError("scale_to_fit applies only to cardinalities (sizes that do not "
                             "fit are skipped with the reason)")
        return self


class Indices(Strict):
    distribution: Literal["uniform", "zipf", "trace"] = "uniform"
    alpha: ZipfAlpha | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.distribution == "zipf" and self.alpha is None:
            self.alpha = 1.05
        if self.distribution != "zipf" and self.alpha is not None:
            raise ValueError("alpha applies only to distribution: zipf")
        if self.distribution == "trace" and not self.path:
            raise ValueError("distribution: trace needs path: (a .npy or text file of ids)")
        if self.distribution != "trace" and self.path is not None:
            raise ValueError("path applies only to distribution: trace")
        return self


class Measure(Strict):
    """How each point is measured, and when its numbers are not to be believed
    (harness.execute.sampling, harness.store.quality)."""

    warmups: Warmups = 20       # batches run untimed-for-results before timing
    # timed batches per worker process: a count, or "auto": until the 95 % interval of
    # the median is within ``precision`` (relative half-width) or ``budget_s`` of timed
    # batches is spent, between min_batches and max_batches
    batches: Batches | Literal["auto"] = "auto"
    min_batches: Batches = 20
    max_batches: Batches = 1000
    precision: Precision = 0.02
    budget_s: TimeoutS = 3.0
    # ... and not before this much time in timed batches (pyperf's min_time); 0: none
    min_time_s: MinTimeS = 0.0
    # a noisy or unstable run is run again in a fresh worker up to this many times
    retries: Retries = 2
    # noisy: other tasks' share of the pinned CPUs, or steal, above these (fractions)
    max_interference: Fraction01 = 0.05
    max_steal: Fraction01 = 0.02
    # unstable: a run's batch IQR / median, or the runs' medians' range / median, above
    max_spread: SpreadLimit = 0.5
    repeats: Repeats = 3        # worker processes per point (pyperf runs)
    seed: Seed = 0
    timeout_s: TimeoutS = 1800.0  # per worker process
    verify: bool = True                # check the first batch against numpy


def _swept(item):
    """One value or a non-empty list of values, each of type ``item``."""
    return Annotated[list[item], BeforeValidator(_as_list), Field(min_length=1)]


class Memory(Strict):
    """Where every kernel's tables live (a list sweeps it): local (the pinned CPUs'
    nodes), remote (another node), interleave (all nodes), node:N. See machine/numa."""

    placement: Annotated[list[Annotated[str, Field(pattern=PLACEMENT_PATTERN)]],
                         BeforeValidator(_as_list), Field(min_length=1)] = ["local"]


def _thread_count(value):
    if value == "all" or (isinstance(value, int) and not isinstance(value, bool)
                          and 0 < value <= MAX_THREADS):
        return value
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:36] + "..."
    raise ValueError(f"expected a positive number of threads or 'all', at most {MAX_THREADS} "
                     f"(got {shown})")


# Thread counts; "all" means every CPU of the pinning set on the machine it runs on.
ThreadList = Annotated[list[Annotated[object, BeforeValidator(_thread_count)]],
                       BeforeValidator(_as_list), Field(min_length=1)]


class Scenario(Strict):
    # names the results directory (results/<name>/...): a file name, so bounded
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    target: Target | None = None
    threads: ThreadList
    pinning: Pinning = Pinning()
    tables: Tables
    batch_sizes: _swept(BatchSize)
    pooling: _swept(Pooling) = [1]
    indices: Indices = Indices()
    kernels: list[KernelEntry] = Field(min_length=1)
    measure: Measure = Measure()
    counters: CountersConfig = Field(default_factory=CountersConfig)
    memory: Memory = Memory()
    serve: ServeConfig | None = None  # read by `harness serve`; `run` ignores it


# Built-in caps for --quick on what the quick: block leaves alone.
QUICK_CAPS = {"warmups": 5, "batches": 50, "repeats": 1}
_SECTIONS = {(): Scenario, ("target",): Target, ("pinning",): Pinning,
             ("tables",): Tables, ("indices",): Indices, ("measure",): Measure,
             ("counters",): CountersConfig, ("memory",): Memory, ("serve",): ServeConfig,
             ("serve", "batching"): Batching}


@dataclass
class LoadedScenario:
    scenario: Scenario
    path: Path
    text: str
    given: dict          # as written, including any quick: block
    quick: bool

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def _model_at(parent: tuple, data) -> type[BaseModel] | None:
    if parent in _SECTIONS:
        return _SECTIONS[parent]
    if len(parent) == 2 and parent[0] == "kernels" and isinstance(parent[1], int):
        try:
            name = data["kernels"][parent[1]].get("kernel")
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        return KERNELS[name].params_model if name in KERNELS else None
    return None


def _data_path(data, loc) -> tuple:
    """Map a pydantic error location onto the key path in the data (drop union tags)."""
    out, cur = [], data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            out.append(part)
            cur = cur[part]
        elif last and isinstance(part, str) and part not in KERNELS:
            out.append(part)
    return tuple(out)


def _message(err: dict, path: tuple, data) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(path[:-1], data)
        allowed = [f for f in model.model_fields] if model else []
        hint = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        msg = "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else "")
        return msg + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
    if kind == "union_tag_invalid" and isinstance(err["input"], dict):
        name = str(err["input"].get("kernel"))
        hint = difflib.get_close_matches(name, list(KERNELS), n=1)
        return (f"unknown kernel {name!r}" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + f"; expected one of: {', '.join(KERNELS)}")
    if kind == "union_tag_not_found":
        return f"each kernel needs 'kernel:' naming one of: {', '.join(KERNELS)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "too_short" and err.get("ctx", {}).get("min_length") == 1:
        return "must list at least one value (got an empty list)"
    msg = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if not isinstance(value, (dict, list)) and kind not in ("value_error",):
        shown = repr(value)
        msg += f" (got {shown if len(shown) <= 40 else shown[:36] + '...'})"
    return msg


def _validate(data) -> tuple[Scenario | None, list[tuple[tuple, str]]]:
    """Validate scenario data; problems are (key path, message) pairs."""
    try:
        return Scenario.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = _data_path(data, err["loc"])
            problems.append((path, _message(err, path, data)))
        return None, problems


def _format(file: str, line: int | None, path: tuple, message: str) -> str:
    where = f"{file}:{line}" if line else file
    return f"{where}: {format_path(path)}: {message}"


def deep_merge(base: dict, override: dict) -> dict:
    """Dicts merge key by key; anything else (lists included) is replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _within(path: tuple, tree) -> bool:
    """Whether ``path`` (or a prefix of it naming a replaced value) is in ``tree``."""
    for part in path:
        if isinstance(tree, dict) and part in tree:
            tree = tree[part]
        elif isinstance(tree, dict):
            return False
        else:
            return True  # a list or scalar the override replaced wholesale
    return True


def kernel_param_ranges(scenario: Scenario, at: tuple, doc, file: str) -> list[str]:
    """Kernel parameters outside ``bounds.KERNEL_PARAM_RANGES``, one line per key."""
    problems = []
    for i, entry in enumerate(scenario.kernels):
        for name, (low, high) in KERNEL_PARAM_RANGES.items():
            values = getattr(entry, name, None) or []
            bad = [v for v in values if isinstance(v, int) and not low <= v <= high]
            if bad:
                shown = repr(bad[0]) if len(repr(bad[0])) <= 40 else repr(bad[0])[:36] + "..."
                path = at + (i, name)
                problems.append(_format(file, doc.line_of(path), path,
                                        f"must be from {low} to {high} (got {shown})"))
    return problems


def _variant_key(kernel: str, variant: dict) -> tuple:
    """What makes two written variants the same measurement: sizes by value, not text."""
    return (kernel, *sorted((k, (v.kind, v.value) if isinstance(v, Size) else v)
                            for k, v in variant.items()))


def _shown(kernel: str, variant: dict) -> str:
    given = ", ".join(f"{k}={v}" for k, v in variant.items() if v is not None)
    return f"{kernel} ({given})" if given else kernel


def duplicate_kernels(scenario: Scenario, at: tuple, doc, file: str) -> list[str]:
    """Kernel entries (or one entry's sweep) that name the same measurement twice.

    The plan measures a point once, so a repeated entry was silently merged: its
    label lost, and the author's count of points wrong. Each repeat is refused,
    naming the line of the entry that first had it.
    """
    problems, first = [], {}  # variant key -> index of the entry that first had it
    for i, entry in enumerate(scenario.kernels):
        here = at + (i,)
        for variant in variants(entry):
            key = _variant_key(entry.kernel, variant)
            if key not in first:
                first[key] = i
                continue
            j = first[key]
            what = _shown(entry.kernel, variant)
            if j == i:
                why = f"its sweep lists {what} twice"
            else:
                why = (f"repeats {what} of {format_path(at + (j,))} (line "
                       f"{doc.line_of(at + (j,))}); each point is measured once: remove "
                       f"the repeat or change a parameter")
            problems.append(_format(file, doc.line_of(here), here, why))
            break  # one line per entry
    return problems


def load_scenario(path: str | Path, quick: bool = False) -> LoadedScenario:
    """Load and validate a scenario; raise UsageError listing every problem found."""
    path = Path(path)
    file = str(path)
    text = read_scenario_text(path)
    try:
        doc = load_yaml(text)
    except YamlProblem as exc:
        problems = getattr(exc, "problems", [exc])
        raise UsageError([f"{file}:{p.line}: {p}" if p.line else f"{file}: {p}"
                          for p in problems]) from None
    data = doc.data
    if not isinstance(data, dict):
        raise UsageError(f"{file}: expected a mapping of scenario keys at the top level, "
                         f"got {type(data).__name__}")
    base = {k: v for k, v in data.items() if k != "quick"}
    quick_block = data.get("quick")
    scenario, problems = _validate(base)
    problem_lines = [_format(file, doc.line_of(p), p, m) for p, m in problems]
    quick_scenario = None
    if quick_block is not None:
        if not isinstance(quick_block, dict):
            problem_lines.append(_format(file, doc.line_of(("quick",)), ("quick",),
                                         "expected a mapping of keys to override"))
        else:
            quick_scenario, quick_problems = _validate(deep_merge(base, quick_block))
            for qpath, message in quick_problems:
                if _within(qpath, quick_block):  # else it is the base's own problem
                    full = ("quick",) + qpath
                    problem_lines.append(_format(file, doc.line_of(full), full, message))
    for sc, at in ((scenario, ("kernels",)), (quick_scenario, ("quick", "kernels"))):
        if sc is not None and (at == ("kernels",) or "kernels" in (quick_block or {})):
            problem_lines += kernel_param_ranges(sc, at, doc, file)
            problem_lines += duplicate_kernels(sc, at, doc, file)
    if problem_lines:
        raise UsageError(problem_lines)

    chosen = scenario
    if quick:
        chosen = quick_scenario or scenario.model_copy(deep=True)
        set_measure = (quick_block or {}).get("measure") or {}
        for key, cap in QUICK_CAPS.items():
            if key not in set_measure:
                if key == "batches" and chosen.measure.batches == "auto":
                    key = "max_batches"  # still auto, over fewer batches at most
                setattr(chosen.measure, key, min(getattr(chosen.measure, key), cap))

    trace_problems = []
    for label, sc in (("", scenario), ("quick.", quick_scenario)):
        if sc is not None and sc.indices.distribution == "trace":
            problem = check_trace(path.parent / sc.indices.path)
            if problem:
                key = ("quick", "indices", "path") if label else ("indices", "path")
                trace_problems.append(f"{file}:{doc.line_of(key)}: {label}indices.path: {problem}")
    if trace_problems:
        raise UsageError(sorted(set(trace_problems)))
    return LoadedScenario(chosen, path, text, data, quick)

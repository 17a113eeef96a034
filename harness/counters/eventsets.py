"""Event sets as data: ``events/<name>.yaml``, one per microarchitecture, plus ``generic``.

A file names raw perf events under logical names (``cycles``, ``llc_misses``,
``dram_cas_reads``, ...) and, separately, derived metrics as arithmetic formulas
over those names and ``lookups`` (the lookups done inside the counted region).
Formulas are parsed with ``ast`` and may only use + - * /, numbers, parentheses
and names the file defines: checked when the file is loaded.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

EVENTS_DIR = Path(__file__).parent / "events"
GENERIC = "generic"
# Names a formula may use besides the file's events.
VARIABLES = ("lookups",)
# Every file must define these: the software events prove the region is scoped,
# and the first metric is the harness's headline figure.
REQUIRED_EVENTS = ("task_clock", "page_faults", "cycles", "instructions")
# Each set defines these or says, under ``unavailable``, why this CPU cannot count them
# (AMD Zen has no per-process LLC-miss event: its sets count L1D fills by source instead,
# a different quantity under a different name).
REQUIRED_METRICS = ("llc_misses_per_lookup", "llc_miss_ratio", "ipc")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventDef(_Strict):
    perf: str = Field(min_length=1, description="the event as perf's -e takes it")
    scope: Literal["task", "system"] = "task"   # system: uncore, counts every process
    bytes_per_count: PositiveInt | None = None  # to undo perf's scaling to MiB etc.
    # The raw encoding to count with when perf or the kernel lacks the alias in ``perf``
    # (e.g. uncore_imc/cas_count_read/ on Sapphire Rapids with a 6.1-era kernel); the
    # probe tries the alias first and says which one counted.
    fallback: str | None = None
    what: str = ""


class MetricDef(_Strict):
    formula: str = Field(min_length=1)
    unit: str = ""
    what: str = ""


class EventSetFile(_Strict):
    name: str
    description: str = ""
    uarchs: list[str] = []
    events: dict[str, EventDef] = Field(min_length=1)
    metrics: dict[str, MetricDef] = {}
    unavailable: dict[str, str] = {}   # metric -> why this set cannot give it


@dataclass(frozen=True)
class EventSet:
    name: str
    description: str
    uarchs: tuple[str, ...]
    events: dict[str, EventDef]
    metrics: dict[str, MetricDef]
    path: Path | None = None
    formula_names: dict[str, frozenset] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def subset(self, names: list[str]) -> "EventSet":
        """Only the events ``names`` and the metrics computable from them."""
        events = {n: self.events[n] for n in names}
        metrics = {m: d for m, d in self.metrics.items()
                   if self.formula_names[m] <= set(events) | set(VARIABLES)}
        return EventSet(self.name, self.description, self.uarchs, events, metrics, self.path,
                        {m: self.formula_names[m] for m in metrics}, self.unavailable)


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv}


def parse_formula(formula: str) -> ast.Expression:
    """Parse an arithmetic formula; ValueError naming the first construct not allowed."""
    try:
        tree = ast.parse(" ".join(formula.split()), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"formula {formula!r} is not valid arithmetic: {exc.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp,
                             ast.USub, ast.UAdd)) or type(node) in _OPS:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            continue
        raise ValueError(f"formula {formula!r}: {type(node).__name__} is not allowed "
                         f"(only + - * /, numbers, parentheses and names)")
    return tree


def formula_names(formula: str) -> frozenset:
    return frozenset(n.id for n in ast.walk(parse_formula(formula)) if isinstance(n, ast.Name))


def evaluate(formula: str, values: dict[str, float]) -> float:
    """Value of ``formula`` with ``values`` for its names (ZeroDivisionError passes)."""
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return float(values[node.id])
        if isinstance(node, ast.UnaryOp):
            return -ev(node.operand) if isinstance(node.op, ast.USub) else ev(node.operand)
        return _OPS[type(node.op)](ev(node.left), ev(node.right))

    return ev(parse_formula(formula))


def _problems(data: EventSetFile) -> list[str]:
    problems = []
    for name in [*data.events, *data.metrics]:
        if not name.isidentifier() or name in VARIABLES:
            problems.append(f"{name!r} is not usable as a name (an identifier, not "
                            f"{', '.join(VARIABLES)})")
    for name in REQUIRED_EVENTS:
        if name not in data.events:
            problems.append(f"events: {name} is required in every event set")
    for name in REQUIRED_METRICS:
        if name not in data.metrics and not data.unavailable.get(name, "").strip():
            problems.append(f"metrics: {name} is required in every event set (or say under "
                            f"unavailable: why this CPU cannot give it)")
    for name in data.unavailable:
        if name in data.metrics:
            problems.append(f"unavailable.{name}: also defined under metrics")
    for metric, mdef in data.metrics.items():
        try:
            names = formula_names(mdef.formula)
        except ValueError as exc:
            problems.append(f"metrics.{metric}: {exc}")
            continue
        unknown = sorted(names - set(data.events) - set(VARIABLES))
        if unknown:
            problems.append(f"metrics.{metric}: uses {', '.join(unknown)}, which this file "
                            f"does not define")
    return problems


def load_event_set_file(path: Path) -> EventSet:
    """Load and check one event-set file; ValueError listing every problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read event set: {exc}") from None
    try:
        data = EventSetFile.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ValueError("\n".join(lines)) from None
    problems = _problems(data)
    if data.name != path.stem:
        problems.append(f"name: {data.name!r} differs from the file name {path.stem!r}")
    if problems:
        raise ValueError("\n".join(f"{path}: {p}" for p in problems))
    return EventSet(data.name, data.description, tuple(data.uarchs), dict(data.events),
                    dict(data.metrics), path,
                    {m: formula_names(d.formula) for m, d in data.metrics.items()},
                    dict(data.unavailable))


def available_sets(directory: Path = EVENTS_DIR) -> list[str]:
    return sorted(p.stem for p in Path(directory).glob("*.yaml"))


def load_event_set(name: str, directory: Path = EVENTS_DIR) -> EventSet:
    path = Path(directory) / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no event set {name!r}; available: {', '.join(available_sets(directory))}")
    return load_event_set_file(path)


def set_for_uarch(uarch: str, directory: Path = EVENTS_DIR) -> str:
    """The event set written for ``uarch``, or ``generic``."""
    for name in available_sets(directory):
        if name == uarch or uarch in load_event_set(name, directory).uarchs:
            return name
    return GENERIC


def custom_event_set(events: list[str], base: EventSet) -> EventSet:
    """A set of raw perf events a scenario listed, with ``base``'s software events.

    Each listed event keeps its perf spelling as its name (made an identifier);
    only the base set's metrics whose events are all present survive.
    """
    chosen: dict[str, EventDef] = {}
    for spelling in events:
        match = next((n for n, d in base.events.items() if spelling in (n, d.perf)), None)
        if match:
            chosen[match] = base.events[match]
            continue
        ident = "".join(c if c.isalnum() else "_" for c in spelling).strip("_") or "event"
        if ident[0].isdigit():
            ident = "e_" + ident
        chosen[ident] = EventDef(perf=spelling, what="listed in the scenario")
    for name in ("task_clock", "page_faults"):
        chosen.setdefault(name, base.events[name])
    metrics = {m: d for m, d in base.metrics.items()
               if base.formula_names[m] <= set(chosen) | set(VARIABLES)}
    return EventSet(f"{base.name}+custom", base.description, base.uarchs, chosen, metrics,
                    base.path, {m: base.formula_names[m] for m in metrics}, base.unavailable)

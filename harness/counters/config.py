"""The ``counters:`` section of a scenario (validated like every other section).

    counters:
      backends: [perf, model]      # any of perf, cachegrind, model; [] turns counting off
      event_set: auto              # auto (this machine's uarch, else generic) or a file name
      events: [cycles, r412e]      # optional: only these (set names or raw perf events)
      simulated_batches: 10        # cachegrind: timed batches run under valgrind
      simulated_warmups: 5
      model_batches: 200           # model: at most this many timed batches replayed
      ack_timeout_s: 10            # how long the worker waits for perf's ack
      simulated_llc: {size: 38.5MiB, ways: 11}   # optional: model/cachegrind simulate this
                                   # LLC instead of the detected one (e.g. the paper's server)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.counters.eventsets import available_sets
from harness.scenario.bounds import (AckTimeoutS, CacheWays, LineBytes, SimulatedBatches,
                                     SimulatedWarmups)

DEFAULT_BACKENDS = ["perf", "model"]


class SimulatedLlc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: str
    ways: CacheWays = 16
    line_bytes: LineBytes = 64

    @field_validator("size")
    @classmethod
    def _bytes(cls, value):
        from harness.scenario.sizes import parse_size

        try:
            size = parse_size(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        if size.kind != "bytes":
            raise ValueError("give the simulated LLC size in bytes, e.g. 38.5MiB")
        return value

    @property
    def size_bytes(self) -> int:
        from harness.scenario.sizes import parse_size

        return parse_size(self.size).to_bytes(0, 1)


class CountersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backends: list[Literal["perf", "cachegrind", "model"]] = Field(
        default_factory=lambda: list(DEFAULT_BACKENDS))
    event_set: str = "auto"
    events: list[str] | None = None
    simulated_batches: SimulatedBatches = 10
    simulated_warmups: SimulatedWarmups = 5
    model_batches: SimulatedBatches = 200
    ack_timeout_s: AckTimeoutS = 10.0
    simulated_llc: SimulatedLlc | None = None

    @field_validator("backends")
    @classmethod
    def _unique(cls, value):
        if len(set(value)) != len(value):
            raise ValueError("each backend may be listed once")
        return value

    @field_validator("event_set")
    @classmethod
    def _known_set(cls, value):
        sets = available_sets()
        if value != "auto" and value not in sets:
            raise ValueError(f"unknown event set {value!r}; expected auto or one of: "
                             f"{', '.join(sets)}")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value):
        if value is not None:
            if not value:
                raise ValueError("list at least one event, or leave events out")
            bad = [e for e in value if not isinstance(e, str) or not e.strip()
                   or any(c.isspace() for c in e)]
            if bad:
                raise ValueError(f"events must be perf event names without spaces, got {bad!r}")
        return value


def parse_backends(text: str) -> list[str]:
    """``--counters`` on the command line: 'perf,model', 'all' or 'none'."""
    text = text.strip().lower()
    if text == "none":
        return []
    if text == "all":
        return ["perf", "cachegrind", "model"]
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in ("perf", "cachegrind", "model")]
    if bad or not items:
        raise ValueError(f"--counters: {text!r}: expected none, all, or a comma-separated "
                         f"list of perf, cachegrind, model")
    return list(dict.fromkeys(items))

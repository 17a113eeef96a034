"""The scenario's ``serve:`` block: offered rates, the latency bound, the batching policy.

Batches hold up to the scenario's ``batch_sizes`` requests (each a serving sweep of
its own); ``fixed`` waits for a full batch (the last one of a schedule goes out
partly filled), ``dynamic`` sends what is queued when the batch is full or the
oldest queued request has waited ``timeout_us``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Batching(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: Literal["fixed", "dynamic"] = "dynamic"
    # dynamic only; 1000 when not given; at most 10 s
    timeout_us: Annotated[int, Field(ge=1, le=10_000_000)] | None = None

    @model_validator(mode="after")
    def _timeout(self):
        if self.policy == "fixed" and self.timeout_us is not None:
            raise ValueError("timeout_us applies only to policy: dynamic (fixed batches "
                             "wait until full)")
        if self.policy == "dynamic" and self.timeout_us is None:
            self.timeout_us = 1000
        return self


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Offered loads in requests (queries) per second, swept low to high.
    rates_qps: Annotated[list[Annotated[float, Field(gt=0, le=1e9)]],
                         Field(min_length=1, max_length=64)]
    slo_ms: Annotated[float, Field(gt=0, le=3_600_000)]  # the p99 latency bound (<= 1 h)
    # Requests per rate: at least 100 for a p99 (p99.9 is reported from 1000 on).
    requests: Annotated[int, Field(ge=100, le=10_000_000)] = 2000
    # a rate's schedule is cut to this long (at most a day)
    max_seconds: Annotated[float, Field(gt=0, le=86_400)] = 10.0
    batching: Batching = Batching()
    # Rates above one whose p99 exceeded this many times slo_ms are not run (recorded
    # as skipped with the reason): queues only grow from there.
    overload_factor: Annotated[float, Field(gt=0, le=1e6)] = 10.0

    @model_validator(mode="after")
    def _rates(self):
        if sorted(set(self.rates_qps)) != self.rates_qps:
            raise ValueError(f"rates_qps must rise strictly, each once (got {self.rates_qps})")
        return self

    def requests_at(self, rate_qps: float) -> int:
        """Requests scheduled at ``rate_qps``: ``requests``, cut to ``max_seconds`` long
        but never under 100 (a p99 needs them)."""
        return max(100, min(self.requests, int(rate_qps * self.max_seconds)))

"""The measured process of ``harness serve``: one point, every offered rate, pinned.

    python -m harness.serve.worker SPEC.json --result RESULT.json

It reuses the run worker's steps in the same order (pin before importing torch, the
NUMA placement before any table, the same table build and id streams), then, for
each rate from low to high, serves a Poisson schedule of requests (one bag of
``pooling`` ids per feature each) with the scenario's batching policy. Kernel calls
run on the dispatching thread and the kernel's own pinned threads. Rates above an
overloaded one are recorded as skipped with the reason. The manager never measures.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

from harness.execute.worker import pin, thread_placement, worker_main
from harness.machine.cpulist import format_cpulist


def request_pool(point: dict, requests: int, seed: list[int]):
    """Every request of a schedule, per feature (ids, offsets) of ``requests`` bags."""
    from harness.execute import layout
    from harness.execute.indices import make_batches
    from harness.scenario.schema import load_trace

    dist = point["distribution"]
    trace = load_trace(Path(dist["path"])) if dist["name"] == "trace" else None
    return make_batches(dist, layout.feature_rows(point), requests, point["pooling"],
                        point["features"], 1, seed, trace)[0]


def batch_runner(point: dict, kspec, kernels: list, pool):
    """``run(first, stop)`` serving requests [first, stop): slice, arrange, prepare, run.

    Arranging and preparing the ids is in the served time: a server does it per batch.
    """
    from harness.execute import layout

    pooling = point["pooling"]

    def run(first: int, stop: int) -> None:
        batch = [(ids[first * pooling:stop * pooling], offsets[:stop - first])
                 for ids, offsets in pool]
        for kernel, (ids, offsets) in zip(kernels, layout.arrange(point, kspec, batch)):
            kernel.run(kernel.prepare(ids, offsets))
    return run


def measure(spec: dict, clock=time.perf_counter_ns) -> dict:
    point, cfg = spec["point"], spec["serve"]
    affinity = pin(point["cpus"], point["threads"])
    from harness.execute.placement import apply_placement, numa_report

    placement = apply_placement(point)
    if point["params"].get("backend") == "torch":
        import torch

        torch.set_num_threads(point["threads"])
    from harness.execute import layout
    from harness.scenario.kernelspec import KERNELS
    from harness.serve.analysis import rate_figures
    from harness.serve.config import ServeConfig
    from harness.serve.loadgen import poisson_schedule, serve

    config = ServeConfig.model_validate(cfg)
    kspec = KERNELS[point["kernel"]]
    kernels = layout.build_kernels(point, kspec, spec["llc_bytes"],
                                   pages=point.get("pages", "default"))
    max_batch = point["batch_size"]
    timeout_ns = (None if config.batching.policy == "fixed"
                  else config.batching.timeout_us * 1000)
    base_seed = [point["seed"], point["table_rows"], point["pooling"], point["features"]]

    # Full batches served back to back, no queue: the service time queues build on (and
    # the warm-up). Each its own ids: one batch repeated would be served from the cache.
    count = max(3, point["warmups"])
    run_full = batch_runner(point, kspec, kernels,
                            request_pool(point, max_batch * count, base_seed + [0]))
    alone = []
    for i in range(count):
        t0 = clock()
        run_full(i * max_batch, (i + 1) * max_batch)
        alone.append(clock() - t0)

    rates, overloaded_at = [], None
    for index, rate in enumerate(config.rates_qps):
        if overloaded_at is not None:
            rates.append({"rate_qps": rate, "status": "skipped",
                          "reason": f"overloaded at {overloaded_at:g} qps, a lower rate"})
            continue
        n = config.requests_at(rate)
        pool = request_pool(point, n, base_seed + [1 + index])
        schedule = poisson_schedule(rate, n, base_seed + [0x5EED, index])
        run = batch_runner(point, kspec, kernels, pool)
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            served = serve(schedule, run, max_batch, timeout_ns, clock,
                           give_up_ns=int(config.slo_ms * 1e6 * config.overload_factor))
        finally:
            if gc_was_enabled:
                gc.enable()
        figures = rate_figures(rate, served.latency_ns, served.span_ns, served.batch_sizes,
                               served.service_ns, served.start_lag_ns, served.stopped,
                               slo_ns=int(config.slo_ms * 1e6))
        figures["offered_span_ns"] = int(schedule[-1])
        figures["latency_ns"] = served.latency_ns.tolist()
        rates.append(figures)
        if served.stopped:
            overloaded_at = rate
    placement_seen = thread_placement()
    affinity["cpus_run_on"] = format_cpulist({t["last_cpu"] for t in placement_seen})
    return {"status": "ok", "point_id": point["point_id"], "pid": os.getpid(),
            "affinity": affinity, "numa": numa_report(kernels, placement),
            "effective_threads": getattr(kernels[0], "threads", point["threads"]),
            "batch_alone_ns": alone, "rates": rates}


def main(argv: list[str] | None = None) -> int:
    return worker_main(sys.argv[1:] if argv is None else argv, measure, "harness.serve.worker")


if __name__ == "__main__":
    sys.exit(main())

"""The measured process: one table, one repeat, in a fresh process the manager spawned.

    python -m harness.worker SPEC.json --result RESULT.json

A spec holds one point, or a group of points sharing one table (``points``, see
``harness.execute.groupworker``). Order matters: pin (affinity and OpenMP settings)
before importing torch, whose OpenMP pool reads them at load (and import torch only
for a torch backend); build the tables once (``setup``); then per point
(``measure_point``) generate every index batch, verify one batch against numpy, warm
up, then time each batch with ``time.perf_counter_ns``. The result (timings, the
affinity actually seen, each phase's time, errors) goes to RESULT.json; the manager
never measures.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import sys
import time
import traceback
from pathlib import Path

from harness.machine.cpulist import format_cpulist
from harness.store.fileio import atomic_write_json

_MAIN_STARTED = time.time()  # when this process got as far as the worker: spawn's end


def pin(cpus: list[int], threads: int) -> dict:
    """Pin this process and its future OpenMP threads; call before importing torch."""
    env = {
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "NUMBA_NUM_THREADS": str(threads),
        # numba's OpenMP layer honours GOMP_CPU_AFFINITY (one CPU per thread); TBB's
        # and the workqueue's threads would float over the whole pinning set.
        "NUMBA_THREADING_LAYER_PRIORITY": "omp tbb workqueue",
        # libgomp (torch's OpenMP): thread i runs on the i-th CPU of the list.
        "GOMP_CPU_AFFINITY": " ".join(str(c) for c in cpus),
        # Intel OpenMP, should a build use it.
        "KMP_AFFINITY": f"granularity=fine,explicit,proclist=[{','.join(map(str, cpus))}]",
    }
    os.environ.update(env)
    os.sched_setaffinity(0, cpus)
    seen = sorted(os.sched_getaffinity(0))
    return {"requested": format_cpulist(cpus), "after_pin": format_cpulist(seen),
            "matches": seen == sorted(cpus), "env": env}


def thread_placement() -> list[dict]:
    """Each thread of this process: allowed CPUs and the CPU it last ran on."""
    threads = []
    for task in sorted(Path("/proc/self/task").iterdir(), key=lambda p: int(p.name)):
        try:
            stat = (task / "stat").read_text()
            status = (task / "status").read_text()
        except OSError:
            continue  # the thread exited
        fields = stat.rsplit(")", 1)[1].split()
        allowed = next((line.split(":", 1)[1].strip() for line in status.splitlines()
                        if line.startswith("Cpus_allowed_list")), "?")
        threads.append({"tid": int(task.name), "allowed": allowed,
                        "last_cpu": int(fields[36])})  # field 39 of stat
    return threads


def memory_status() -> dict:
    """Resident and transparent-huge-page bytes of this process."""
    out = {}
    try:
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Rss", "AnonHugePages"):
                out[key.lower() + "_bytes"] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def timer_overhead_ns(clock=time.perf_counter_ns, samples: int = 2000) -> int:
    """Median cost of one back-to-back clock read pair: the floor under every sample."""
    diffs = []
    for _ in range(samples):
        t0 = clock()
        diffs.append(clock() - t0)
    return int(statistics.median(diffs))


def _index_seed(point: dict, repeat: int) -> list[int]:
    # The same for every kernel at one (size, batch, pooling, features): all see one stream.
    return [point["seed"], repeat, point["table_rows"], point["batch_size"],
            point["pooling"], point["features"]]


class Phases:
    """Where a worker's wall time goes, in ns per phase (the manager sums them into the
    run's duty cycle, ``harness.execute.duty``): ``with phases("table_build"): ...`` or
    ``phases.add(name, ns)``."""

    def __init__(self, clock=time.perf_counter_ns):
        self.ns: dict[str, int] = {}
        self.clock = clock

    def add(self, name: str, ns: int) -> None:
        self.ns[name] = self.ns.get(name, 0) + int(ns)

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0 = self.clock()
        try:
            yield
        finally:
            self.add(name, self.clock() - t0)


def setup(point: dict, spec: dict, phases: Phases) -> dict:
    """Pin, import, place and build the kernel's tables once: what every point of a
    worker's group shares. Returns the context ``measure_point`` measures with."""
    threads = point["threads"]
    affinity = pin(point["cpus"], threads)
    started = time.time()
    with phases("imports"):
        from harness.execute.placement import apply_placement, numa_report

        numa_placement = apply_placement(point)  # before any table: every kernel placed alike

        from harness.execute import layout
        from harness.scenario.kernelspec import KERNELS

        backend = point["params"].get("backend")
        torch_threads = None
        if backend == "torch":  # only then: importing torch costs seconds
            import torch

            torch.set_num_threads(threads)
            torch_threads = torch.get_num_threads()

        from harness.counters.region import make_region

    # Made before the tables: a simulated cache must see their initialisation too.
    region = make_region(spec.get("counters"))
    kspec = KERNELS[point["kernel"]]
    t0 = time.perf_counter_ns()
    kernels = layout.build_kernels(point, kspec, spec["llc_bytes"],
                                   pages=point.get("pages", "default"))
    build_ns = time.perf_counter_ns() - t0
    phases.add("table_build", build_ns)
    nbytes = sum(k.nbytes for k in kernels)
    return {"affinity": affinity, "started": started, "kernels": kernels, "kspec": kspec,
            "region": region, "build_ns": build_ns, "torch_threads": torch_threads,
            "backend": backend, "numa": numa_report(kernels, numa_placement),
            "build_gbytes_per_s": nbytes / build_ns if build_ns else None}


def measure(spec: dict, clock=time.perf_counter_ns) -> dict:
    """One point, one repeat: a group of one."""
    phases = Phases()
    if spec.get("spawned_at"):
        phases.add("spawn", max(0.0, _MAIN_STARTED - spec["spawned_at"]) * 1e9)
    ctx = setup(spec["point"], spec, phases)
    result = measure_point(ctx, spec["point"], spec["repeat"], spec.get("counters"), phases,
                           clock)
    result["phases_ns"] = dict(phases.ns)
    return result


def measure_point(ctx: dict, point: dict, repeat: int, counters: dict | None,
                  phases: Phases, clock=time.perf_counter_ns) -> dict:
    """Measure one point on tables ``setup`` built: its indices, verification, warm-ups
    and timed batches, and its own record. ``phases`` gets this point's time."""
    from harness.execute import layout
    from harness.execute.indices import make_batches
    from harness.scenario.schema import load_trace

    kernels, kspec, region, affinity = ctx["kernels"], ctx["kspec"], ctx["region"], \
        dict(ctx["affinity"])
    backend, torch_threads = ctx["backend"], ctx["torch_threads"]
    started = time.time()
    kspec.retune(kernels, point["params"])  # loop parameters of this point, if any
    trace = None
    t0 = time.perf_counter_ns()
    if point["distribution"]["name"] == "trace":
        trace = load_trace(Path(point["distribution"]["path"]))
    batches = make_batches(point["distribution"], layout.feature_rows(point),
                           point["batch_size"], point["pooling"], point["features"],
                           point["distinct_batches"], _index_seed(point, repeat), trace)
    batches = [layout.arrange(point, kspec, batch) for batch in batches]
    indices_ns = time.perf_counter_ns() - t0
    phases.add("indices", indices_ns)

    with phases("verification"):
        verified = verify(kernels[0], *batches[0][0]) if point["verify"] else None

        # Untimed: a kernel with ``hashing: precomputed`` hashes every batch here.
        prepared = [[k.prepare(ids, off) for k, (ids, off) in zip(kernels, batch)]
                    for batch in batches]
        hash_ns_per_id = hashing_ns_per_id(kernels, batches, clock)
        if len(kernels) == 1:
            run = kernels[0].run
            calls = [(lambda p=p[0]: run(p)) for p in prepared]
        else:
            calls = [(lambda ps=ps: [k.run(p) for k, p in zip(kernels, ps)])
                     for ps in prepared]
        memory_before = memory_status()
        overhead = timer_overhead_ns(clock)
    warm, values, quality = timed_part(calls, point, clock, region)
    phases.add("warmups", sum(warm))
    phases.add("timed", sum(values))
    placement = thread_placement()
    affinity["after_measure"] = format_cpulist(sorted(os.sched_getaffinity(0)))
    affinity["threads"] = placement
    affinity["cpus_run_on"] = format_cpulist({t["last_cpu"] for t in placement})

    from harness.counters.region import worker_counters

    with phases("counters_model"):
        counted = worker_counters(counters, region, kernels, batches, point, repeat)
    return {
        "status": "ok",
        "point_id": point["point_id"],
        "repeat": repeat,
        "pid": os.getpid(),
        "started": started,
        "finished": time.time(),
        "values_ns": values,
        "warmups_ns": warm,
        "timer_overhead_ns": overhead,
        "build_ns": ctx["build_ns"],
        "build_gbytes_per_s": ctx["build_gbytes_per_s"],
        "indices_ns": indices_ns,
        "verified": verified,
        "hash_ns_per_id": hash_ns_per_id,
        "affinity": affinity,
        "torch_threads": torch_threads,
        "effective_threads": torch_threads if backend == "torch"
        else _effective_threads(kernels[0], batches),
        "kernel_info": kernels[0].info() if hasattr(kernels[0], "info") else {},
        "table_alignment_bytes": kernels[0].alignment,
        "kernel_nbytes": sum(k.nbytes for k in kernels),
        "memory": memory_before,
        "pages": _pages(kernels[0], point.get("pages", "default")),
        "numa": ctx["numa"],
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "trace_folded": bool(trace is not None and int(trace.max()) >= point["table_rows"]),
        "versions": _versions(),
        "counters": counted,
        **quality,  # sampling (batches_taken, ci_half_width, why it stopped), interference
    }


def timed_part(calls: list, point: dict, clock, region) -> tuple[list[int], list[int], dict]:
    """The timed part of one point, in one place: warm-ups then timed batches (a fixed
    count, or sampled until precise enough), watched by the interference probe.
    Returns (warmups_ns, values_ns, the record's ``sampling`` and ``interference``)."""
    from harness.execute.interference import InterferenceProbe, around
    from harness.execute.sampling import sample_batches

    sampling = point.get("sampling") or {}  # empty: a fixed count of batches
    probe = InterferenceProbe(point["cpus"])  # over the timed batches, like the counters
    sampled = sample_batches(
        calls, point["warmups"], point["batches"], sampling.get("min_batches"),
        sampling.get("precision"), int(sampling["budget_s"] * 1e9) if sampling else None,
        clock, region=around(probe, region),
        min_ns=int(sampling.get("min_time_s", 0) * 1e9))
    warm, values = sampled.pop("warmups_ns"), sampled.pop("values_ns")
    return warm, values, {"sampling": sampled, "interference": probe.result}


def verify(kernel, ids, offsets) -> dict:
    """Check the kernel's first (up to) 64 bags against numpy's reference of the same
    combining rule (``combine``: per_id or per_bag); raise if they differ."""
    import numpy as np

    n_bags = min(64, offsets.shape[0])
    ids_v = ids[: offsets[n_bags] if n_bags < offsets.shape[0] else ids.shape[0]]
    got = kernel.lookup(ids_v, offsets[:n_bags])
    want = kernel.reference(ids_v, offsets[:n_bags])
    err = float(np.max(np.abs(got - want))) if got.size else 0.0
    scale = float(np.max(np.abs(want))) if want.size else 1.0
    # The rule matters only with weights: a Bloom bag is the plain sum under both.
    rule = getattr(kernel, "combine", None) if getattr(kernel, "k_weight", 0) else None
    if not np.allclose(got, want, rtol=1e-4, atol=1e-5 * max(scale, 1.0)):
        raise RuntimeError(f"verification failed: the kernel's first {n_bags} bags differ "
                           f"from the numpy reference" + (f" ({rule})" if rule else "")
                           + f" by up to {err:.3g}")
    return {"bags": n_bags, "max_abs_error": err} | ({"combine": rule} if rule else {})


HASH_SAMPLE_BATCHES = 200


def hashing_ns_per_id(kernels: list, batches: list, clock=time.perf_counter_ns) -> float | None:
    """ns per id of hashing alone: each batch's ids through the kernels' ``hash_ids``
    (what ``hashing: precomputed`` does before timing), outside any timed region; the
    median over (up to HASH_SAMPLE_BATCHES) batches. At small batches the call's own
    overhead dominates it.

    None for kernels that do not hash ids (baseline, QR, ...). One untimed call first
    loads the hash routine (numba's cache), which no timed batch would pay.
    """
    if not batches or not all(hasattr(k, "hash_ids") for k in kernels):
        return None
    kernels[0].hash_ids(batches[0][0][0][:1])
    per_batch = []  # the median batch, as the kernel's own figure is: robust to preemption
    # The first HASH_SAMPLE_BATCHES batches: the pool of a batch-1 point holds 10,020,
    # and hashing each (torch: ~50 us a call) cost more than timing the point.
    for batch in batches[:HASH_SAMPLE_BATCHES]:
        ns = n_ids = 0
        for kernel, (ids, _) in zip(kernels, batch):
            t0 = clock()
            kernel.hash_ids(ids)
            ns += clock() - t0
            n_ids += ids.shape[0]
        if n_ids:
            per_batch.append(ns / n_ids)
    return statistics.median(per_batch) if per_batch else None


def _effective_threads(kernel, batches) -> int:
    """Threads the kernel's batches ran on: a fused MEM-REC batch small enough for its
    serial entry runs on one, whatever the pool holds."""
    if hasattr(kernel, "threads_for") and batches:
        return kernel.threads_for(batches[0][0][0].shape[0])
    return getattr(kernel, "threads", 1)


def _pages(kernel, requested: str) -> dict:
    """What pages the table a kernel gathers from really got (tableless kernels: none)."""
    from kernels.memory import page_report

    # The biggest table each kernel gathers from: baseline, MEM-REC, shared layout,
    # microbenchmarks, then QR (quotient), ROBE-Z (array), TT-Rec (the middle core).
    for name in ("table", "token_table", "shared", "_array", "quotient", "array", "g2"):
        array = getattr(kernel, name, None)
        if array is not None and hasattr(array, "ctypes"):
            return page_report(array, requested)
    return {"requested": requested, "note": f"{type(kernel).__name__} owns no table"}


def _versions() -> dict:
    import numpy

    out = {"python": sys.version.split()[0], "numpy": numpy.__version__}
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].__version__
    return out


def worker_main(argv: list[str], measure_spec, module: str) -> int:
    """``python -m MODULE SPEC.json --result RESULT.json``: measure the spec and write the
    record; an exception becomes a failed record with its traceback, for the manager."""
    if len(argv) != 3 or argv[1] != "--result":
        print(f"usage: python -m {module} SPEC.json --result RESULT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    try:
        result = measure_spec(spec)
        status = 0
    except Exception as exc:  # reported to the manager as a failed point, with its traceback
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()}
        traceback.print_exc()
        status = 1
    atomic_write_json(argv[2], result)
    return status


def measure_any(spec: dict) -> dict:
    """A group spec (``points``: several points, one table) or a single point's."""
    if "points" in spec:
        from harness.execute.groupworker import measure_group

        return measure_group(spec)
    return measure(spec)


def main(argv: list[str] | None = None) -> int:
    return worker_main(sys.argv[1:] if argv is None else argv, measure_any, "harness.worker")


if __name__ == "__main__":
    sys.exit(main())

"""How long a plan will take: a cost model of the workers it spawns.

A model, not a measurement: each worker (one per table group and repeat, see
``harness.execute.groups``) costs its process start and imports (+ torch when a torch
backend runs), and its table build (bytes / build rate); each point in it costs its
index generation, verification and result writing, its warm-up and timed batches
(batches x predicted batch time) and its counting (the model counter; the cachegrind
pass re-runs the point under valgrind at repeat 0). The rates come from this
machine's most recent stored run (``rates_from_results``), else a short calibration
(``harness.execute.calibrate``), else nominal figures; ``Rates.source`` says which.
``run --dry-run`` prints the estimate; the progress bar's ETA (``EtaModel``) uses the
same model, scaled by how fast the runs done so far really went.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.counters.region import MODEL_REPEAT
from harness.execute.groups import group_points
from harness.execute.plan import Plan, Point

# valgrind's manual: programs run 20-100x slower under callgrind/cachegrind. Assumed
# until a stored run has recorded its pass's elapsed_s (the worker's start included).
CACHEGRIND_SLOWDOWN = 50.0


@dataclass(frozen=True)
class Counting:
    """What the scenario counts, as far as it costs time: the backends and the batches
    the cachegrind pass simulates."""

    backends: tuple = ()
    simulated_batches: int = 10
    simulated_warmups: int = 5

    @classmethod
    def of(cls, config) -> "Counting":
        """From a scenario's counters configuration (None: no counting)."""
        if config is None:
            return cls()
        return cls(tuple(config.backends or ()), config.simulated_batches,
                   config.simulated_warmups)


@dataclass
class Rates:
    """This machine's rates as the cost model uses them, and where they came from."""

    source: str
    worker_start_s: float = 1.0        # spawn + imports (numpy, numba, harness)
    torch_import_s: float = 1.5        # added when the point runs a torch backend
    build_bytes_per_s: float = 1e9     # table build (fill) rate
    index_ns_per_id: float = 10.0      # index generation
    gather_ns_per_byte: float = 0.2    # one thread reading looked-up rows, unseen points
    call_ns: float = 3000.0            # fixed cost of one kernel call
    point_overhead_s: float = 0.05     # verification, preparation, result writing
    # The model counter per point: its replay, but mostly its cache fill and numba's
    # compile or cache load: 2.2 s mean on the busy 2-vCPU VM's quick run before its
    # replay was capped; 0.22 s after (15.9 s over 72 points, quiet quick run, 2026-12-04).
    model_point_s: float = 0.25
    cachegrind_slowdown: float = CACHEGRIND_SLOWDOWN
    # ns per batch of points measured before (by point id): better than any rate.
    known_batch_ns: dict[str, float] = field(default_factory=dict)
    # The rates above that are nominal figures, not measured on this machine.
    assumed: frozenset = frozenset({"call_ns", "point_overhead_s", "model_point_s",
                                    "cachegrind_slowdown"})

    def lines(self) -> list[str]:
        """The rates, one per line, for ``run --dry-run``; nominal ones say so."""
        rows = [("worker_start_s", f"worker start + imports  {self.worker_start_s:.2f} s"),
                ("torch_import_s", f"+ import torch         {self.torch_import_s:.2f} s"),
                ("build_bytes_per_s",
                 f"table build             {self.build_bytes_per_s / 1e9:.2f} GB/s"),
                ("index_ns_per_id", f"index generation        {self.index_ns_per_id:.1f} ns/id"),
                ("gather_ns_per_byte", f"lookups (unseen points) "
                 f"{self.gather_ns_per_byte:.3f} ns/byte/thread"),
                ("call_ns", f"kernel call             {self.call_ns / 1000:.1f} us"),
                ("point_overhead_s", "per point               " + (
                    f"{self.point_overhead_s * 1000:.0f} ms (verify, prepare, write)"
                    if self.point_overhead_s else "verify, prepare, write: in the start")),
                ("model_point_s",
                 f"model counter           {self.model_point_s:.2f} s/point"),
                ("cachegrind_slowdown",
                 f"cachegrind slowdown     {self.cachegrind_slowdown:.0f}x")]
        return [text + ("  (assumed)" if name in self.assumed else "") for name, text in rows]


def nominal_rates() -> Rates:
    return Rates(source="nominal figures (no run of this machine stored, not calibrated)",
                 assumed=frozenset(Rates.__dataclass_fields__) - {"source", "known_batch_ns", "assumed"})


# -- the model ------------------------------------------------------------------------
def batch_ns(point: Point, rates: Rates) -> float:
    """Predicted ns per batch: its own earlier timing, else bytes read at this machine's
    rate, spread over the point's threads."""
    known = rates.known_batch_ns.get(point.point_id)
    if known:
        return known
    read = point.lookups_per_batch * point.bytes_per_lookup * rates.gather_ns_per_byte
    return rates.call_ns + read / max(point.threads, 1)


def _ids(point: Point) -> int:
    return point.lookups_per_batch * point.distinct_batches


def worker_s(point: Point, rates: Rates) -> float:
    """What one worker pays once, whatever its points: start, imports, table build."""
    torch = rates.torch_import_s if point.params.get("backend") == "torch" else 0.0
    return rates.worker_start_s + torch + point.kernel_bytes / rates.build_bytes_per_s


def timed_s(point: Point, rates: Rates) -> float:
    """Warm-ups and timed batches. ``batches: auto`` is modelled as stopping once both
    ``min_batches`` and ``min_time_s`` are met (a quiet machine reaches the precision
    by then), within ``budget_s`` and ``max_batches`` (``point.batches``)."""
    one = batch_ns(point, rates) / 1e9
    sampling = point.sampling or {}
    if not sampling:
        return (point.warmups + point.batches) * one
    taken = max(sampling.get("min_batches", 1) * one, sampling.get("min_time_s", 0.0))
    taken = min(taken, sampling.get("budget_s", taken), point.batches * one)
    return point.warmups * one + taken


def point_s(point: Point, rates: Rates, counting: Counting = Counting(),
            repeat: int = MODEL_REPEAT) -> float:
    """One point's share of a worker: indices, overhead, batches, in-process counting
    (perf counts the timed batches as they run: no time of its own is modelled; the
    model replays in one repeat only)."""
    seconds = (_ids(point) * rates.index_ns_per_id) / 1e9 + timed_s(point, rates)
    seconds += rates.point_overhead_s
    if "model" in counting.backends and repeat == MODEL_REPEAT:
        seconds += rates.model_point_s
    return seconds


def cachegrind_s(point: Point, rates: Rates, counting: Counting = Counting()) -> float:
    """The cachegrind pass of one point (repeat 0): a worker of its own, one thread,
    fewer batches, everything ``cachegrind_slowdown`` times slower."""
    one = replace(point, threads=1, batches=min(point.batches, counting.simulated_batches),
                  warmups=min(point.warmups, counting.simulated_warmups))
    native = worker_s(one, rates) + point_s(one, rates)
    return rates.cachegrind_slowdown * native


def run_costs(plan: Plan, rates: Rates, counting: Counting = Counting()
              ) -> dict[tuple[str, int], float]:
    """Modelled seconds of every (point id, repeat) run of the plan: its own cost plus
    an equal share of its worker's (the points of one group at one repeat share one)."""
    costs: dict[tuple[str, int], float] = {}
    for group in group_points(plan.runnable):
        for repeat in range(max(p.repeats for p in group)):
            members = [p for p in group if repeat < p.repeats]
            share = worker_s(members[0], rates) / len(members)
            for p in members:
                cost = share + point_s(p, rates, counting, repeat)
                if "cachegrind" in counting.backends and repeat == 0:
                    cost += cachegrind_s(p, rates, counting)
                costs[(p.point_id, repeat)] = cost
    return costs


@dataclass
class Estimate:
    """A plan's modelled duration: in all, by kernel, and the rates it rests on."""

    total_s: float
    by_kernel: dict[str, tuple[float, int]]  # label -> (seconds, runs)
    workers: int
    runs: int
    rates: Rates
    known_points: int = 0  # points whose batch time comes from their own earlier timing

    def lines(self) -> list[str]:
        out = [f"estimate: {format_duration(self.total_s)} for {self.runs} worker runs in "
               f"{self.workers} workers (a model, not a measurement)"]
        width = max((len(k) for k in self.by_kernel), default=0)
        out += [f"  {label:{width}s}  {format_duration(s):>12s}  ({n} runs)"
                for label, (s, n) in sorted(self.by_kernel.items(), key=lambda kv: -kv[1][0])]
        out.append(f"rates from {self.rates.source}:")
        out += [f"  {line}" for line in self.rates.lines()]
        if self.known_points:
            out.append(f"  batch times of {self.known_points} points from their own "
                       f"earlier timings")
        return out


def estimate_plan(plan: Plan, rates: Rates, counting: Counting = Counting()) -> Estimate:
    costs = run_costs(plan, rates, counting)
    label_of = {p.point_id: p.label for p in plan.runnable}
    by_kernel: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for (point_id, _), seconds in costs.items():
        by_kernel[label_of[point_id]][0] += seconds
        by_kernel[label_of[point_id]][1] += 1
    workers = sum(max(p.repeats for p in g) for g in group_points(plan.runnable))
    known = sum(1 for p in plan.runnable if p.point_id in rates.known_batch_ns)
    return Estimate(sum(costs.values()), {k: (v[0], v[1]) for k, v in by_kernel.items()},
                    workers, len(costs), rates, known)


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


# -- the progress bar's ETA -----------------------------------------------------------
class EtaModel:
    """Remaining time = modelled cost of the runs not done, scaled by (actual elapsed /
    modelled cost of the runs done) once some ran: the model gives the shape of what is
    left (a big table's worker is slow whatever the last ones were), the runs done give
    its scale on this machine today."""

    def __init__(self, costs: dict, clock=time.monotonic):
        self.pending = dict(costs)
        self.clock = clock
        self.start = self.last_finish = clock()
        self.modelled_done, self.scale = 0.0, 1.0

    def finished(self, key) -> None:
        """A run (a key of ``costs``) finished, whatever its outcome."""
        self.modelled_done += self.pending.pop(key, 0.0)
        self.last_finish = self.clock()
        if self.modelled_done > 0:
            self.scale = (self.last_finish - self.start) / self.modelled_done

    def remaining_s(self) -> float:
        """Seconds left: counts down between finished runs, rescaled at each."""
        left = sum(self.pending.values()) * self.scale
        return max(left - (self.clock() - self.last_finish), 0.0)


def session_eta(plan: Plan, done: dict[str, set], counting: Counting = Counting(),
                hostname: str | None = None, root: Path = Path("results")) -> EtaModel:
    """The ETA of a session: the model's cost of each side's runs not yet ``done``
    (side name -> {(point id, repeat)}). Rates from this machine's last stored run,
    else nominal ones (no calibration: the scaling by the runs done sets the pace)."""
    rates = (rates_from_results(root, hostname) if hostname else None) or nominal_rates()
    costs = run_costs(plan, rates, counting)
    return EtaModel({(side, *key): cost for side, finished in done.items()
                     for key, cost in costs.items() if key not in finished})


def machine_rates(hostname: str, calibrate=None, root: Path = Path("results")) -> Rates:
    """Rates for ``run --dry-run``: this machine's last stored run, else ``calibrate()``
    (a RuntimeError from it falls back to nominal rates, saying why), else nominal."""
    rates = rates_from_results(root, hostname)
    if rates is not None:
        return rates
    if calibrate is None:
        return nominal_rates()
    try:
        return calibrate()
    except (RuntimeError, ValueError, OSError) as exc:
        rates = nominal_rates()
        rates.source = f"nominal figures (no run of this machine stored; {exc})"
        return rates


# -- rates from the last run ----------------------------------------------------------
def _newest_run_dir(root: Path, hostname: str) -> Path | None:
    """This machine's most recent result directory (run or limits) with run records:
    manifests are read newest first (by when they were last written) until one is."""
    def written(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    for manifest_path in sorted(root.glob("*/*/manifest.json"), key=written, reverse=True):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and isinstance(manifest.get("machine"), dict) and \
                manifest["machine"].get("hostname") == hostname and \
                next((manifest_path.parent / "raw").glob("*/r*.json"), None) is not None:
            return manifest_path.parent
    return None


def rates_from_results(root: Path, hostname: str) -> Rates | None:
    """Rates derived from this machine's most recent stored run under ``root``, or None
    when there is none with finished runs to learn from."""
    from harness.errors import UsageError
    from harness.store.reader import points_of, read_manifest, read_run_records

    directory = _newest_run_dir(root, hostname)
    if directory is None:
        return None
    try:
        points = {p.point_id: p for p in points_of(read_manifest(directory))}
        runs = read_run_records(directory, set(points))
    except (UsageError, TypeError, ValueError):
        return None
    pairs = [(points[pid], rec) for pid, reps in runs.items() for rec in reps.values()
             if rec.get("status") == "ok" and rec.get("elapsed_s") and rec.get("values_ns")]
    if not pairs:
        return None
    return rates_from_records(pairs, f"{directory} ({len(pairs)} run records of this "
                                     f"machine's most recent run)")


def rates_from_records(pairs: list[tuple[Point, dict]], source: str) -> Rates:
    """Rates from finished run records and their points (pure): what the workers spent
    outside their batches is their start (verification and writing included)."""
    rates = nominal_rates()
    rates.source = source
    measured = set()
    rest = {False: [], True: []}
    built = build_ns = ids = indices_ns = 0
    model_s = []
    per_byte, known = [], defaultdict(list)
    # A grouped worker's points share its process, its elapsed_s and its one table build:
    # what it spent outside them is counted once per worker (pid, repeat).
    workers: dict = {}
    for point, rec in pairs:
        model = (rec.get("counters") or {}).get("model") or {}
        inside = (rec.get("indices_ns") or 0) + sum(rec["values_ns"]) \
            + sum(rec.get("warmups_ns") or []) + (model.get("model_ns") or 0)
        key = (rec.get("pid"), rec.get("repeat")) if rec.get("group") else id(rec)
        worker = workers.setdefault(key, {"elapsed": rec["elapsed_s"], "inside": 0,
                                          "build": rec.get("build_ns") or 0,
                                          "torch": point.params.get("backend") == "torch"})
        worker["inside"] += inside
        if rec.get("build_ns") and rec.get("kernel_nbytes"):
            built += rec["kernel_nbytes"]
            build_ns += rec["build_ns"]
        if rec.get("indices_ns"):
            ids += _ids(point)
            indices_ns += rec["indices_ns"]
        if model.get("model_ns"):
            model_s.append(model["model_ns"] / 1e9)
        median = statistics.median(rec["values_ns"])
        known[point.point_id].append(median)
        read = point.lookups_per_batch * point.bytes_per_lookup
        if read and median > rates.call_ns:
            per_byte.append((median - rates.call_ns) * max(point.threads, 1) / read)
    for worker in workers.values():
        rest[worker["torch"]].append(worker["elapsed"]
                                     - (worker["inside"] + worker["build"]) / 1e9)
    if rest[False]:
        rates.worker_start_s = max(statistics.median(rest[False]), 0.0)
        rates.point_overhead_s = 0.0  # inside the start figure above
        measured |= {"worker_start_s", "point_overhead_s"}
    if rest[True] and rest[False]:
        rates.torch_import_s = max(statistics.median(rest[True]) - rates.worker_start_s, 0.0)
        measured.add("torch_import_s")
    elif rest[True]:  # torch workers only: their start less the nominal torch import
        rates.worker_start_s = max(statistics.median(rest[True]) - rates.torch_import_s, 0.0)
        rates.point_overhead_s = 0.0
        measured |= {"worker_start_s", "point_overhead_s"}
    if build_ns:
        rates.build_bytes_per_s = built / (build_ns / 1e9)
        measured.add("build_bytes_per_s")
    if indices_ns and ids:
        rates.index_ns_per_id = indices_ns / ids
        measured.add("index_ns_per_id")
    if model_s:  # the mean: a few workers pay numba's compile, and the total matters
        rates.model_point_s = statistics.fmean(model_s)
        measured.add("model_point_s")
    if per_byte:
        rates.gather_ns_per_byte = statistics.median(per_byte)
        measured.add("gather_ns_per_byte")
    rates.known_batch_ns = {pid: statistics.median(v) for pid, v in known.items()}
    # The cachegrind pass's slowdown: its time over what the same pass costs natively.
    native = replace(rates, cachegrind_slowdown=1.0)
    slowdowns = []
    for point, rec in pairs:
        cg = (rec.get("counters") or {}).get("cachegrind") or {}
        if cg.get("elapsed_s") and cg.get("batches"):
            simulated = Counting(simulated_batches=cg["batches"],
                                 simulated_warmups=cg.get("warmups") or 0)
            slowdowns.append(cg["elapsed_s"] / cachegrind_s(point, native, simulated))
    if slowdowns:
        rates.cachegrind_slowdown = statistics.median(slowdowns)
        measured.add("cachegrind_slowdown")
    rates.assumed = rates.assumed - measured
    return rates

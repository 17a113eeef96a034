"""Expand a scenario into measurement points on a given machine, and decide which run.

Only decides: sizes are resolved against the machine's LLC, each point gets the
CPUs it will be pinned to, and points the machine cannot run (too few cores in
the pinning set, tables beyond the memory budget) become ``skipped`` with a
reason. Nothing is allocated or measured here.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import asdict, dataclass, field, replace

from harness.machine.cpulist import format_cpulist, parse_cpulist
from harness.errors import UsageError
from harness.scenario.kernelspec import KERNELS, Geometry, precomputed_index_bytes, variants
from harness.machine.detect import Machine
from harness.machine.numa import nodes_from_machine, resolve_placement
from harness.scenario.schema import LoadedScenario, Pinning
from harness.scenario.sizes import Size, format_bytes, kind_of, parse_size

# RSS of a worker before its tables: python + numpy + torch measured at ~220 MiB on
# the development VM; the rest is allocator slack and torch's per-thread arenas.
PROCESS_OVERHEAD_BYTES = 512 * 2**20
# Index batches are generated (and prepared) before timing, then reused cyclically.
# The pool holds enough batches that one pass over it reads POOL_LLC_MULTIPLE times the
# LLC in rows, so a row is never still cached when its batch comes round again, and at
# least MIN_POOL_BATCHES; never more than the batches a point may time, nor more than
# INDEX_POOL_BYTES of indices. Sized by the LLC rather than by the most batches a point
# may take, the pool no longer grows with `max_batches`: at 20000 batches its
# preparation cost more than the timing (issue 16).
INDEX_POOL_BYTES = 256 * 2**20
POOL_LLC_MULTIPLE = 4
MIN_POOL_BATCHES = 64
DEFAULT_MEMORY_FRACTION = 0.75


def pool_batches(most: int, row_bytes_per_batch: int, index_bytes_per_batch: int,
                 llc_bytes: int) -> int:
    """Distinct index batches a point prepares (see POOL_LLC_MULTIPLE): the same for
    every kernel at a configuration, since ``row_bytes_per_batch`` counts rows of
    ``dim`` floats whatever the kernel reads. Unknown LLC: as many as it may time."""
    cap = max(1, INDEX_POOL_BYTES // max(1, index_bytes_per_batch))
    if llc_bytes:
        needed = -(-POOL_LLC_MULTIPLE * llc_bytes // max(1, row_bytes_per_batch))
        most = min(most, max(needed, MIN_POOL_BATCHES))
    return max(1, min(most, cap))


@dataclass
class Point:
    """One measurement: a kernel variant at one size, batch, pooling and thread count."""

    point_id: str
    kernel: str
    label: str
    params: dict
    table_size: str        # as the scenario wrote it, e.g. "4x LLC"
    table_rows: int        # ids range over [0, table_rows)
    table_bytes: int       # the uncompressed table those ids index, per feature
    llc_ratio: float       # table_bytes / llc_bytes
    kernel_bytes: int      # bytes of the tables this kernel owns (all features)
    bytes_per_lookup: int  # table bytes one id reads
    dim: int
    batch_size: int
    pooling: int
    features: int
    threads: int
    cpus: list[int]
    distribution: dict
    warmups: int
    batches: int
    repeats: int
    seed: int
    timeout_s: float
    verify: bool
    distinct_batches: int
    memory_bytes: int
    status: str = "planned"  # planned | skipped
    reason: str = ""
    pages: str = "default"   # the tables' page size policy (kernels.memory)
    # With tables.cardinalities: each feature's rows as run (table_rows is their sum
    # and table_bytes their bytes); None when every feature has table_rows rows.
    feature_rows: list[int] | None = None
    layout: str = "per-feature"  # or "shared": one table and one bag for all features
    table_scale: float = 1.0     # < 1: the scenario's cardinalities scaled down to fit
    note: str = ""               # said about a point that runs, e.g. why it was scaled
    placement: str = "local"     # NUMA placement of the tables (harness.machine.numa)
    # batches: auto (harness.execute.sampling): min_batches, precision, budget_s; None:
    # exactly ``batches``. Then the limits of harness.store.quality and ``retries``.
    sampling: dict | None = None
    quality_limits: dict | None = None

    @property
    def lookups_per_batch(self) -> int:
        return self.batch_size * self.pooling * self.features

    @property
    def uncompressed_bytes(self) -> int:
        """Bytes of the uncompressed tables of all features, at the size this point ran
        (a scaled baseline compares with its scaled self: compression 1, table_scale < 1)."""
        if self.feature_rows is None:
            return self.table_bytes * self.features
        return self.table_bytes

    def identity(self) -> dict:
        """What makes two points comparable across runs and machines."""
        return {"kernel": self.kernel, "params": self.params, "table_rows": self.table_rows,
                "dim": self.dim, "batch_size": self.batch_size, "pooling": self.pooling,
                "features": self.features, "threads": self.threads, "pages": self.pages,
                "distribution": {k: v for k, v in self.distribution.items() if k != "path"},
                # one shared table vs one per feature, and how the rows split over features
                "layout": self.layout, "feature_rows": self.feature_rows,
                # only when chosen: results stored before placements existed still match
                **({"placement": self.placement} if self.placement != "local" else {})}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Point":
        return cls(**data)


@dataclass
class PinningSet:
    requested: dict
    cpus: list[int]          # the effective set, in the order threads take them
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    scenario: str
    points: list[Point]
    pinning: PinningSet
    llc_bytes: int
    memory_budget_bytes: int
    memory_budget_source: str
    shard: dict | None = None           # {"index": I, "count": N} for --shard I/N
    effective_llc_bytes: int | None = None
    unsharded: list[Point] = field(default_factory=list)  # the whole sweep, when sharded
    effective_llc_source: str | None = None  # the limits result it came from

    @property
    def runnable(self) -> list[Point]:
        return [p for p in self.points if p.status == "planned"]

    def sharded(self, index: int, count: int) -> "Plan":
        """Every ``count``-th group of points starting at ``index`` (for job arrays): the
        points of one table stay in one shard, which builds that table once per repeat
        (``harness.execute.groups``). With fewer groups than shards, every ``count``-th
        point, so that no shard is left empty."""
        from harness.execute.groups import group_points

        groups = group_points(self.points)
        if len(groups) >= count:
            mine = {id(p) for k, g in enumerate(groups) if k % count == index for p in g}
            points = [p for p in self.points if id(p) in mine]
        else:
            points = [p for k, p in enumerate(self.points) if k % count == index]
        return replace(self, points=points, shard={"index": index, "count": count},
                       unsharded=list(self.points))

    def meta(self) -> dict:
        """Everything but the points (which the manifest keeps as its "plan" list)."""
        meta = {"scenario": self.scenario, "pinning": asdict(self.pinning),
                "llc_bytes": self.llc_bytes, "memory_budget_bytes": self.memory_budget_bytes,
                "memory_budget_source": self.memory_budget_source, "shard": self.shard,
                "effective_llc_bytes": self.effective_llc_bytes,
                "effective_llc_source": self.effective_llc_source}
        if self.shard:
            meta["unsharded"] = [p.to_dict() for p in self.unsharded]
        return meta

    @classmethod
    def from_stored(cls, meta: dict, points: list[dict]) -> "Plan":
        return cls(meta["scenario"], [Point.from_dict(p) for p in points],
                   PinningSet(**meta["pinning"]), meta["llc_bytes"],
                   meta["memory_budget_bytes"], meta["memory_budget_source"],
                   meta.get("shard"), meta.get("effective_llc_bytes"),
                   [Point.from_dict(p) for p in meta.get("unsharded", [])],
                   meta.get("effective_llc_source"))


def parse_shard(text: str) -> tuple[int, int]:
    """'--shard I/N' -> (I, N) with 0 <= I < N."""
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise UsageError(f"--shard: expected I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
    return int(index), int(count)


def resolve_pinning(pinning: Pinning, machine: Machine) -> PinningSet:
    """Order the CPUs threads are pinned to: one per physical core, siblings last."""
    requested = {"cores": pinning.cores, "socket": pinning.socket, "smt": pinning.smt}
    usable = parse_cpulist(machine.usable_cpus)
    notes = []
    if pinning.cores == "auto":
        candidates = usable
    else:
        asked = pinning.cores if isinstance(pinning.cores, list) else parse_cpulist(pinning.cores)
        asked = sorted(set(asked))  # a CPU listed twice is still one CPU
        candidates = [c for c in asked if c in usable]
        missing = sorted(set(asked) - set(usable))
        if missing:
            notes.append(f"CPUs {format_cpulist(missing)} are not usable on this machine "
                         f"(usable: {machine.usable_cpus})")
    topo = {t.cpu: t for t in machine.topology}
    if pinning.socket is not None:
        on_socket = [c for c in candidates if c in topo and topo[c].socket == pinning.socket]
        if len(on_socket) < len(candidates):
            notes.append(f"kept the CPUs of socket {pinning.socket}")
        candidates = on_socket
    # Group by physical core; cores in order of socket then lowest CPU number.
    by_core: dict[str, list[int]] = {}
    for cpu in sorted(candidates):
        key = topo[cpu].core_cpus if cpu in topo else str(cpu)
        by_core.setdefault(key, []).append(cpu)
    cores = sorted(by_core.values(), key=lambda cs: (topo[cs[0]].socket if cs[0] in topo else 0,
                                                     cs[0]))
    ordered = [cs[0] for cs in cores]
    if pinning.smt:
        ordered += [c for cs in cores for c in cs[1:]]
    elif any(len(cs) > 1 for cs in cores):
        notes.append("smt off: one logical CPU per physical core; siblings left idle")
    return PinningSet(requested, ordered, notes)


def parse_memory_limit(text: str, available: int | None) -> int:
    """'--memory-limit' as bytes ('12GiB') or a share of available memory ('60%')."""
    text = text.strip()
    if text.endswith("%"):
        try:
            share = float(text[:-1]) / 100
        except ValueError:
            raise UsageError(f"--memory-limit: {text!r} is not a percentage like '60%'") from None
        if not 0 < share <= 1 or available is None:
            raise UsageError(f"--memory-limit: {text!r} must be in (0%, 100%] of known "
                             f"available memory")
        return int(available * share)
    if kind_of(text) not in (None, "bytes"):  # 'x LLC' or rows mean nothing for a budget
        raise UsageError(f"--memory-limit: {text!r} is not an amount of memory; give bytes "
                         f"('12GiB') or a share of available memory ('60%')")
    try:
        size = parse_size(text, expect="an amount of memory like '12GiB' or '1.5GB', or a "
                                       "share of available memory like '60%'")
    except ValueError as exc:
        raise UsageError(f"--memory-limit: {exc}") from None
    return size.to_bytes(0, 1)


# A point id names files: raw/<id>/r<repeat>.json, .work/<id>.r<repeat>.spec.json.
# File names may be 255 bytes; ids stay at or under this, leaving room for suffixes.
MAX_POINT_ID = 200
_POINT_ID_HASH = 16  # hex digits of sha256: 64 bits, no collision among a sweep's ids


def bounded_point_id(full: str) -> str:
    """``full`` when short enough; else a readable prefix, ".h" and a hash of the whole.

    Ids of ordinary sweeps are 40-80 characters and stay as they are (stored results
    keep matching). Every parameter is bounded (``harness.scenario.bounds``), yet many
    at their largest still make some 150; the hash keeps such ids apart.
    """
    if len(full) <= MAX_POINT_ID:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:_POINT_ID_HASH]
    return f"{full[:MAX_POINT_ID - _POINT_ID_HASH - 2]}.h{digest}"


def _slug(kernel: str, params: dict) -> str:
    parts = [kernel, params.get("backend", "")]
    short = {"token_rows": "d", "k": "k", "weight_rows": "dw", "k_weight": "kw",
             "combine": "", "hashing": "hash_"}
    # A parameter left unset (None) names nothing: the gather probe's ``step`` and ``bag``
    # are unset in each other's variants, and its ids stay those of before ``bag``.
    parts += [f"{short.get(k, k)}{v}" for k, v in params.items()
              if k != "backend" and v is not None]
    return "-".join(str(p) for p in parts if p != "")


def _distribution(loaded: LoadedScenario) -> dict:
    ind = loaded.scenario.indices
    if ind.distribution == "zipf":
        return {"name": "zipf", "alpha": ind.alpha}
    if ind.distribution == "trace":
        path = (loaded.base_dir / ind.path).resolve()
        with open(path, "rb") as f:  # a .npy trace may be gigabytes: hash it in chunks
            digest = hashlib.file_digest(f, "sha256").hexdigest()[:16]
        return {"name": "trace", "path": str(path), "sha256": digest}
    return {"name": "uniform"}


def scenario_sizes(loaded: LoadedScenario) -> list[Size]:
    """Every size the scenario names: table sizes and kernel parameters."""
    sc = loaded.scenario
    return [*(sc.tables.sizes or []),
            *(v for entry in sc.kernels for values in entry.__dict__.values()
              if isinstance(values, list) for v in values if isinstance(v, Size))]


def needs_effective_llc(loaded: LoadedScenario) -> bool:
    return any(s.kind == "effective-llc" for s in scenario_sizes(loaded))


def make_plan(loaded: LoadedScenario, machine: Machine, memory_budget: int | None = None,
              effective_llc_bytes: int | None = None) -> Plan:
    """Expand ``loaded`` into points on ``machine``; infeasible points are skipped.

    ``effective_llc_bytes`` (measured by ``harness limits``) resolves sizes written
    as "x effective-LLC"; plain "x LLC" stays the sysfs LLC.
    """
    sc = loaded.scenario
    needs_llc = any(s.kind == "llc" for s in scenario_sizes(loaded))
    if needs_effective_llc(loaded) and not effective_llc_bytes:
        raise UsageError(f"{loaded.path}: sizes relative to the effective LLC need a "
                         f"measured one: run `python -m harness limits` first or pass "
                         f"--limits DIR")
    if not machine.llc_bytes and needs_llc:
        raise UsageError(f"{loaded.path}: sizes are relative to the LLC, but this machine's "
                         f"LLC size is unknown (no cache/index* in sysfs); give sizes in "
                         f"bytes or rows")
    llc_bytes = machine.llc_bytes or 0
    if memory_budget is None:
        available = machine.mem_available_bytes or 0
        memory_budget = int(available * DEFAULT_MEMORY_FRACTION)
        source = f"{DEFAULT_MEMORY_FRACTION:.0%} of {format_bytes(available)} available"
    else:
        source = "--memory-limit"
    pinning = resolve_pinning(sc.pinning, machine)
    dist = _distribution(loaded)
    m = sc.measure
    most_batches, sampling = m.batches, None
    if m.batches == "auto":
        most_batches = m.max_batches
        sampling = {"min_batches": min(m.min_batches, m.max_batches),
                    "precision": m.precision, "budget_s": m.budget_s}
        if m.min_time_s:  # absent when 0: points planned before it existed compare equal
            sampling["min_time_s"] = min(m.min_time_s, m.budget_s)
    quality_limits = {"max_interference": m.max_interference, "max_steal": m.max_steal,
                      "max_spread": m.max_spread, "retries": m.retries}
    dim, features = sc.tables.dim, sc.tables.features
    row_bytes = dim * 4
    cardinalities = sc.tables.cardinalities is not None

    points: list[Point] = []
    seen: dict[str, tuple[int, Point]] = {}  # point id -> (kernels[] index, its point)
    thread_counts = list(dict.fromkeys(  # "all" resolves here; duplicates collapse
        len(pinning.cpus) or 1 if t == "all" else t for t in sc.threads))
    for (size_text, full_rows), batch, threads, pooling, pages, placement in itertools.product(
            table_choices(sc.tables, llc_bytes, effective_llc_bytes), sc.batch_sizes,
            thread_counts, sc.pooling, sc.tables.pages, sc.memory.placement):
        def geometry(rows):
            return Geometry(rows, dim, llc_bytes, effective_llc_bytes, pages,
                            sc.tables.layout)

        for index, entry in enumerate(sc.kernels):
            spec = KERNELS[entry.kernel]
            for raw in variants(entry):
                try:
                    params = spec.resolve(raw, geometry(sum(full_rows)))
                except ValueError as exc:
                    raise UsageError(f"{loaded.path}: kernel {entry.kernel}: {exc}") from None
                lookups = batch * pooling * features
                # ids and offsets, and the indices hashed before timing if asked for
                batch_index_bytes = (lookups * (8 + precomputed_index_bytes(params))
                                     + batch * features * 8)
                distinct = pool_batches(m.warmups + most_batches, lookups * row_bytes,
                                        batch_index_bytes,
                                        max(effective_llc_bytes or 0, llc_bytes))

                def memory_for(kernel_bytes):
                    return (kernel_bytes + distinct * batch_index_bytes
                            + 4 * batch * features * row_bytes  # outputs and temporaries
                            + PROCESS_OVERHEAD_BYTES)

                feature_rows, note = full_rows, ""
                kernel_bytes = layout_bytes(spec, params, feature_rows, sc.tables.layout,
                                            geometry)
                if sc.tables.scale_to_fit and memory_for(kernel_bytes) > memory_budget:
                    feature_rows = scaled_to_fit(spec, params, full_rows, sc.tables.layout,
                                                 geometry, memory_budget, memory_for)
                    kernel_bytes = layout_bytes(spec, params, feature_rows, sc.tables.layout,
                                                geometry)
                scale = sum(feature_rows) / sum(full_rows)
                if scale < 1:
                    note = (f"tables scaled to {scale:.4g} of the scenario's cardinalities "
                            f"({format_bytes(kernel_bytes)}) to fit the memory budget of "
                            f"{format_bytes(memory_budget)} ({source}); ids range over the "
                            f"scaled tables")
                rows = sum(feature_rows) if cardinalities else feature_rows[0]
                point_id = bounded_point_id(
                    f"{_slug(entry.kernel, params)}.rows{rows}.dim{dim}.b{batch}"
                    f".p{pooling}.t{threads}"
                    + (f".f{features}" if features > 1 else "")
                    + (".shared" if sc.tables.layout == "shared" else "")
                    + (f".pg{pages}" if pages != "default" else "")
                    + (f".numa-{placement.replace(':', '')}" if placement != "local" else "")
                    + ("" if dist["name"] == "uniform" else
                       f".{dist['name']}{dist.get('alpha', '')}"))
                if point_id in seen:
                    _note_merged(*seen[point_id], index, entry)
                    continue
                point = Point(
                    point_id=point_id, kernel=entry.kernel,
                    label=entry.label or spec.describe(params), params=params,
                    table_size=size_text + (f" x {scale:.4g}" if scale < 1 else ""),
                    table_rows=rows, table_bytes=rows * row_bytes,
                    llc_ratio=(rows * row_bytes / llc_bytes) if llc_bytes else float("nan"),
                    kernel_bytes=kernel_bytes,
                    bytes_per_lookup=spec.bytes_per_lookup(params, geometry(rows)),
                    dim=dim, batch_size=batch, pooling=pooling, features=features,
                    threads=threads, cpus=pinning.cpus[:threads], distribution=dist,
                    warmups=m.warmups, batches=most_batches, repeats=m.repeats, seed=m.seed,
                    timeout_s=m.timeout_s, verify=m.verify, distinct_batches=distinct,
                    memory_bytes=memory_for(kernel_bytes), pages=pages,
                    feature_rows=list(feature_rows) if cardinalities else None,
                    layout=sc.tables.layout, table_scale=scale, note=note,
                    placement=placement, sampling=sampling, quality_limits=quality_limits)
                _check_feasible(point, pinning, memory_budget, source, machine)
                points.append(point)
                seen[point_id] = (index, point)
    return Plan(sc.name, points, pinning, llc_bytes, memory_budget, source,
                effective_llc_bytes=effective_llc_bytes)


def _note_merged(first: int, point: Point, index: int, entry) -> None:
    """Say on the point that another kernel entry resolved to it here, so was not measured
    apart. Written repeats are refused when the scenario is loaded; what remains are
    entries that differ as written but not on this machine (prefetch unset and 8 on a
    table of 1/4 LLC or more). Within one entry this is expected and not said: a backend
    ignores parameters it has no use for (prefetch with torch)."""
    if index == first:
        return
    said = (f"kernels[{index}]" + (f" ({entry.label})" if entry.label else "")
            + f" resolves to this same point on this machine: measured once, as "
              f"kernels[{first}]")
    if said not in point.note:
        point.note = f"{point.note}; {said}" if point.note else said


def table_choices(tables, llc_bytes: int, effective_llc_bytes: int | None = None,
                  ) -> list[tuple[str, list[int]]]:
    """(size as written, rows of each feature) for each table size the scenario sweeps."""
    if tables.cardinalities is not None:
        total = sum(tables.cardinalities)
        return [(f"{len(tables.cardinalities)} cardinalities ({total} rows)",
                 list(tables.cardinalities))]
    return [(str(size),
             [size.to_rows(llc_bytes, tables.dim * 4, effective_llc_bytes)] * tables.features)
            for size in tables.sizes]


def layout_bytes(spec, params: dict, feature_rows: list[int], layout: str, geometry) -> int:
    """Bytes of a kernel's tables for all features: once if shared, else per feature.

    ``geometry(rows)`` gives the Geometry of a table of ``rows`` rows.
    """
    if layout == "shared":
        return spec.footprint_bytes(params, geometry(sum(feature_rows)))
    return sum(spec.footprint_bytes(params, geometry(rows)) for rows in feature_rows)


SCALE_TO_FIT_SHARE = 0.9  # of the budget left beside the fixed costs, for scaled tables


def scaled_to_fit(spec, params: dict, full_rows: list[int], layout: str, geometry,
                  budget: int, memory_for) -> list[int]:
    """Feature rows scaled down alike until the point fits ``budget`` (or cannot shrink)."""
    # Aim below the budget: it is re-checked against the memory available when the point
    # is due to run, which moves by megabytes; tables sized to the last byte would be
    # refused almost every time. They get a share of what the rest leaves.
    full_bytes = layout_bytes(spec, params, full_rows, layout, geometry)
    fixed = memory_for(full_bytes) - full_bytes  # index pool, outputs, the process
    spare = int((budget - fixed) * SCALE_TO_FIT_SHARE)
    if spare <= 0:
        return full_rows
    budget = fixed + spare
    scale = spare / full_bytes
    rows = full_rows
    for _ in range(40):
        rows = [max(1, int(r * scale)) for r in full_rows]
        if memory_for(layout_bytes(spec, params, rows, layout, geometry)) <= budget:
            return rows
        scale *= 0.9
    return full_rows  # its tables do not shrink with the rows: skipped with the reason


def memory_refusal(point: Point, plan: Plan, available_now: int | None) -> str | None:
    """Re-check a point's memory just before its worker starts (hours may have passed).

    Only the default budget follows the machine; an explicit --memory-limit stands.
    """
    if plan.memory_budget_source == "--memory-limit" or available_now is None:
        return None
    budget = int(available_now * DEFAULT_MEMORY_FRACTION)
    if point.memory_bytes <= budget:
        return None
    return (f"needs ~{format_bytes(point.memory_bytes)} of memory "
            f"({format_bytes(point.kernel_bytes)} of tables), over the budget of "
            f"{format_bytes(budget)} ({DEFAULT_MEMORY_FRACTION:.0%} of "
            f"{format_bytes(available_now)} available when it was due to run)")


def _hugetlb_refusal(point: Point, machine: Machine) -> str | None:
    free, size = machine.hugepages_free, machine.hugepage_bytes
    if point.pages != "hugetlb" or free is None or not size:
        return None
    needed = -(-point.kernel_bytes // size) + 2  # tables are rounded up to whole pages
    if needed <= free:
        return None
    return (f"needs ~{needed} huge pages of {format_bytes(size)} for its tables, "
            f"{free} are free (reserve them: echo {needed} > /proc/sys/vm/nr_hugepages)")


def _check_feasible(point: Point, pinning: PinningSet, budget: int, source: str,
                    machine: Machine) -> None:
    if point.threads > len(pinning.cpus):
        point.status, point.cpus = "skipped", []
        point.reason = (f"needs {point.threads} cores, the pinning set has "
                        f"{len(pinning.cpus)} (CPUs {format_cpulist(pinning.cpus) or 'none'})")
    elif point.params.get("backend") == "numpy" and point.threads > 1:
        point.status = "skipped"
        point.reason = "the numpy backend runs on one thread"
    elif point.memory_bytes > budget:
        point.status = "skipped"
        point.reason = (f"needs ~{format_bytes(point.memory_bytes)} of memory "
                        f"({format_bytes(point.kernel_bytes)} of tables), over the budget of "
                        f"{format_bytes(budget)} ({source})")
    elif refusal := _hugetlb_refusal(point, machine):
        point.status, point.reason = "skipped", refusal
    elif isinstance(refusal := resolve_placement(point.placement, point.cpus,
                                                 nodes_from_machine(machine.numa_nodes)), str):
        point.status, point.reason = "skipped", refusal

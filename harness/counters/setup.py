"""The manager's view of counting for one harness run: which backends can work here,
and the two hooks the worker launcher calls around each worker.

``CounterSetup.create`` decides once (probing perf's events, building the
callgrind helper, reading the LLC geometry) and says why any backend is off;
``prepare`` wraps a worker command and fills the spec's ``counters`` block;
``finish`` collects perf's output, runs the simulated pass for a point's first
repeat, and stores every count and metric in the run record.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from harness.counters.cachegrind import CachegrindSetup, build_helper, valgrind_version
from harness.counters.config import CountersConfig
from harness.counters.eventsets import (EventSet, custom_event_set, load_event_set,
                                        set_for_uarch)
from harness.counters.model import CacheGeometry, power_of_two_geometry
from harness.counters.perf import PerfSetup, default_perf, probe_event_set, read_permission
from harness.counters.summary import run_metrics


def _cache(machine, level: int, ctype: str) -> CacheGeometry | None:
    for c in machine.caches:
        if c.level == level and c.type == ctype and c.ways and c.line_bytes:
            return power_of_two_geometry(c.size_bytes, c.ways, c.line_bytes)[0]
    return None


def choose_event_set(config: CountersConfig, uarch: str) -> EventSet:
    name = set_for_uarch(uarch) if config.event_set == "auto" else config.event_set
    event_set = load_event_set(name)
    return custom_event_set(config.events, event_set) if config.events else event_set


@dataclass
class CounterSetup:
    config: CountersConfig
    event_set: EventSet
    perf: PerfSetup | None = None
    cachegrind: CachegrindSetup | None = None
    model: dict | None = None
    system_wide: tuple[bool, str] = (False, "")
    notes: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, config: CountersConfig, machine, work_dir: Path) -> "CounterSetup":
        event_set = choose_event_set(config, machine.uarch)
        setup = cls(config, event_set, system_wide=read_permission())
        backends = set(config.backends)
        llc = None
        sim = config.simulated_llc
        if sim is not None:
            llc, note = power_of_two_geometry(sim.size_bytes, sim.ways, sim.line_bytes)
            setup.notes.append(f"model/cachegrind simulate a {sim.size} {sim.ways}-way LLC, "
                               f"not this machine's ({machine.llc_bytes} B)")
        elif machine.llc_bytes:
            llc, note = power_of_two_geometry(machine.llc_bytes, machine.llc_ways or 16,
                                              machine.line_bytes or 64)
        if llc is not None and note:
            setup.notes.append(f"LLC geometry: {note}")
        if "perf" in backends:
            perf = machine.perf.path or default_perf()
            if perf is None or not machine.perf.version:
                setup.notes.append(f"perf backend off: {machine.perf.error or 'perf not found'}")
            else:
                probed = probe_event_set(perf, machine.perf.version, event_set, work_dir,
                                         setup.system_wide)
                setup.perf = PerfSetup(perf, machine.perf.version, event_set, probed,
                                       config.ack_timeout_s)
                if not setup.perf.counted:
                    setup.notes.append("perf backend off: no event of the set can be counted")
                    setup.perf = None
        if "model" in backends:
            if llc is None:
                setup.notes.append("model backend off: the LLC geometry is unknown")
            else:
                setup.model = {"geometry": llc.to_dict(), "max_batches": config.model_batches}
        if "cachegrind" in backends:
            setup.cachegrind = cls._cachegrind(config, machine, llc, work_dir, setup.notes)
        return setup

    @staticmethod
    def _cachegrind(config, machine, llc, work_dir, notes) -> CachegrindSetup | None:
        valgrind = shutil.which("valgrind")
        if valgrind is None:
            notes.append("cachegrind backend off: valgrind is not installed")
            return None
        if llc is None:
            notes.append("cachegrind backend off: the LLC geometry is unknown")
            return None
        try:
            helper = build_helper(work_dir)
        except RuntimeError as exc:
            notes.append(f"cachegrind backend off: {exc}")
            return None
        return CachegrindSetup(valgrind, valgrind_version(valgrind), helper, llc,
                               _cache(machine, 1, "Data"), _cache(machine, 1, "Instruction"),
                               config.simulated_batches, config.simulated_warmups)

    def prepare(self, command: list[str], spec: dict, work_dir: Path, stem: str) -> list[str]:
        """The command to spawn for a worker run; fills ``spec['counters']``."""
        counters = {}
        if self.perf is not None:
            command, counters["perf"] = self.perf.wrap(command, work_dir, stem)
        if self.model is not None:
            counters["model"] = self.model
        spec["counters"] = counters
        return command

    def finish(self, spec: dict, repeat: int, outcome: dict, work_dir: Path, stem: str,
               worker_command) -> dict:
        """Add every count and metric to ``outcome`` (a run record, ok or failed)."""
        point = spec["point"]
        from_worker = outcome.get("counters") or {}
        counters = {"event_set": self.event_set.name, "backends": list(self.config.backends),
                    # the timed batches the region counted (batches: auto takes fewer)
                    "batches": len(outcome.get("values_ns") or []) or point["batches"],
                    "formulas": {m: d.formula for m, d in self.event_set.metrics.items()},
                    "unavailable": dict(self.event_set.unavailable),
                    "region": from_worker.get("region"), "model": from_worker.get("model")}
        if self.perf is not None:
            counters["perf"] = self.perf.collect(work_dir, stem, counters["region"])
        if self.cachegrind is not None and repeat == 0 and outcome.get("status") == "ok":
            cg_spec = self.cachegrind.worker_spec(spec)
            spec_path = work_dir / f"{stem}.cachegrind.spec.json"
            result_path = work_dir / f"{stem}.cachegrind.result.json"
            spec_path.write_text(json.dumps(cg_spec))
            counters["cachegrind"] = self.cachegrind.run(
                worker_command(spec_path, result_path), cg_spec["point"], work_dir, stem,
                point["timeout_s"], result_path)
        lookups_per_batch = point["batch_size"] * point["pooling"] * point["features"]
        counters["metrics"] = run_metrics(counters, lookups_per_batch)
        outcome["counters"] = counters
        return outcome

    def describe(self) -> dict:
        """For the manifest: what was asked, what runs, and why anything does not."""
        return {
            "requested": self.config.model_dump(mode="json"),
            "event_set": self.event_set.name,
            "system_wide_events": {"allowed": self.system_wide[0], "why": self.system_wide[1]},
            "perf": self.perf.describe() if self.perf else None,
            "cachegrind": None if self.cachegrind is None else {
                "valgrind": self.cachegrind.valgrind, "version": self.cachegrind.version,
                "llc": self.cachegrind.llc.to_dict(), "batches": self.cachegrind.batches,
                "warmups": self.cachegrind.warmups},
            "model": self.model,
            "notes": self.notes,
        }

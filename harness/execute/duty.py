"""Where a run's wall time went: the duty cycle (time measuring / time running).

Each worker reports its phases in ns (``worker.Phases``): spawn (fork to the
worker's main), imports, table build, indices, verification (and the untimed
hashing and preparation of batches), counters and model, warm-ups, timed batches,
writing; and ``untracked``, the rest of the worker process's life (its exit).
Counting runs of their own (perf, per point) are counted whole. The
manager sums them over this session's workers; ``duty_cycle`` is the time inside
warm-up and timed batches over the run's wall time, and what no worker accounts
for (the manager, process exits, probing counters) is ``other``.
"""

from __future__ import annotations

import time
from collections import Counter

PHASES = ("spawn", "imports", "table_build", "indices", "verification", "counters_model",
          "warmups", "timed", "writing", "untracked", "counting_runs")


class DutyCycle:
    def __init__(self, clock=time.monotonic):
        self.clock, self.started = clock, clock()
        self.ns: Counter = Counter()
        self.workers = 0
        self.built_bytes = self.build_ns = 0  # tables built, once per worker

    def add(self, outcome: dict) -> None:
        """Account one run record (a point's outcome from a grouped or single worker)."""
        for name, ns in (outcome.get("phases_ns") or {}).items():
            self.ns[name] += ns
        group = outcome.get("group_run")
        # Points run again (noisy, unstable): the workers of attempts not kept, and
        # their points' phases, ride on one kept record (harness.execute.grouprun).
        for run in (group, outcome.get("first_attempt_group_run"),
                    *(outcome.get("worker_runs") or [])):
            if run is not None:
                self.workers += 1
                for name, ns in (run.get("phases_ns") or {}).items():
                    self.ns[name] += ns
        for name, ns in (outcome.get("set_aside_phases_ns") or {}).items():
            self.ns[name] += ns
        if group is None and outcome.get("phases_ns") is not None \
                and "group" not in outcome:  # a worker of one point
            self.workers += 1
        if (group is not None or "group" not in outcome) and outcome.get("build_ns") \
                and outcome.get("kernel_nbytes"):
            self.built_bytes += outcome["kernel_nbytes"]
            self.build_ns += outcome["build_ns"]
        counting = outcome.get("counting_run") or {}
        if counting.get("elapsed_s"):
            self.ns["counting_runs"] += int(counting["elapsed_s"] * 1e9)

    def summary(self) -> dict:
        """For the manifest: duty_cycle and the breakdown of the wall time in seconds."""
        wall = self.clock() - self.started
        seconds = {name: self.ns.get(name, 0) / 1e9 for name in PHASES}
        seconds["other"] = max(0.0, wall - sum(seconds.values()))
        measuring = seconds["warmups"] + seconds["timed"]
        return {"duty_cycle": measuring / wall if wall > 0 else None,
                "time_breakdown": {"wall_s": wall, "workers": self.workers,
                                   "table_build_gbytes_per_s": self.built_bytes / self.build_ns
                                   if self.build_ns else None,
                                   "seconds": seconds,
                                   "note": "summed over this session's workers; "
                                           "duty_cycle = (warmups + timed) / wall_s"}}

    @staticmethod
    def lines(summary: dict) -> list[str]:
        """What ``run`` prints at its end."""
        if summary.get("duty_cycle") is None:
            return []
        b = summary["time_breakdown"]
        parts = sorted(((s, n) for n, s in b["seconds"].items() if s >= 0.05), reverse=True)
        return [f"duty cycle {summary['duty_cycle']:.1%}: {b['seconds']['warmups'] + b['seconds']['timed']:.1f} s "
                f"in warm-up and timed batches of {b['wall_s']:.1f} s ({b['workers']} workers)",
                "  where the time went: " + ", ".join(f"{n} {s:.1f} s" for s, n in parts)
                + (f"; tables built at {b['table_build_gbytes_per_s']:.2f} GB/s"
                   if b.get("table_build_gbytes_per_s") else "")]

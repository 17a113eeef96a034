"""Everything that runs valgrind (and the C compiler for its helper): the ``cachegrind``
backend, simulated LLC misses where the machine cannot count them.

A point's first repeat is run once more under

    valgrind --tool=callgrind --cache-sim=yes --I1=.. --D1=.. --LL=SIZE,WAYS,LINE
             --instr-atstart=no --collect-atstart=no --callgrind-out-file=OUT
             python -m harness.worker SPEC --result RESULT

on a reduced number of batches and one thread (valgrind serialises threads, and
callgrind's collection switch is per thread). The worker starts instrumentation
before building its tables and collects only inside the timed batches
(``region.CallgrindRegion``). Callgrind rather than cachegrind: cachegrind 3.19
cannot start and stop. The LL geometry is the detected LLC's, rounded to a
power-of-two number of sets when valgrind needs it (``model.power_of_two_geometry``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.counters.model import CacheGeometry
from harness.execute.signals import die_with_parent, stop_process_group

HELPER_SOURCE = Path(__file__).with_name("callgrind_toggle.c")
STDERR_TAIL = 2000


def build_helper(out_dir: Path, cc: str | None = None) -> Path:
    """Compile the client-request helper into ``out_dir``; RuntimeError saying why not."""
    cc = cc or shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc/gcc) to build the callgrind helper")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "libharness_callgrind.so"
    cmd = [cc, "-O1", "-shared", "-fPIC", "-o", str(target), str(HELPER_SOURCE)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"compiling the callgrind helper failed: {exc}") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no message"])[0]
        raise RuntimeError(f"compiling the callgrind helper failed ({' '.join(cmd)}): {first}")
    return target


def valgrind_version(valgrind: str) -> str | None:
    try:
        proc = subprocess.run([valgrind, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip().removeprefix("valgrind-") or None


def parse_callgrind_totals(text: str) -> dict[str, int]:
    """Event totals of a callgrind output file: {'Ir': .., 'DLmr': .., ...} (pure).

    Uses the ``events:`` header and the ``totals:`` line (the sum of the file's cost
    lines: the counted region), else ``summary:`` (which callgrind 3.19 writes first
    and which also holds a few events of the client requests that toggle the region).
    ValueError quoting the text when either is missing or malformed.
    """
    events = totals = summary = None
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line.split(":", 1)[1].split()
        elif line.startswith("totals:") and totals is None:
            totals = line.split(":", 1)[1].split()
        elif line.startswith("summary:") and summary is None:
            summary = line.split(":", 1)[1].split()
    totals = totals if totals is not None else summary
    if events is None or totals is None:
        raise ValueError(f"not a callgrind output file (no events:/totals: line): {text[:300]!r}")
    if len(totals) > len(events) or not all(t.isdigit() for t in totals):
        raise ValueError(f"malformed callgrind totals {totals!r} for events {events!r}")
    totals += ["0"] * (len(events) - len(totals))  # trailing zero columns may be omitted
    return dict(zip(events, map(int, totals)))


def simulated_counts(totals: dict[str, int], line_bytes: int) -> dict:
    """The harness's names for callgrind's events (pure)."""
    llc_loads = sum(totals.get(k, 0) for k in ("I1mr", "D1mr", "D1mw"))
    llc_misses = sum(totals.get(k, 0) for k in ("ILmr", "DLmr", "DLmw"))
    writebacks = sum(totals.get(k, 0) for k in ("ILdmr", "DLdmr", "DLdmw"))
    return {"instructions": totals.get("Ir", 0), "llc_loads": llc_loads,
            "llc_misses": llc_misses, "llc_dirty_evictions": writebacks,
            "dram_bytes": (llc_misses + writebacks) * line_bytes}


def cache_option(name: str, geometry: CacheGeometry) -> str:
    return f"--{name}={geometry.size_bytes},{geometry.ways},{geometry.line_bytes}"


@dataclass
class CachegrindSetup:
    """The cachegrind backend of one harness run."""

    valgrind: str
    version: str | None
    helper: Path
    llc: CacheGeometry
    l1d: CacheGeometry | None
    l1i: CacheGeometry | None
    batches: int = 10
    warmups: int = 5
    note: str = ""

    def command(self, worker_command: list[str], out: Path) -> list[str]:
        cmd = [self.valgrind, "--tool=callgrind", "--cache-sim=yes", "--simulate-wb=yes",
               "--instr-atstart=no", "--collect-atstart=no",
               f"--callgrind-out-file={out}", cache_option("LL", self.llc)]
        for name, geometry in (("D1", self.l1d), ("I1", self.l1i)):
            if geometry is not None:
                cmd.append(cache_option(name, geometry))
        return cmd + worker_command

    def worker_spec(self, spec: dict) -> dict:
        """The worker spec of the simulated run: fewer batches, one thread, no perf."""
        point = dict(spec["point"])
        point.update(batches=min(point["batches"], self.batches),
                     warmups=min(point["warmups"], self.warmups),
                     threads=1, cpus=point["cpus"][:1], verify=False,
                     sampling=None)  # a fixed count: simulation is slow
        return {**spec, "point": point,
                "counters": {"cachegrind": {"helper": str(self.helper)}}}

    def run(self, worker_command: list[str], point: dict, work_dir: Path, stem: str,
            timeout_s: float, result_path: Path) -> dict:
        """Run the simulated worker (its spec already written for ``worker_command``);
        a record with the counts, or with the reason there are none."""
        out = work_dir / f"{stem}.callgrind.out"
        stderr_path = work_dir / f"{stem}.callgrind.stderr"
        out.unlink(missing_ok=True)
        result_path.unlink(missing_ok=True)
        cmd = self.command(worker_command, out)
        record = {"command": cmd, "geometry": self.llc.to_dict(), "geometry_note": self.note,
                  "valgrind_version": self.version}
        started = time.monotonic()  # the pass's own time, for the run's cost model
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr,
                                    start_new_session=True, preexec_fn=die_with_parent)
            try:
                returncode = proc.wait(timeout=timeout_s)
                record["elapsed_s"] = time.monotonic() - started
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                record["error"] = f"valgrind run timed out after {timeout_s:g} s"
                return record
            except BaseException:  # interrupted: never leave valgrind running behind us
                stop_process_group(proc)
                raise
        tail = stderr_path.read_text(errors="replace")[-STDERR_TAIL:]
        stderr_path.unlink(missing_ok=True)
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError):
            result = {}
        if returncode != 0 or result.get("status") != "ok":
            record["error"] = (result.get("error") or
                               f"valgrind run exited with status {returncode}: {tail[-500:]}")
            return record
        region = (result.get("counters") or {}).get("region") or {}
        if region.get("error"):
            record["error"] = region["error"]
            return record
        try:
            totals = parse_callgrind_totals(out.read_text(errors="replace"))
        except (OSError, ValueError) as exc:
            record["error"] = f"callgrind output unusable: {exc}"
            return record
        finally:
            out.unlink(missing_ok=True)
        batches = len(result["values_ns"])
        lookups = batches * point["batch_size"] * point["pooling"] * point["features"]
        record.update(totals=totals, counts=simulated_counts(totals, self.llc.line_bytes),
                      batches=batches, warmups=len(result["warmups_ns"]), lookups=lookups,
                      threads=1)
        return record

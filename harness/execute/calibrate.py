"""A short calibration of the cost model's rates, for a machine with no stored run.

One python is spawned that imports what a worker imports (numpy, numba, the kernels'
modules; torch too when the plan measures a torch backend), builds a 256 MiB table as
the kernels do (``kernels.memory.random_table``: page-aligned, seeded fill), draws ids
and gathers rows at random: a few seconds in all. Its
wall time less its own work is the worker's start. The subprocess is here, its output
parsed by the pure ``parse_calibration``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from harness.execute.estimate import Rates

TABLE_BYTES = 256 * 2**20
ROW_BYTES = 128   # a dim-32 float32 row
GATHERED = 2**20  # rows gathered at random

SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import numba
from harness.execute import indices, layout
from harness.scenario import kernelspec
from kernels.memory import random_table
imported = time.perf_counter()
torch_s = None
if sys.argv[1] == "torch":
    import torch
    torch_s = time.perf_counter() - imported
rng = np.random.default_rng(0)
t = time.perf_counter_ns(); rows = random_table((%(table)d // %(row)d, %(row)d // 4), 0)
build_ns = time.perf_counter_ns() - t
t = time.perf_counter_ns(); ids = rng.integers(0, rows.shape[0], %(n)d)
index_ns = time.perf_counter_ns() - t
t = time.perf_counter_ns(); np.take(rows, ids, axis=0).sum(axis=0)
gather_ns = time.perf_counter_ns() - t
print(json.dumps({"work_s": time.perf_counter() - t0 - (torch_s or 0.0),
                  "torch_s": torch_s, "build_ns": build_ns, "index_ns": index_ns,
                  "gather_ns": gather_ns, "table_bytes": %(table)d,
                  "ids": %(n)d, "row_bytes": %(row)d}))
""" % {"table": TABLE_BYTES, "row": ROW_BYTES, "n": GATHERED}


def parse_calibration(text: str, wall_s: float) -> Rates:
    """Rates from the calibration's JSON line and the wall time of its process (pure);
    ValueError quoting the text when it is not that line."""
    try:
        data = json.loads(text.strip().splitlines()[-1])
        work_s = float(data["work_s"])
        rates = Rates(source="",
                      worker_start_s=max(wall_s - work_s - (data["torch_s"] or 0.0), 0.0),
                      build_bytes_per_s=data["table_bytes"] / (data["build_ns"] / 1e9),
                      index_ns_per_id=data["index_ns"] / data["ids"],
                      gather_ns_per_byte=data["gather_ns"] / (data["ids"] * data["row_bytes"]))
        if data["torch_s"] is not None:
            rates.torch_import_s = float(data["torch_s"])
        else:
            rates.assumed = rates.assumed | {"torch_import_s"}
    except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"calibration output not understood ({exc}): {text[-300:]!r}") \
            from None
    return rates


def calibrate(torch: bool = False, python: str = sys.executable, timeout_s: float = 120
              ) -> Rates:
    """Run the calibration now; RuntimeError saying why when it cannot."""
    started = time.monotonic()
    try:
        proc = subprocess.run([python, "-c", SCRIPT, "torch" if torch else "-"],
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"calibration took over {timeout_s:g} s") from None
    wall_s = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"calibration failed: {proc.stderr.strip()[-300:]}")
    rates = parse_calibration(proc.stdout, wall_s)
    rates.source = (f"a calibration just now ({wall_s:.1f} s: one worker-like python, "
                    f"a {TABLE_BYTES // 2**20} MiB table filled and gathered)")
    return rates

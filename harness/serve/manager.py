"""The serving manager: one pinned worker process per point, never a measurement here.

Points come from the same plan as ``harness run`` (sizes, kernels, CPUs, pages,
placement, memory checks; infeasible points skipped with the reason), with the
batch size read as the largest batch the server forms. Each runnable point's
worker serves every rate; its record is stored the moment it returns.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.execute.plan import Plan, Point
from harness.execute.runner import interpret_outcome
from harness.execute.signals import (Interrupted, SignalGuard, die_with_parent,
                                      stop_process_group)
from harness.store.serving import ServeStore


def spawn_worker(point: Point, serve_config: dict, llc_bytes: int, work_dir: Path) -> dict:
    """Run ``python -m harness.serve.worker`` for ``point``; its record or why it failed."""
    spec_path = work_dir / f"{point.point_id}.spec.json"
    result_path = work_dir / f"{point.point_id}.result.json"
    stderr_path = work_dir / f"{point.point_id}.stderr"
    spec_path.write_text(json.dumps({"point": point.to_dict(), "serve": serve_config,
                                     "llc_bytes": llc_bytes}))
    result_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "harness.serve.worker", str(spec_path),
               "--result", str(result_path)]
    started = time.monotonic()
    with open(stderr_path, "wb") as stderr, open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(command, stdout=devnull, stderr=stderr,
                                start_new_session=True, preexec_fn=die_with_parent)
        try:
            returncode, timed_out = proc.wait(timeout=point.timeout_s), False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            returncode, timed_out = proc.wait(), True
        except BaseException:  # interrupted: never leave a worker running behind us
            stop_process_group(proc)
            raise
    return interpret_outcome(returncode, timed_out, point.timeout_s, result_path, stderr_path,
                             time.monotonic() - started)


def serve_plan(plan: Plan, store: ServeStore, serve_config: dict, work_dir: Path,
               progress=print, spawn=spawn_worker) -> int:
    """Serve every runnable point; 0 all ok, 1 some failed, 128+N on signal N.

    Ctrl-C, SIGTERM or SIGHUP stops the running worker (its process group), writes the
    files from what finished (state ``interrupted``) and returns 130 / 143 / 129.
    """
    store.write("running")
    failed = 0
    runnable = plan.runnable
    guard = SignalGuard()
    with guard.installed():
        try:
            for number, point in enumerate(runnable, 1):
                progress(f"[{number}/{len(runnable)}] {point.point_id}")
                record = spawn(point, serve_config, plan.llc_bytes, work_dir)
                with guard.critical():  # a record and the files that follow, whole
                    store.record(point, record)
                    store.write("running")
                if record.get("status") != "ok":
                    failed += 1
                    progress(f"  failed: {record.get('reason', '?')}")
                else:
                    progress("  " + "; ".join(_rate_line(r) for r in record["rates"]))
        except (Interrupted, KeyboardInterrupt) as exc:
            store.write("interrupted")
            progress(f"interrupted: finished points are in {store.dir}")
            return exc.exit_status if isinstance(exc, Interrupted) else 130
        store.write("complete")
    return 1 if failed else 0


def _rate_line(rate: dict) -> str:
    if rate.get("status") != "ok":
        return f"{rate['rate_qps']:g} qps {rate['status']}"
    return f"{rate['rate_qps']:g} qps p99 {rate['p99_ns'] / 1e6:.2f} ms"

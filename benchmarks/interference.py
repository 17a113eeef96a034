"""What the quality flags catch: one small scenario run quietly, then again with a
CPU-bound competitor pinned to one of the harness's CPUs (issue 15 item 8).

    python benchmarks/interference.py [--scenario benchmarks/scenarios/interference.yaml]
        [--competitor-cpu N] [--out DIR] [--quick]

Each case is a plain ``python -m harness run`` into DIR/quiet and DIR/loaded; the
competitor is a busy loop in its own process pinned with sched_setaffinity to
``--competitor-cpu`` (default: the last CPU of the widest point of the quiet run, which
the 2-thread points share and the 1-thread points do not). Prints, per point and case,
the median latency, quality, the interference figures and how many attempts reruns
set aside, as a Markdown table to paste under benchmarks/results/ with this command.
Run it on a machine nobody else is using: the "quiet" case must be quiet.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = ("latency_p50_ns", "quality", "interference_fraction", "runqueue_wait_fraction",
           "steal_fraction", "batch_iqr_ratio", "repeat_spread", "batches_taken",
           "ci_half_width", "runs_set_aside")


def _spin(cpu: int) -> None:
    os.sched_setaffinity(0, [cpu])
    while True:
        pass


def run_case(scenario: Path, out: Path, quick: bool, competitor_cpu: int | None) -> float:
    """One `harness run`, with the competitor spinning throughout when a CPU is given;
    the wall time in seconds."""
    competitor = None
    if competitor_cpu is not None:
        competitor = multiprocessing.Process(target=_spin, args=(competitor_cpu,), daemon=True)
        competitor.start()
    started = time.monotonic()
    try:
        subprocess.run([sys.executable, "-m", "harness", "run", str(scenario), "--out", str(out)]
                       + (["--quick"] if quick else []), check=True)
    finally:
        if competitor is not None:
            competitor.terminate()
            competitor.join()
    return time.monotonic() - started


def widest_points_last_cpu(result: Path) -> int:
    """The last CPU of the point pinned to most CPUs in a result's points.csv."""
    from harness.machine.cpulist import parse_cpulist
    from harness.store.reader import read_points

    cores = [parse_cpulist(r["cores"]) for r in read_points(result / "points.csv")[1]
             if r["cores"]]
    return max(max(cores, key=len))


def table(cases: dict[str, Path]) -> str:
    from harness.store.reader import read_points

    rows = {name: {r["point_id"]: r for r in read_points(d / "points.csv")[1]}
            for name, d in cases.items()}
    lines = ["| point | case | " + " | ".join(COLUMNS) + " | reason |",
             "|" + "---|" * (len(COLUMNS) + 3)]
    for point_id in next(iter(rows.values())):
        for name, by_id in rows.items():
            r = by_id.get(point_id, {})
            lines.append(f"| {point_id} | {name} | " + " | ".join(r.get(c, "") for c in COLUMNS)
                         + f" | {r.get('quality_reason', '')} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path,
                        default=Path(__file__).parent / "scenarios/interference.yaml")
    parser.add_argument("--competitor-cpu", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("results/interference-evidence"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cases = {"quiet": args.out / "quiet", "loaded": args.out / "loaded"}
    for name, out in cases.items():
        cpu = None
        if name == "loaded":
            cpu = args.competitor_cpu if args.competitor_cpu is not None else \
                widest_points_last_cpu(cases["quiet"])
        seconds = run_case(args.scenario, out, args.quick, cpu)
        print(f"{name}: {seconds:.0f} s" + (f" (competitor on CPU {cpu})" if cpu is not None
                                              else ""), file=sys.stderr)
    print(table(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())

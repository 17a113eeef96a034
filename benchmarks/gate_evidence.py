"""Evidence that the regression gate works on this machine: false alarms and catches.

    python benchmarks/gate_evidence.py [--reps 20] [--runs 12] [--batches 200] [--out DIR]
    python benchmarks/gate_evidence.py --analyze DIR      # re-score stored runs

Each repetition measures three sides with the harness's own worker and launcher,
in rotating order so drift falls on all alike: A = spin 1000 ns/lookup, A' = spin
1000 ns/lookup again, B = spin 1250 ns/lookup (25% slower), each ``--runs`` worker
processes of ``--batches`` batches. Then the gate's own decision function
(``harness.compare.verdict.compare_samples``) judges A vs A' (any "slower" is a false alarm)
and A vs B (a "slower" is a catch). Because every run is stored, the same data is
re-scored for several factors and for fewer runs or batches per side, which is how
to choose the gate's settings: the smallest sample that gives no false alarm and
catches every 25% slowdown.

The numbers depend on the machine and on what else it runs: report them with both.
"""

from __future__ import annotations

import argparse
import json
import sys
import shutil
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.compare.verdict import compare_samples  # noqa: E402
from harness.machine.detect import describe_machine  # noqa: E402
from harness.execute.plan import make_plan  # noqa: E402
from harness.execute.runner import WorkerLauncher  # noqa: E402
from harness.scenario.schema import load_scenario  # noqa: E402

SCENARIO = """\
name: gate-evidence
threads: [1]
tables: {{sizes: ["1000 rows"], dim: 16}}
batch_sizes: [{batch}]
kernels:
  - kernel: spin
    ns_per_lookup: [{ns}, {slow_ns}]
measure: {{warmups: {warmups}, batches: {batches}, repeats: 1, timeout_s: 120}}
"""
SIDES = ("A", "A2", "B")  # A and A2 run the same point; B the slower one


def measure(args, out: Path) -> Path:
    """Run the repetitions; append each one's runs to runs.jsonl as it finishes."""
    work = Path(tempfile.mkdtemp(prefix="gate-evidence-"))
    scenario = work / "gate-evidence.yaml"
    scenario.write_text(SCENARIO.format(batch=args.batch_size, ns=args.ns, slow_ns=args.slow_ns,
                                        warmups=args.warmups, batches=args.batches))
    machine = describe_machine()
    plan = make_plan(load_scenario(scenario), machine)
    fast, slow = plan.runnable
    launcher = WorkerLauncher(work, plan.llc_bytes)
    out.mkdir(parents=True, exist_ok=True)
    (out / "setup.json").write_text(json.dumps({
        "args": vars(args) | {"out": str(out)}, "machine": machine.to_dict(),
        "points": {"A": fast.point_id, "A2": fast.point_id, "B": slow.point_id},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1))
    path = out / "runs.jsonl"
    started = time.monotonic()
    for rep in range(args.reps):
        runs = {side: [] for side in SIDES}
        for r in range(args.runs):
            shift = (rep * args.runs + r) % 3
            for side in SIDES[shift:] + SIDES[:shift]:
                point = slow if side == "B" else fast
                outcome = launcher.run(point, r)
                if outcome.get("status") != "ok":
                    sys.exit(f"worker failed: {outcome.get('reason')}")
                runs[side].append(outcome["values_ns"])
        with open(path, "a") as f:
            f.write(json.dumps({"rep": rep, "runs": runs}) + "\n")
        medians = {s: sorted(v for run in runs[s] for v in run)[len(runs[s]) * args.batches // 2]
                   for s in SIDES}
        print(f"rep {rep + 1}/{args.reps} ({time.monotonic() - started:.0f} s): median ns/batch "
              + ", ".join(f"{s} {medians[s]:.0f}" for s in SIDES), file=sys.stderr, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return out


def score(reps: list[dict], factor: float, alpha: float, runs: int, batches: int) -> dict:
    """False alarms (A vs A2) and catches (A vs B) over the repetitions, for one setting."""
    false_alarms = caught = 0
    ratios_null, ratios_slow = [], []
    for rep in reps:
        cut = {s: [run[:batches] for run in rep["runs"][s][:runs]] for s in SIDES}
        null = compare_samples(cut["A"], cut["A2"], factor, alpha)
        slow = compare_samples(cut["A"], cut["B"], factor, alpha)
        false_alarms += null["verdict"] == "slower"
        caught += slow["verdict"] == "slower"
        ratios_null.append(null.get("ratio", float("nan")))
        ratios_slow.append(slow.get("ratio", float("nan")))
    return {"factor": factor, "runs": runs, "batches": batches, "reps": len(reps),
            "false_alarms": false_alarms, "caught": caught,
            "null_ratio_range": [min(ratios_null), max(ratios_null)],
            "slow_ratio_range": [min(ratios_slow), max(ratios_slow)]}


def analyze(out: Path, factors: list[float], alpha: float) -> list[dict]:
    setup = json.loads((out / "setup.json").read_text())
    reps = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines() if line]
    max_runs, max_batches = setup["args"]["runs"], setup["args"]["batches"]
    run_counts = sorted({1, 3, 5, 8, 10, max_runs} & set(range(1, max_runs + 1)))
    batch_counts = sorted({min(20, max_batches), max_batches})
    rows = [score(reps, f, alpha, r, b) for r in run_counts for b in batch_counts
            for f in factors]
    a = setup["args"]
    print(f"\n{len(reps)} repetitions; spin {a['ns']} vs {a['ns']} ns/lookup (false alarms) "
          f"and {a['ns']} vs {a['slow_ns']} ns/lookup (catches); batch {a['batch_size']}; "
          f"alpha {alpha}; machine {setup['machine']['model_name']} "
          f"({setup['machine']['logical_cpus']} CPUs)")
    print(f"{'runs/side':>9} {'batches/run':>11} {'factor':>6} {'false alarms':>12} "
          f"{'caught':>8}  {'A/A2 ratio range':>17}  {'B/A ratio range':>16}")
    for row in rows:
        n, s = row["null_ratio_range"], row["slow_ratio_range"]
        print(f"{row['runs']:>9} {row['batches']:>11} {row['factor']:>6.2f} "
              f"{row['false_alarms']:>6}/{row['reps']:<5} {row['caught']:>4}/{row['reps']:<3}  "
              f"{n[0]:>8.3f}-{n[1]:<8.3f}  {s[0]:>7.3f}-{s[1]:<8.3f}")
    for f in factors:
        good = [r for r in rows if r["factor"] == f and r["false_alarms"] == 0
                and r["caught"] == r["reps"]]
        best = min(good, key=lambda r: (r["runs"] * r["batches"], r["runs"]), default=None)
        print(f"factor {f:.2f}: " + (f"no false alarm and every slowdown caught from "
                                     f"{best['runs']} runs x {best['batches']} batches per side"
                                     if best else "no sample size tried did both"))
    (out / "summary.json").write_text(json.dumps(rows, indent=1))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=12, help="worker processes per side")
    parser.add_argument("--batches", type=int, default=200, help="timed batches per run")
    parser.add_argument("--warmups", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--ns", type=int, default=1000)
    parser.add_argument("--slow-ns", type=int, default=1250)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--factors", default="1.10,1.15,1.20")
    parser.add_argument("--out", type=Path,
                        default=Path("results/gate-evidence") / time.strftime("%Y%m%dT%H%M%S"))
    parser.add_argument("--analyze", type=Path, metavar="DIR",
                        help="re-score the runs stored in DIR; measure nothing")
    args = parser.parse_args(argv)
    factors = [float(f) for f in args.factors.split(",")]
    out = args.analyze or measure(args, args.out)
    analyze(out, factors, args.alpha)
    print(f"\nruns stored in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

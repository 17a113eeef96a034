"""Run a scenario: expand it into points on this machine, run each feasible point in
fresh pinned worker processes, and store pyperf.json, points.csv and manifest.json.
Points the machine cannot run are recorded as skipped with the reason. Exit 0 when
every runnable point succeeded, 1 when some failed (their results are still stored),
2 for bad input."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import UsageError
from harness.execute.manifest import run_manifest
from harness.execute.plan import Plan, make_plan, needs_effective_llc, parse_memory_limit, parse_shard
from harness.execute.resume import resume_problems
from harness.execute.session import execute_plan, skipped_summary
from harness.limits.measure import effective_llc
from harness.limits.stored import doubtful_reasons_of
from harness.machine.detect import describe_machine
from harness.scenario.schema import load_scenario
from harness.store.results import default_result_dir, new_result_dir, utc_now
from harness.store.reader import read_manifest as load_manifest_checked, stored_plan


def add_arguments(parser) -> None:
    parser.add_argument("scenario", metavar="FILE", help="scenario YAML file")
    parser.add_argument("--quick", action="store_true",
                        help="apply the scenario's quick: block and cap warmups/batches/repeats")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="result directory (default results/<scenario>/<host>-<UTC time>)")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="memory budget per point, e.g. 12GiB or 60%% "
                             "(default 75%% of available memory)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (what would run, what is skipped) and exit")
    parser.add_argument("--resume", metavar="DIR", type=Path,
                        help="continue an interrupted run in DIR: run only what is not done")
    parser.add_argument("--limits", metavar="DIR", type=Path,
                        help="a `harness limits` result whose effective LLC resolves sizes "
                             "like '0.5x effective-LLC' (default: the newest one of this "
                             "machine under results/limits/, else measured first with --quick)")
    parser.add_argument("--shard", metavar="I/N",
                        help="run every N-th point starting at I (0-based), e.g. for a job "
                             "array; join the shards with `harness merge`")
    parser.add_argument("--counters", metavar="BACKENDS",
                        help="override the scenario's counters.backends: a comma-separated "
                             "list of perf, cachegrind, model; 'all' or 'none'")
    parser.add_argument("--use-doubtful-limits", action="store_true",
                        help="size 'effective-LLC' tables even from a limits result marked "
                             "doubtful (as tables.trust_doubtful_limits: true does)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse to start (exit 2) when the machine check before the "
                             "first point warns (busy pinned CPUs, load, governor)")


def _print_plan(plan: Plan, out=sys.stdout) -> None:
    for p in plan.points:
        state = "run " if p.status == "planned" else "skip"
        extra = f"  ({p.reason or p.note})" if p.reason or p.note else ""
        print(f"{state} {p.point_id}{extra}", file=out)


def _print_estimate(plan: Plan, counters, machine, out=sys.stdout) -> None:
    """The cost model's duration of the plan, by kernel, with its rates and their source:
    this machine's last stored run, else a calibration of a few seconds (not when
    HARNESS_CALIBRATION=off, as in the tests: nominal rates then)."""
    import os

    from harness.execute.calibrate import calibrate
    from harness.execute.estimate import Counting, estimate_plan, machine_rates

    torch = any(p.params.get("backend") == "torch" for p in plan.runnable)
    may = os.environ.get("HARNESS_CALIBRATION", "on") != "off"
    rates = machine_rates(machine.hostname, (lambda: calibrate(torch)) if may else None)
    estimate = estimate_plan(plan, rates, Counting.of(counters))
    print("\n".join(estimate.lines()), file=out)


def _resume_command(args, out: Path) -> str:
    parts = ["python -m harness run", str(args.scenario)]
    if args.quick:
        parts.append("--quick")
    if args.memory_limit:
        parts.append(f"--memory-limit {args.memory_limit}")
    if args.counters is not None:
        parts.append(f"--counters {args.counters}")
    return " ".join(parts + ["--resume", str(out)])


def _plan(args, loaded, machine) -> Plan:
    budget = (parse_memory_limit(args.memory_limit, machine.mem_available_bytes)
              if args.memory_limit else None)
    if args.limits and not needs_effective_llc(loaded):
        print(f"note: --limits {args.limits} is not used: no size of {loaded.path} is "
              f"written relative to the effective LLC", file=sys.stderr)
    effective, source = effective_llc(args.limits, loaded, machine,
                                      may_measure=not args.dry_run,
                                      trust_doubtful=args.use_doubtful_limits)
    plan = make_plan(loaded, machine, budget, effective)
    plan.effective_llc_source = source  # recorded in the manifest with the plan
    if args.shard:
        plan = plan.sharded(*parse_shard(args.shard))
    return plan


def _prepare_new(args, loaded, machine) -> tuple[Plan, Path, dict]:
    plan = _plan(args, loaded, machine)
    # A shard whose points are all skipped, of a sweep that has runnable points elsewhere,
    # is a result (its skipped points, exit 0), so that a job array's task does not fail.
    shard_of_a_sweep = args.shard and any(p.status == "planned" for p in plan.unsharded)
    if not plan.runnable and not shard_of_a_sweep:
        raise UsageError([f"{loaded.path}: no point of this scenario can run on this machine"
                          + (f" in shard {args.shard}" if args.shard else "") + ":"]
                         + skipped_summary(plan))
    out = args.out or default_result_dir(Path("results"), plan.scenario, machine.hostname)
    if args.shard and not args.out:
        out = out.with_name(out.name + f"-shard{plan.shard['index']}of{plan.shard['count']}")
    new_result_dir(out, f"choose another --out, or continue it with --resume {out}")
    manifest = run_manifest(args, loaded, machine, plan)
    manifest["effective"]["effective_llc_doubtful"] = doubtful_reasons_of(
        plan.effective_llc_source, machine)
    manifest["started"] = utc_now()
    return plan, out, manifest


def _prepare_resume(args, loaded, machine, backends=None) -> tuple[Plan, Path, dict]:
    out = Path(args.resume)
    if args.out or args.shard:
        raise UsageError("--resume DIR continues DIR as it was started: drop --out/--shard")
    stored = load_manifest_checked(out)
    problems = resume_problems(stored, loaded, machine, out, backends)
    if problems:
        raise UsageError(problems)
    stored.setdefault("resumed", []).append({"at": utc_now(), "command": sys.argv})
    return stored_plan(stored, out), out, stored


def _counter_config(args, loaded):
    """The scenario's counters: section, with --counters applied to its backends."""
    from harness.counters.config import parse_backends

    config = loaded.scenario.counters.model_copy(deep=True)
    if args.counters is not None:
        try:
            config.backends = parse_backends(args.counters)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return config


def run(args) -> int:
    loaded = load_scenario(args.scenario, quick=args.quick)
    counter_config = _counter_config(args, loaded)
    machine = describe_machine()
    if args.dry_run:
        plan = _plan(args, loaded, machine)
        _print_plan(plan)
        _print_estimate(plan, counter_config, machine)
        return 0
    from harness.machine.check import check_before_run, record_check

    check = check_before_run(loaded, machine, strict=args.strict)
    if args.resume:
        plan, out, manifest = _prepare_resume(args, loaded, machine,
                                              list(counter_config.backends or []))
    else:
        plan, out, manifest = _prepare_new(args, loaded, machine)
    record_check(manifest, check)
    return execute_plan(plan, out, manifest, resume=bool(args.resume),
                        resume_hint=_resume_command(args, out), machine=machine,
                        counters=counter_config)



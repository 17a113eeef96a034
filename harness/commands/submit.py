"""Run a scenario beyond one machine: write a Slurm job array of `harness run FILE
--shard I/N --out DIR/shard-I` and a merge job that depends on it (afterok), into
DIR/slurm/, and submit both with `sbatch --parsable`; `--print` prints them instead
and submits nothing. Options such as --partition/--time/--account become #SBATCH lines
(and --sbatch=OPT passes any other). Exit 2 for bad input, or when sbatch refuses."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from harness.errors import UsageError
from harness.execute.slurm import (MERGED_DIR, SCRIPT_DIR, SlurmJob, array_script,
                                   merge_script, shard_dir)
from harness.scenario.schema import load_scenario
from harness.store.results import default_result_dir

# Passed through to every job as `#SBATCH --name=value`.
SBATCH_OPTIONS = ("partition", "time", "account", "qos", "constraint", "mem",
                  "cpus-per-task", "nodelist", "exclude")


def add_arguments(parser) -> None:
    parser.add_argument("scenario", metavar="FILE", help="scenario YAML file")
    parser.add_argument("--slurm", action="store_true",
                        help="submit to Slurm through sbatch (the one scheduler supported)")
    parser.add_argument("--shards", metavar="N", type=int, required=True,
                        help="how many array tasks; task I runs `run --shard I/N`")
    parser.add_argument("--print", action="store_true", dest="print_only",
                        help="print the two scripts and submit nothing")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="where shards (DIR/shard-I), the merged result (DIR/merged), "
                             "scripts and logs (DIR/slurm) go (default "
                             "results/<scenario>/slurm-<UTC time>)")
    parser.add_argument("--quick", action="store_true", help="passed to `run`")
    parser.add_argument("--memory-limit", metavar="SIZE", help="passed to `run`")
    parser.add_argument("--limits", metavar="DIR", type=Path, help="passed to `run`")
    parser.add_argument("--counters", metavar="BACKENDS", help="passed to `run`")
    parser.add_argument("--strict", action="store_true",
                        help="passed to `run`: a shard whose node is busy refuses to start")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python the jobs run (default: this one, %(default)s)")
    parser.add_argument("--no-exclusive", action="store_true",
                        help="share nodes with other jobs (default: #SBATCH --exclusive, "
                             "since another job on the node spoils the numbers)")
    for name in SBATCH_OPTIONS:
        parser.add_argument(f"--{name}", metavar="VALUE", dest=f"sbatch_{name.replace('-', '_')}",
                            help=f"#SBATCH --{name}=VALUE on every job")
    parser.add_argument("--sbatch", metavar="OPT", action="append", default=[],
                        help="any other sbatch option for every job, e.g. --sbatch=--qos=high "
                             "(repeatable)")


def _no_space(what: str, text: str) -> str:
    # #SBATCH lines are not parsed by a shell: a space or newline would cut the value.
    if not text or re.search(r"\s", text):
        raise UsageError(f"{what}: expected a value without spaces, got {text!r}")
    return text


def _job(args) -> SlurmJob:
    if not args.slurm:
        raise UsageError("submit: name the scheduler: --slurm (the only one supported)")
    if args.shards < 1:
        raise UsageError(f"--shards: expected a whole number >= 1, got {args.shards}")
    loaded = load_scenario(args.scenario, quick=args.quick)  # bad scenarios stop here
    out = (args.out or default_result_dir(Path("results"), loaded.scenario.name,
                                          "slurm")).absolute()
    workdir = Path.cwd()
    _no_space("--out", str(out))
    _no_space("the working directory", str(workdir))
    run_options = (["--quick"] if args.quick else []) + (["--strict"] if args.strict else [])
    for flag, value in (("--memory-limit", args.memory_limit), ("--counters", args.counters),
                        ("--limits", args.limits and str(args.limits.absolute()))):
        if value is not None:
            run_options += [flag, str(value)]
    sbatch = [f"--{name}={_no_space('--' + name, value)}" for name in SBATCH_OPTIONS
              if (value := getattr(args, f"sbatch_{name.replace('-', '_')}")) is not None]
    for option in args.sbatch:
        if not option.startswith("-"):
            raise UsageError(f"--sbatch: expected an sbatch option like --qos=high, "
                             f"got {option!r}")
        sbatch.append(_no_space("--sbatch", option))
    return SlurmJob(scenario=Path(loaded.path).absolute(), out=out, shards=args.shards,
                    python=args.python, workdir=workdir, run_options=run_options,
                    sbatch_options=sbatch, exclusive=not args.no_exclusive,
                    name=f"harness-{re.sub(r'[^A-Za-z0-9_.-]', '_', loaded.scenario.name)}")


def _sbatch(sbatch: str, *args: str) -> str:
    """Submit with `sbatch --parsable ARGS`; the job id it prints ('123' or '123;cluster')."""
    proc = subprocess.run([sbatch, "--parsable", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise UsageError(f"sbatch {' '.join(args)} failed (exit {proc.returncode}): "
                         f"{(proc.stderr or proc.stdout).strip()}")
    job_id = proc.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise UsageError(f"sbatch {' '.join(args)}: expected a job id, got {proc.stdout!r}")
    return job_id


def run(args) -> int:
    job = _job(args)
    array, merge = array_script(job), merge_script(job)
    scripts = job.out / SCRIPT_DIR
    if args.print_only:
        print(f"# {scripts / 'array.sh'}\n{array}\n# {scripts / 'merge.sh'}\n{merge}\n"
              f"# submit: jid=$(sbatch --parsable {scripts / 'array.sh'}) && "
              f"sbatch --dependency=afterok:$jid {scripts / 'merge.sh'}")
        return 0
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise UsageError("sbatch: not found on PATH (is this a Slurm login node?); "
                         "`submit --print` shows the scripts")
    if job.out.exists() and any(job.out.iterdir()):
        raise UsageError(f"--out {job.out}: not empty; choose another directory")
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "array.sh").write_text(array)
    (scripts / "merge.sh").write_text(merge)
    array_id = _sbatch(sbatch, str(scripts / "array.sh"))
    try:
        merge_id = _sbatch(sbatch, f"--dependency=afterok:{array_id}", str(scripts / "merge.sh"))
    except UsageError as exc:
        raise UsageError(exc.problems + [f"the array job {array_id} is submitted; merge its "
                                         f"shards by hand: sbatch --dependency=afterok:"
                                         f"{array_id} {scripts / 'merge.sh'}"]) from None
    print(f"submitted job array {array_id} ({job.shards} shards into "
          f"{shard_dir(job, 'I')}) and merge job {merge_id} (after all succeed, into "
          f"{job.out / MERGED_DIR}); logs in {scripts}")
    return 0

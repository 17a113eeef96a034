"""Slurm batch scripts for a sharded sweep (pure: text in, text out; `harness submit`
writes and submits them).

A job array runs ``harness run FILE --shard I/N --out DIR/shard-I``, one task per
shard, and a merge job, submitted with ``--dependency=afterok:<array id>``, joins the
shards into DIR/merged. ``run`` exits 1 when some points failed but their results are
stored; the array task turns that into 0 so that the merge still runs (the failed points
are in the merged result, as failed). Any other failure (bad input, a task interrupted by
its time limit: 143) leaves the merge pending as Slurm does for ``afterok``: resume the
shard (`run --resume DIR/shard-I`), then merge by hand.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

SHARD_DIR = "shard-{index}"
MERGED_DIR = "merged"
SCRIPT_DIR = "slurm"


@dataclass
class SlurmJob:
    """What both scripts need: absolute paths, the run's options, #SBATCH options."""

    scenario: Path                 # absolute
    out: Path                      # absolute; shards go to out/shard-I, the merge to out/merged
    shards: int
    python: str
    workdir: Path                  # where the jobs run (the harness's repository)
    run_options: list[str] = field(default_factory=list)   # e.g. ["--quick"]
    sbatch_options: list[str] = field(default_factory=list)  # e.g. ["--partition=cpu"]
    exclusive: bool = True
    name: str = "harness"


def shard_dir(job: SlurmJob, index: int | str) -> Path:
    return job.out / SHARD_DIR.format(index=index)


def _header(job: SlurmJob, name: str, log: str, extra: list[str]) -> list[str]:
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}",
             f"#SBATCH --output={job.out / SCRIPT_DIR / log}",
             f"#SBATCH --chdir={job.workdir}"]
    lines += [f"#SBATCH {opt}" for opt in extra + job.sbatch_options]
    return lines + ["set -u"]


def array_script(job: SlurmJob) -> str:
    """One array task per shard: `harness run FILE --shard I/N --out DIR/shard-I`."""
    # Another job on the node would spoil the numbers (issue 15): whole nodes by default.
    extra = [f"--array=0-{job.shards - 1}"] + (["--exclusive"] if job.exclusive else [])
    task = "${SLURM_ARRAY_TASK_ID}"
    run = " ".join([shlex.quote(job.python), "-m harness run", shlex.quote(str(job.scenario)),
                    f'--shard "{task}/{job.shards}"',
                    f'--out {shlex.quote(str(job.out))}/"{SHARD_DIR.format(index=task)}"',
                    *map(shlex.quote, job.run_options)])
    lines = _header(job, job.name, "shard-%a.log", extra) + [
        run,
        "status=$?",
        "# 1: some points failed, their results (and the reasons) are stored: still merge",
        'if [ "$status" -eq 1 ]; then',
        '    echo "harness run: some points failed; their reasons are in the result" >&2',
        "    exit 0",
        "fi",
        'exit "$status"',
    ]
    return "\n".join(lines) + "\n"


def merge_command(job: SlurmJob) -> list[str]:
    return ([job.python, "-m", "harness", "merge"]
            + [str(shard_dir(job, i)) for i in range(job.shards)]
            + ["-o", str(job.out / MERGED_DIR)])


def merge_script(job: SlurmJob) -> str:
    """The merge job, run once every array task ended with status 0."""
    lines = _header(job, f"{job.name}-merge", "merge.log", []) + [
        "exec " + shlex.join(merge_command(job))]
    return "\n".join(lines) + "\n"

"""`harness submit --slurm`: the job array and merge scripts, submitted through a fake
`sbatch` on PATH that records its arguments and prints a job id."""

import json
import os
import subprocess

import pytest

from cli import assert_usage_error, run_harness

FAKE_SBATCH = """#!/bin/sh
# Records its arguments (one JSON list a line) and prints a job id, as sbatch --parsable.
python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" >> "{log}"
n=$(wc -l < "{log}")
{fail}
echo "$((1000 + n));cluster0"
"""


def _fake_sbatch(tmp_path, fail=""):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "sbatch.log"
    (bin_dir / "sbatch").write_text(FAKE_SBATCH.format(log=log, fail=fail))
    (bin_dir / "sbatch").chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, log


def _calls(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def scenario(repo):
    return repo / "scenarios/ci.yaml"


def test_submit_array_then_dependent_merge(tmp_path, scenario):
    env, log = _fake_sbatch(tmp_path)
    out = tmp_path / "sweep"
    proc = run_harness("submit", scenario, "--slurm", "--shards", "3", "--out", out,
                       "--partition", "cpu", "--time", "02:00:00", "--account", "perf",
                       "--sbatch=--qos=high", "--quick", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    array, merge = out / "slurm/array.sh", out / "slurm/merge.sh"
    assert _calls(log) == [["--parsable", str(array)],
                           ["--parsable", "--dependency=afterok:1001", str(merge)]]
    assert "job array 1001" in proc.stdout and "merge job 1002" in proc.stdout
    text = array.read_text()
    for line in ("#SBATCH --array=0-2", "#SBATCH --partition=cpu", "#SBATCH --time=02:00:00",
                 "#SBATCH --account=perf", "#SBATCH --qos=high", "#SBATCH --exclusive",
                 f"#SBATCH --output={out}/slurm/shard-%a.log"):
        assert line in text.splitlines(), (line, text)
    assert f'run {scenario} --shard "${{SLURM_ARRAY_TASK_ID}}/3" --out {out}/"shard-' in text
    assert text.rstrip().splitlines()[-1] == 'exit "$status"'
    merged = merge.read_text()
    assert f"merge {out}/shard-0 {out}/shard-1 {out}/shard-2 -o {out}/merged" in merged
    assert "--exclusive" not in merged and "#SBATCH --partition=cpu" in merged


@pytest.mark.parametrize("run_status,task_status", [(0, 0), (1, 0), (2, 2), (143, 143)])
def test_array_task_lets_failed_points_merge(tmp_path, scenario, run_status, task_status):
    """The array script run as Slurm would run task 1, with a fake Python that records
    its arguments: `run` exit 1 (some points failed, stored) still lets the merge run."""
    fake_python = tmp_path / "python"
    record = tmp_path / "argv"
    fake_python.write_text(f'#!/bin/sh\necho "$@" > {record}\nexit {run_status}\n')
    fake_python.chmod(0o755)
    out = tmp_path / "sweep"
    env, _ = _fake_sbatch(tmp_path)
    proc = run_harness("submit", scenario, "--slurm", "--shards", "2", "--out", out,
                       "--python", fake_python, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    task = subprocess.run(["bash", out / "slurm/array.sh"], capture_output=True, text=True,
                          env={**os.environ, "SLURM_ARRAY_TASK_ID": "1"})
    assert task.returncode == task_status, task.stderr
    assert record.read_text().split() == ["-m", "harness", "run", str(scenario), "--shard",
                                          "1/2", "--out", f"{out}/shard-1"]


def test_print_submits_nothing(tmp_path, scenario):
    env, log = _fake_sbatch(tmp_path)
    proc = run_harness("submit", scenario, "--slurm", "--shards", "2", "--print",
                       cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "#SBATCH --array=0-1" in proc.stdout and "sbatch --dependency=afterok:" in proc.stdout
    assert not log.exists() and not (tmp_path / "results").exists()


def test_bad_input_exits_2(tmp_path, scenario):
    assert_usage_error(run_harness("submit", scenario, "--shards", "2", "--print"), "--slurm")
    assert_usage_error(run_harness("submit", scenario, "--slurm", "--shards", "0", "--print"),
                       "--shards")
    assert_usage_error(run_harness("submit", scenario, "--slurm", "--shards", "2", "--print",
                                   "--time", "1 day"), "--time")
    assert_usage_error(run_harness("submit", scenario, "--slurm", "--shards", "2", "--print",
                                   "--sbatch", "qos"), "--sbatch")
    assert_usage_error(run_harness("submit", tmp_path / "missing.yaml", "--slurm", "--shards",
                                   "2", "--print"), "missing.yaml")
    no_sbatch = run_harness("submit", scenario, "--slurm", "--shards", "2", "--out",
                            tmp_path / "o", env={"PATH": str(tmp_path / "empty")})
    assert_usage_error(no_sbatch, "sbatch: not found on PATH")


def test_sbatch_refusal_is_reported(tmp_path, scenario):
    env, log = _fake_sbatch(tmp_path, fail='echo "sbatch: error: invalid partition" >&2; exit 1')
    proc = run_harness("submit", scenario, "--slurm", "--shards", "2", "--out",
                       tmp_path / "o", "--partition", "nope", env=env)
    assert_usage_error(proc, "invalid partition")
    taken = run_harness("submit", scenario, "--slurm", "--shards", "2", "--out",
                        tmp_path / "o", env=env)
    assert_usage_error(taken, "not empty")

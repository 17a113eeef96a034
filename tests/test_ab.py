"""A/B in one run: interleaving (fake launchers), the revision launcher, and the real
``harness ab`` in a throwaway git repository holding a copy of this project."""

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.execute.plan import make_plan
from harness.store.results import ResultStore
from harness.execute.runner import Side, WorkerLauncher, run_sides, side_order
from harness.scenario.schema import load_scenario
from synthetic_results import SCENARIO, outcome

from cli import harness_command


class RecordingLauncher:
    def __init__(self, name, log):
        self.name, self.log = name, log

    def run(self, point, repeat):
        self.log.append((self.name, point.point_id, repeat))
        return outcome(point, repeat, [1000] * 5)


def test_sides_alternate_point_by_point(tmp_path, zen3_vm):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    plan = make_plan(load_scenario(path), zen3_vm)
    log = []
    sides = tuple(Side(name, RecordingLauncher(name, log),
                       ResultStore(tmp_path / name, plan, {"machine": zen3_vm.to_dict()}))
                  for name in ("A", "B"))
    sides[1].store.record(plan.runnable[0], 0, outcome(plan.runnable[0], 0, [1] * 5))
    run_sides(plan, sides)
    n, repeats = len(plan.runnable), plan.runnable[0].repeats
    assert len(log) == 2 * n * repeats - 1  # B's recorded run is not redone
    # each point's two runs are back to back, first A then B, then B then A, ...
    pairs = [log[i:i + 2] for i in range(1, len(log), 2)]
    assert log[0] == ("A", plan.runnable[0].point_id, 0)
    for (first, second), (repeat, index) in zip(pairs, [(r, i) for r in range(repeats)
                                                        for i in range(n)][1:]):
        assert first[1:] == second[1:] == (plan.runnable[index].point_id, repeat)
        assert (first[0], second[0]) == (("A", "B") if side_order(repeat, index) == (0, 1)
                                         else ("B", "A"))
    assert [r for _, _, r in log] == sorted(r for _, _, r in log)  # repeat by repeat
    assert all(len(s.store.runs[p.point_id]) == repeats for s in sides for p in plan.runnable)


def test_launcher_runs_code_from_another_tree(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    (tree / "harness").mkdir(parents=True)
    (tree / "harness" / "__init__.py").write_text("")
    (tree / "harness" / "worker.py").write_text(
        "import json, sys\n"
        "if __name__ == '__main__':\n"
        "    open(sys.argv[3], 'w').write(json.dumps([__file__, sys.argv[1:]]))\n")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    launcher = WorkerLauncher(tmp_path, 2**25, code_dir=tree)
    assert Path(launcher.code_location()) == tree  # ahead of PYTHONPATH and cwd
    command = launcher.command(tmp_path / "spec.json", tmp_path / "out.json")
    subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)
    ran, argv = json.loads((tmp_path / "out.json").read_text())
    assert Path(ran) == tree / "harness" / "worker.py"
    assert argv == [str(tmp_path / "spec.json"), "--result", str(tmp_path / "out.json")]
    assert WorkerLauncher(tmp_path, 2**25).command(Path("s"), Path("r"))[1:3] == [
        "-m", "harness.worker"]


# -- the real command -----------------------------------------------------------------

AB_SCENARIO = """\
name: ab-test
threads: [1]
tables: {sizes: ["1000 rows"], dim: 8}
batch_sizes: [16]
kernels:
  - kernel: spin
    ns_per_lookup: [0, 100]
measure: {warmups: 1, batches: 5, repeats: %d, timeout_s: 120}
"""
MARKER = "    def bytes_per_lookup(self) -> int:"


def _git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), "-c", "user.email=t@example.com",
                           "-c", "user.name=t", *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def project(repo, tmp_path):
    """A git repository with this project's files, its HEAD a commit whose spin kernel
    fails on purpose, the working tree the intact one."""
    try:
        files = _git(repo, "ls-files", "-co", "--exclude-standard").split("\n")
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("the project is not a git checkout here")
    root = tmp_path / "project"
    for name in filter(None, files):
        if (repo / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, root / name)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "intact")
    spin = root / "kernels" / "spin.py"
    intact = spin.read_text()
    assert MARKER in intact
    spin.write_text(intact.replace(
        "        self.ns_per_lookup, self.dim = ns_per_lookup, dim",
        "        raise RuntimeError('the BASE revision ran')"))
    _git(root, "commit", "-qam", "broken spin")
    spin.write_text(intact)
    (tmp_path / "tmp").mkdir()
    (root / "s.yaml").write_text(AB_SCENARIO % 2)
    return root


def ab(project, tmp_path, *args, **popen):
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    env.pop("PYTHONPATH", None)
    cmd = harness_command("ab", *args)
    if popen:
        return subprocess.Popen(cmd, cwd=project, env=env, text=True, **popen)
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_ab_runs_the_base_revisions_code(project, tmp_path):
    out = tmp_path / "out"
    proc = ab(project, tmp_path, "--base", "HEAD", "s.yaml", "--out", out)
    # BASE (HEAD) is the broken commit, NEW the intact working tree: every BASE run
    # fails with the message only the committed code has, so nothing can be compared.
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.count("failed in BASE: ") == 2 and "the BASE revision ran" in proc.stdout
    assert "FAILED" in proc.stderr and "NEW " in proc.stderr
    report = json.loads((out / "compare.json").read_text())
    assert report["summary"]["incomparable"] == 2 and report["exit_status"] == 2
    assert (out / "compare.md").read_text().startswith("### Performance: NOTHING COMPARED")
    head = _git(project, "rev-parse", "HEAD").strip()
    for side, commit in (("base", head), ("new", head)):
        manifest = json.loads((out / side / "manifest.json").read_text())
        assert manifest["complete"] and manifest["ab"]["base_commit"] == head
        assert manifest["git"]["commit"] == commit
    assert json.loads((out / "new" / "manifest.json").read_text())["git"]["dirty"] is True
    with open(out / "new" / "points.csv", newline="") as f:
        assert [row["status"] for row in csv.DictReader(f)] == ["ok", "ok"]
    # the temporary worktree is gone, from disk and from git's records
    assert _git(project, "worktree", "list").count("\n") == 1
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.slow
def test_ab_missing_base(project, tmp_path):
    proc = ab(project, tmp_path, "--base", "no-such-rev", "s.yaml")
    assert proc.returncode == 2 and "'no-such-rev' is not a commit" in proc.stderr
    proc = ab(project, tmp_path, "--base", "no-such-rev", "s.yaml", "--missing-base", "skip")
    assert proc.returncode == 0 and "SKIPPED, nothing compared" in proc.stderr
    # options are checked before anything is measured (no worker runs, no result dir)
    out = tmp_path / "bad-metric"
    proc = ab(project, tmp_path, "--base", "HEAD", "s.yaml", "--metric", "nosuch", "--out", out)
    assert proc.returncode == 2 and "--metric nosuch: not a built-in metric" in proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_ab_interrupted_cleans_up_and_resumes(project, tmp_path):
    (project / "s.yaml").write_text(AB_SCENARIO % 4)
    out = tmp_path / "out"
    proc = ab(project, tmp_path, "--base", "HEAD~1", "s.yaml", "--out", out,
              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/raw/*/r0.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err  # as `run` exits on SIGTERM
    assert "interrupted by SIGTERM" in err and "Traceback" not in err
    assert f"resume with: python -m harness ab --base HEAD~1 s.yaml --resume {out}" in err
    assert _git(project, "worktree", "list").count("\n") == 1
    assert list((tmp_path / "tmp").iterdir()) == []
    kept = {p: p.read_text() for p in out.glob("*/raw/*/r*.json")}
    assert kept and len(kept) < 16
    for side in ("base", "new"):
        manifest = json.loads((out / side / "manifest.json").read_text())
        assert manifest["state"] == "interrupted"
    # a new run into it is refused; --resume runs the rest and compares
    again = ab(project, tmp_path, "--base", "HEAD~1", "s.yaml", "--out", out)
    assert again.returncode == 2 and "already holds results" in again.stderr
    # (a factor no drift on a shared machine reaches, and 5-batch runs judged even when
    # their spread flags them: this checks resuming, not the code)
    again = ab(project, tmp_path, "--base", "HEAD~1", "s.yaml", "--resume", out,
               "--factor", "10", "--include-noisy")
    assert again.returncode == 0, again.stderr
    assert f"{len(kept)} already done" in again.stderr
    assert all(p.read_text() == text for p, text in kept.items())  # not measured again
    assert len(list(out.glob("*/raw/*/r*.json"))) == 16
    report = json.loads((out / "compare.json").read_text())
    assert report["exit_status"] == 0
    for side in ("base", "new"):
        manifest = json.loads((out / side / "manifest.json").read_text())
        assert manifest["complete"] and manifest["resumed"]
    assert _git(project, "worktree", "list").count("\n") == 1
    assert list((tmp_path / "tmp").iterdir()) == []


def test_gate_scenario_plans_on_a_2_cpu_vm(repo, zen3_vm):
    plan = make_plan(load_scenario(repo / "scenarios" / "gate.yaml"), zen3_vm)
    assert [(p.kernel, p.params["backend"]) for p in plan.runnable] == [
        ("baseline", "torch"), ("memrec", "fused"), ("memrec", "torch")]
    assert all(p.repeats >= 8 and p.batches >= 200 for p in plan.runnable)  # see README
    assert "--base HEAD~1 scenarios/gate.yaml" in (repo / ".ci" / "run").read_text()

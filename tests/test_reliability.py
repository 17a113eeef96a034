"""Interruption, resume, worker faults, locks, shards and merges, damaged result files."""

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyperf
import pytest

from harness.machine.cgroup import parse_keyed, parse_proc_cgroup
from harness.errors import UsageError
from harness.store.lock import DirectoryLock
from harness.store.reader import read_result
from harness.execute.signals import Interrupted, SignalGuard

# numpy-backend kernels: workers start in ~0.3 s (no torch import).
SCENARIO = """\
name: reliability
threads: [1]
tables: {sizes: ["0.25x LLC"], dim: 16}
batch_sizes: [16, 32, 64, 128]
kernels:
  - {kernel: baseline, backend: numpy}
  - {kernel: memrec, token_rows: 1000, k: 2, weight_rows: 100, k_weight: 1, backend: numpy}
measure: {warmups: 1, batches: %d, repeats: 1, timeout_s: 120}
"""


def harness_cmd(*args):
    return [sys.executable, "-m", "harness", *map(str, args)]


def write_scenario(tmp_path, batches=5, name="s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(SCENARIO % batches)
    return path


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def raw_runs(out: Path) -> list[Path]:
    return sorted(out.glob("raw/*/r*.json"))


def workers_of(out: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "harness.worker" in cmd and str(out) in cmd:
                pids.append(int(proc.name))
    return pids


def default_signals() -> None:
    """preexec_fn: the child starts with the default stop signals, whatever this test
    run inherited (a background job ignores SIGINT, nohup SIGHUP)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def check_valid_files(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    list(csv.DictReader(open(out / "points.csv")))
    if json.loads((out / "pyperf.json").read_text())["benchmarks"]:
        pyperf.BenchmarkSuite.load(str(out / "pyperf.json"))
    return manifest


@pytest.mark.slow
@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                        (signal.SIGHUP, 129)])
def test_interrupt_keeps_finished_points_and_resume_completes(tmp_path, sig, status):
    scenario, out = write_scenario(tmp_path, batches=400), tmp_path / "out"
    proc = subprocess.Popen(harness_cmd("run", scenario, "--out", out),
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    assert wait_for(lambda: len(raw_runs(out)) >= 2 and workers_of(out))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "resume with:" in err and f"--resume {out}" in err
    assert not workers_of(out), "a worker outlived the interrupted run"
    manifest = check_valid_files(out)
    assert manifest["state"] == "interrupted" and not manifest["complete"]
    done_before = {p: p.read_text() for p in raw_runs(out)}
    assert 2 <= len(done_before) < 8

    again = subprocess.run(harness_cmd("run", scenario, "--resume", out),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(done_before)} already done" in again.stderr
    manifest = check_valid_files(out)
    assert manifest["complete"] and manifest["resumed"]
    assert len(raw_runs(out)) == 8
    assert all(p.read_text() == text for p, text in done_before.items())  # not rerun
    rows = list(csv.DictReader(open(out / "points.csv")))
    assert [r["status"] for r in rows] == ["ok"] * 8


def argv0_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return ""


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["worker", "perf"])
def test_killed_worker_is_a_failed_point_and_the_run_goes_on(tmp_path, victim):
    """SIGKILL to the worker (inside perf stat where perf counts) or to perf itself."""
    scenario, out = write_scenario(tmp_path, batches=20000), tmp_path / "out"
    scenario.write_text(scenario.read_text().replace("batch_sizes: [16, 32, 64, 128]",
                                                     "batch_sizes: [16, 32]"))
    proc = subprocess.Popen(harness_cmd("run", scenario, "--out", out),
                            stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: workers_of(out))
    time.sleep(0.5)
    pids = workers_of(out)
    perfs = [pid for pid in pids if Path(argv0_of(pid)).name == "perf"]
    if victim == "perf" and not perfs:
        proc.kill()
        proc.wait()
        pytest.skip("perf does not wrap the workers here")
    target = perfs[0] if victim == "perf" else next(p for p in pids if p not in perfs)
    os.kill(target, signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    rows = list(csv.DictReader(open(out / "points.csv")))
    if victim == "perf":  # perf wraps a point's counting run only: its timing stands
        assert proc.returncode == 0, err
        regions = [(json.loads(r.read_text())["counters"] or {}).get("region") or {}
                   for r in raw_runs(out)]
        assert any("killed by SIGKILL" in (g.get("error") or "") for g in regions)
        assert [r["status"] for r in rows] == ["ok"] * 4
        return
    assert proc.returncode == 1, err
    # The baseline's two batch sizes share the killed worker (one per table): the point
    # it was measuring (and any not yet started) fail, one it had finished is kept; the
    # next table's worker runs.
    baseline = [r for r in rows if r["kernel"] == "baseline"]
    killed = [r for r in baseline if r["status"] == "failed"]
    assert killed and all(r["reason"].startswith("1 of 1 runs failed: worker killed by "
                                                 "SIGKILL") for r in killed)
    assert all(r["status"] == "ok" for r in baseline if r not in killed)
    assert [r["status"] for r in rows if r["kernel"] != "baseline"] == ["ok"] * 2
    assert check_valid_files(out)["complete"]


def test_lock_refuses_a_second_writer(tmp_path):
    with DirectoryLock(tmp_path):
        with pytest.raises(UsageError, match=f"another run \\(pid {os.getpid()}\\)"):
            with DirectoryLock(tmp_path):
                pass
    with DirectoryLock(tmp_path):  # released when the holder is done
        pass


@pytest.mark.slow
def test_resume_refuses_other_scenario_and_locked_dir(tmp_path):
    scenario, out = write_scenario(tmp_path), tmp_path / "out"
    subprocess.run(harness_cmd("run", scenario, "--out", out), check=True, capture_output=True)
    other = write_scenario(tmp_path, batches=7, name="other.yaml")
    proc = subprocess.run(harness_cmd("run", other, "--resume", out), capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "scenario differs" in proc.stderr and "measure" in proc.stderr
    with DirectoryLock(out):
        proc = subprocess.run(harness_cmd("run", scenario, "--resume", out),
                              capture_output=True, text=True)
    assert proc.returncode == 2 and "another run" in proc.stderr
    proc = subprocess.run(harness_cmd("run", scenario, "--resume", out), capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "nothing left to run" in proc.stderr
    proc = subprocess.run(harness_cmd("run", scenario, "--resume", tmp_path / "nowhere"),
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "missing" in proc.stderr


@pytest.mark.slow
def test_shards_merge_and_machines_are_kept_apart(tmp_path):
    scenario = write_scenario(tmp_path)
    for i in range(3):
        subprocess.run(harness_cmd("run", scenario, "--shard", f"{i}/3", "--out",
                                   tmp_path / f"s{i}"), check=True, capture_output=True)
    sizes = [len(json.loads((tmp_path / f"s{i}/manifest.json").read_text())["plan"])
             for i in range(3)]
    assert sizes == [3, 3, 2]
    proc = subprocess.run(harness_cmd("merge", *(tmp_path / f"s{i}" for i in range(3)),
                                      "-o", tmp_path / "all"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    merged = read_result(tmp_path / "all")
    assert merged.complete and len(merged.rows) == 8
    assert [r["status"] for r in merged.rows] == ["ok"] * 8
    assert len(merged.samples_ns) == 8

    partial = subprocess.run(harness_cmd("merge", tmp_path / "s0", "-o", tmp_path / "part"),
                             capture_output=True, text=True)
    assert partial.returncode == 0 and "recorded as pending" in partial.stderr
    assert not read_result(tmp_path / "part").complete

    m = json.loads((tmp_path / "s2/manifest.json").read_text())
    m["machine"]["model_name"], m["machine"]["hostname"] = "Other CPU", "otherhost"
    (tmp_path / "s2/manifest.json").write_text(json.dumps(m))
    refused = subprocess.run(harness_cmd("merge", *(tmp_path / f"s{i}" for i in range(3)),
                                         "-o", tmp_path / "mixed"), capture_output=True, text=True)
    assert refused.returncode == 2 and "2 different machines" in refused.stderr
    apart = subprocess.run(harness_cmd("merge", *(tmp_path / f"s{i}" for i in range(3)),
                                       "-o", tmp_path / "hosts", "--keep-hosts-apart"),
                           capture_output=True, text=True)
    assert apart.returncode == 0, apart.stderr
    assert (tmp_path / "hosts/otherhost/points.csv").exists()


@pytest.mark.slow
def test_huge_table_is_skipped_with_both_numbers(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text((SCENARIO % 5).replace('["0.25x LLC"]', '["4096x LLC"]')
                    .replace("  - {kernel: memrec", "  #"))
    proc = subprocess.run(harness_cmd("run", path, "--out", tmp_path / "o"),
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "no point of this scenario can run" in proc.stderr
    assert "over the budget of" in proc.stderr and "of tables" in proc.stderr
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_unwritable_out_is_a_clear_error(tmp_path):
    scenario = write_scenario(tmp_path)
    (tmp_path / "file").write_text("x")
    proc = subprocess.run(harness_cmd("run", scenario, "--out", tmp_path / "file/sub"),
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "cannot create the result directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_full_disk_keeps_earlier_files(tmp_path, repo, zen3_vm, monkeypatch):
    from harness.store import results
    from harness.execute.plan import make_plan
    from harness.scenario.schema import load_scenario

    plan = make_plan(load_scenario(repo / "scenarios/ci.yaml"), zen3_vm)
    store = results.ResultStore(tmp_path, plan, {"machine": zen3_vm.to_dict()})
    store.write("running")
    before = (tmp_path / "points.csv").read_text()

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results, "atomic_write_text", full)
    with pytest.raises(results.ResultWriteError, match="No space left.*intact"):
        store.write("interrupted")  # an end write is never skipped as a checkpoint is
    assert (tmp_path / "points.csv").read_text() == before


V1 = Path(__file__).parent / "fixtures" / "results" / "v1-ci"


@pytest.mark.parametrize("content,needle", [
    (None, "missing"),
    ("{\"format_version\": 1, \"scen", "not valid JSON \\(truncated\\?\\)"),
    ("[1, 2]", "expected a JSON object"),
    ("{\"hello\": 1}", "not a harness result manifest"),
    ("{\"format_version\": 99}", "newer than this harness reads"),
    ("{\"format_version\": 0}", "too old"),
    ("{\"format_version\": 1}", "missing scenario"),
])
def test_damaged_manifest(tmp_path, content, needle):
    if content is not None:
        (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(UsageError, match=needle):
        read_result(tmp_path)


def test_damaged_points_csv(tmp_path):
    (tmp_path / "manifest.json").write_bytes((V1 / "manifest.json").read_bytes())
    (tmp_path / "points.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="not a harness points.csv: missing columns"):
        read_result(tmp_path)
    lines = (V1 / "points.csv").read_text().splitlines()
    (tmp_path / "points.csv").write_text("\n".join([lines[0], lines[1][:60]]) + "\n")
    with pytest.raises(UsageError, match="line 2: .* fields where the header has"):
        read_result(tmp_path)
    (tmp_path / "points.csv").write_text("\n".join(lines[:2]).replace(",ok,", ",fine,"))
    with pytest.raises(UsageError, match="line 2: status 'fine'"):
        read_result(tmp_path)
    (tmp_path / "points.csv").write_text("\n".join(lines) + "\n")
    assert read_result(tmp_path).rows[0]["point_id"] == lines[1].split(",")[0]
    (tmp_path / "pyperf.json").write_text('{"benchmarks": [{"x": 1}]}')
    with pytest.raises(UsageError, match="pyperf cannot read it"):
        read_result(tmp_path).samples_ns


def test_signal_guard_defers_inside_critical():
    # Compare with the handlers in place before, not the defaults: under nohup or from a
    # background job SIGINT/SIGHUP start ignored, and the guard must put that back.
    before = {s: signal.getsignal(s) for s in SignalGuard.SIGNALS}
    guard = SignalGuard()
    with guard.installed():
        with pytest.raises(Interrupted) as info:
            with guard.critical():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                reached = True  # the signal did not cut the critical section short
        assert reached and info.value.exit_status == 143
        with pytest.raises(Interrupted):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert {s: signal.getsignal(s) for s in SignalGuard.SIGNALS} == before


@pytest.mark.parametrize("start", [signal.SIG_IGN, signal.SIG_DFL])
def test_signal_guard_restores_what_it_found(start):
    """A suite started under nohup or with ``&`` finds SIGINT/SIGHUP ignored; the guard
    catches them while installed and leaves them as it found them, whatever that was."""
    saved = {s: signal.getsignal(s) for s in SignalGuard.SIGNALS}
    try:
        for s in SignalGuard.SIGNALS:
            signal.signal(s, start)
        guard = SignalGuard()
        with guard.installed():  # (whether an ignored SIGHUP stays ignored is not asked)
            assert all(signal.getsignal(s) == guard._handler
                       for s in (signal.SIGINT, signal.SIGTERM))
        assert all(signal.getsignal(s) == start for s in SignalGuard.SIGNALS)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def test_memory_refusal_uses_memory_now(repo, zen3_vm):
    from harness.execute.plan import make_plan, memory_refusal
    from harness.scenario.schema import load_scenario

    plan = make_plan(load_scenario(repo / "scenarios/ci.yaml"), zen3_vm)
    point = plan.runnable[0]
    assert memory_refusal(point, plan, 64 * 2**30) is None
    reason = memory_refusal(point, plan, 100 * 2**20)
    assert "over the budget of 75 MiB" in reason and "available when it was due" in reason
    plan.memory_budget_source = "--memory-limit"
    assert memory_refusal(point, plan, 100 * 2**20) is None


def test_cgroup_parsers():
    assert parse_proc_cgroup("0::/user.slice\n") == ("/user.slice", None)
    assert parse_proc_cgroup("4:memory:/docker/abc\n0::/\n") == ("/", "/docker/abc")
    assert parse_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")["oom_kill"] == 3


# -- a new result only into an empty directory, checked again under the lock (issue 18) --

def test_claim_result_dir_refuses_what_is_in_the_way(tmp_path):
    from harness.store.resultdir import claim_result_dir

    assert claim_result_dir(tmp_path / "new" / "deeper", "hint").is_dir()  # created
    leftovers = tmp_path / "leftovers"  # what a run stopped before its first write leaves
    (leftovers / ".work").mkdir(parents=True)
    (leftovers / "raw").mkdir()
    (leftovers / ".lock").write_text("123\n")
    claim_result_dir(leftovers, "hint")
    mine = tmp_path / "mine"
    (mine / ".work").mkdir(parents=True)
    (mine / ".work" / "notes.txt").write_text("keep me")
    (mine / "points.csv").write_text("my own table")
    with pytest.raises(UsageError, match=r"not empty and not a result of this harness.*"
                                         r"\(\.work/, points\.csv\)"):
        claim_result_dir(mine, "hint")
    (mine / "file").write_text("")
    with pytest.raises(UsageError, match="exists and is not a directory"):
        claim_result_dir(mine / "file", "hint")
    ab = tmp_path / "ab"
    claim_result_dir(ab, "hint", "base", "new")
    (ab / "new" / "manifest.json").write_text("{}")
    with pytest.raises(UsageError, match="already holds results; hint"):
        claim_result_dir(ab, "hint", "base", "new")


def test_result_written_meanwhile_is_refused_once_locked(tmp_path, repo, zen3_vm):
    """Two runs into one directory: the second claims it before the first has locked it
    and written; once the lock is its, it must find the first one's result and stop."""
    from harness.execute.plan import make_plan
    from harness.execute.session import execute_plan
    from harness.scenario.schema import load_scenario
    from harness.store.resultdir import claim_result_dir

    out = claim_result_dir(tmp_path / "out", "hint")
    (out / "manifest.json").write_text('{"written by": "the first run"}')
    (out / "raw").mkdir()
    (out / "raw" / "r0.json").write_text("{}")
    plan = make_plan(load_scenario(repo / "scenarios" / "ci.yaml"), zen3_vm)
    with pytest.raises(UsageError, match="already holds results"):
        execute_plan(plan, out, {"machine": zen3_vm.to_dict()}, resume=False,
                     resume_hint="-")
    assert (out / "manifest.json").read_text() == '{"written by": "the first run"}'
    assert sorted(p.name for p in out.iterdir()) == [".lock", "manifest.json", "raw"]


# -- a signal at any moment: 128+signal and one line, never a traceback (issue 18.8) -----

def _stop_when_imported(module: str, sig: int, args: list[str]) -> tuple[int, list[str]]:
    """Start the CLI, send ``sig`` as soon as it has imported ``module`` (python's
    -X importtime says so on stderr), return its exit status and its other stderr lines."""
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "harness", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signals)
    lines, sent = [], False
    for line in proc.stderr:
        lines.append(line)
        if not sent and line.startswith("import time:") and \
                line.rsplit("|", 1)[-1].strip() == module:
            proc.send_signal(sig)
            sent = True
    status = proc.wait(timeout=120)
    assert sent, f"{module} was never imported: {''.join(lines)[-2000:]}"
    return status, [ln.rstrip("\n") for ln in lines if not ln.startswith("import time:")]


@pytest.mark.parametrize("module,sig,status", [
    ("harness.errors", signal.SIGINT, 130),          # while __main__ itself is loading
    ("harness.execute.plan", signal.SIGINT, 130),    # while the commands are imported
    ("harness.accuracy.session", signal.SIGTERM, 143),  # imported in the command itself
])
def test_early_signal_exits_with_one_line(repo, module, sig, status):
    scenario = str(repo / "scenarios" / "ci.yaml")
    returncode, messages = _stop_when_imported(module, sig, ["validate"] + [scenario] * 100)
    assert returncode == status, messages
    assert messages == [f"interrupted by {signal.Signals(sig).name}"]


def test_hangup_ignored_by_nohup_stays_ignored():
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        guard = SignalGuard()
        with guard.installed():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) == guard._handler
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        with guard.installed():
            assert signal.getsignal(signal.SIGHUP) == guard._handler
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, before)

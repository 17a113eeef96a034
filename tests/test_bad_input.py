"""Bad input found by fuzzing the CLI: a one-line message and exit 2, never a traceback,
and never a result file overwritten (each case was a traceback or an overwrite once)."""

import json
import shutil
import subprocess
import sys

import pytest

from harness.errors import UsageError
from harness.fileio import refuse_result_file
from harness.results import ResultStore


def harness(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def assert_clear_error(proc, words):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and words in proc.stderr


def test_output_options_never_overwrite_results(tmp_path):
    result = tmp_path / "r"
    result.mkdir()
    (result / "manifest.json").write_text("{}")
    for name in ("manifest.json", "points.csv", "pyperf.json"):
        with pytest.raises(UsageError, match="result file"):
            refuse_result_file(result / name)
    refuse_result_file(result / "compare.md")  # beside results is fine
    refuse_result_file(tmp_path / "points.csv")  # no result directory there


@pytest.mark.parametrize("args, words", [
    (["collisions", "--vocab", "100", "-d", "100", "-k", "1000"], "at most 32"),
    (["collisions", "--vocab", str(10**12), "-d", "100"], "GiB are available"),
    (["limits", "--sizes", "1e400"], "between 2**-20 and 2**20"),
    (["footprint", "scenarios/criteo_tb.yaml", "--llc", "1x LLC"], "not a cache size"),
    (["run", "scenarios/ci.yaml", "--memory-limit", "1x LLC"], "not an amount of memory"),
])
def test_absurd_numbers_are_refused(repo, args, words):
    assert_clear_error(harness(*args, cwd=repo), words)


def test_scenario_bounds_and_trace_ids(repo, tmp_path):
    base = (repo / "scenarios/ci.yaml").read_text()
    for edit, words in ((("tables:", "tables:\n  features: 1180591620717411303424"),
                         "features"),
                        (("cores: auto", "cores: '0-300000000'"), "beyond Linux's limit")):
        path = tmp_path / "s.yaml"
        path.write_text(base.replace(*edit, 1))
        assert_clear_error(harness("validate", path), words)
    trace = tmp_path / "t.txt"
    trace.write_text("1\n99999999999999999999999\n")
    path = tmp_path / "trace.yaml"
    path.write_text(f"name: t\nthreads: [1]\ntables: {{sizes: [1MiB], dim: 16}}\n"
                    f"batch_sizes: [8]\nkernels: [{{kernel: baseline, backend: numpy}}]\n"
                    f"indices: {{distribution: trace, path: {trace}}}\n")
    assert_clear_error(harness("validate", path), "does not fit in int64")


def test_a_broken_run_record_stops_a_resume_with_a_clear_message(repo, zen3_vm, tmp_path):
    from harness.plan import make_plan
    from harness.scenario import load_scenario

    plan = make_plan(load_scenario(repo / "scenarios/ci.yaml"), zen3_vm)
    point = plan.runnable[0]
    raw = tmp_path / "out/raw" / point.point_id
    raw.mkdir(parents=True)
    for content in ('{"status": "ok"}', "[1]", b"\x89PNG\xff\xfe"):
        path = raw / "r0.json"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        store = ResultStore(tmp_path / "out", plan, {"machine": zen3_vm.to_dict()})
        with pytest.raises(UsageError, match="r0.json"):
            store.load_recorded()


def test_manifests_of_the_wrong_shape(tmp_path):
    from harness.resultset import load_manifest_checked

    for broken in ({"machine": "x"}, {"plan": None}, {"scenario": "x"}, {"plan": [1]}):
        manifest = {"format_version": 1, "scenario": {}, "machine": {}, "plan": []} | broken
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(UsageError, match="wrong shape"):
            load_manifest_checked(tmp_path)


def test_validate_without_a_measured_effective_llc_is_not_an_error(tmp_path):
    scenario = tmp_path / "e.yaml"
    scenario.write_text("name: e\nthreads: [1]\ntables: {sizes: ['0.5x effective-LLC'], dim: 16}\n"
                        "batch_sizes: [8]\nkernels: [{kernel: baseline, backend: numpy}]\n")
    proc = harness("validate", scenario, cwd=tmp_path)
    assert proc.returncode == 0 and "points not expanded" in proc.stdout, proc.stderr


def test_compare_refuses_a_result_file_before_printing_anything(zen3_vm, tmp_path, capsys):
    from harness.__main__ import main
    from synthetic_results import write_result_dir

    write_result_dir(tmp_path / "a", zen3_vm)
    write_result_dir(tmp_path / "b", zen3_vm, seed=1)
    before = (tmp_path / "b/manifest.json").read_text()
    code = main(["compare", str(tmp_path / "a"), str(tmp_path / "b"),
                 "--markdown", str(tmp_path / "b/manifest.json")])
    out, err = capsys.readouterr()
    assert code == 2 and "result file" in err and out == ""
    assert (tmp_path / "b/manifest.json").read_text() == before

"""Bad input found by fuzzing the CLI: a one-line message and exit 2, never a traceback,
and never a result file overwritten (each case was a traceback or an overwrite once)."""

import json

import pytest

from harness.errors import UsageError
from harness.store.fileio import refuse_result_file
from harness.store.results import ResultStore

from cli import assert_usage_error as assert_clear_error
from cli import run_harness as harness


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
    (["limits", "--quick", "--memory-limit", "1B"], "leaves no limits point measurable"),
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
    from harness.execute.plan import make_plan
    from harness.scenario.schema import load_scenario

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


def test_manifests_of_the_wrong_shape(tmp_path, zen3_vm):
    from harness.store.reader import read_manifest

    for broken in ({"machine": "x"}, {"plan": None}, {"scenario": "x"}, {"plan": [1]}):
        manifest = {"format_version": 1, "scenario": {"name": "s"},
                    "machine": zen3_vm.to_dict(), "plan": []} | broken
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(UsageError, match="wrong shape"):
            read_manifest(tmp_path)


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


def test_merge_refuses_shards_of_differently_resolved_sweeps(tmp_path):
    """Review finding: nodes that resolve a scenario to other points (scale_to_fit by
    free memory, 'all' threads) gave shards whose merge silently dropped measurements."""
    from harness.commands.merge import _check_same_points

    def shard(index, ids):
        return (tmp_path / f"s{index}", {"plan": [{"point_id": ids[index]}], "plan_meta": {
            "shard": {"index": index, "count": 2},
            "unsharded": [{"point_id": i} for i in ids]}})

    _check_same_points([shard(0, ["a", "b"]), shard(1, ["a", "b"])])
    with pytest.raises(UsageError, match="other points"):
        _check_same_points([shard(0, ["a.rows100", "b"]), shard(1, ["a.rows90", "b"])])


def test_cgroup_limits_set_on_a_parent_or_seen_from_inside_a_container(tmp_path):
    """Review finding: only the leaf cgroup's own limit was read, so a job step under a
    limited job, or a container whose cgroup is its mount's root, looked unlimited."""
    from harness.machine.cgroup import read_cgroup_memory

    def tree(name, proc_cgroup, files):
        root = tmp_path / name
        (root / "proc/self").mkdir(parents=True)
        (root / "proc/self/cgroup").write_text(proc_cgroup)
        for rel, text in files.items():
            path = root / "sys/fs/cgroup" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return read_cgroup_memory(root / "sys", root / "proc").limit_bytes

    gib = 2**30
    assert tree("v2-parent", "0::/job_1/step_0\n", {
        "job_1/memory.max": str(4 * gib), "job_1/step_0/memory.max": "max",
        "job_1/step_0/memory.current": "1"}) == 4 * gib
    assert tree("v1-docker", "4:memory:/docker/abc\n", {
        "memory/memory.limit_in_bytes": str(2 * gib)}) == 2 * gib
    assert tree("v1-hier", "4:memory:/a/b\n", {
        "memory/a/b/memory.limit_in_bytes": str(1 << 62),
        "memory/a/b/memory.stat": f"cache 0\nhierarchical_memory_limit {3 * gib}\n"}) == 3 * gib


def test_layout_is_part_of_a_points_identity(zen3_vm, tmp_path):
    from harness.execute.plan import make_plan
    from harness.scenario.schema import load_scenario

    ids = []
    for layout in ("per-feature", "shared"):
        path = tmp_path / f"{layout}.yaml"
        path.write_text("name: l\nthreads: [1]\ntables: {cardinalities: [1000, 3000], dim: 16, "
                        f"layout: {layout}}}\nbatch_sizes: [8]\n"
                        "kernels: [{kernel: baseline, backend: numpy}]\n")
        ids.append(make_plan(load_scenario(path), zen3_vm).points[0].identity())
    assert ids[0] != ids[1]  # compare must not pair them

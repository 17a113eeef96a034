import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.errors import UsageError
from harness.scenario.schema import load_scenario

from cli import assert_usage_error, run_harness

MINIMAL = """\
name: t
threads: [1]
tables:
  sizes: ["0.25x LLC"]
batch_sizes: [16]
kernels:
  - kernel: baseline
"""


def write(tmp_path, text, name="s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path, text) -> list[str]:
    with pytest.raises(UsageError) as info:
        load_scenario(write(tmp_path, text))
    return info.value.problems


@pytest.mark.parametrize("name", ["ci", "skylake", "zen3-vm", "criteo_tb"])
def test_shipped_scenarios_validate(repo, name):
    for quick in (False, True):
        loaded = load_scenario(repo / "scenarios" / f"{name}.yaml", quick=quick)
        assert loaded.scenario.name == name


def test_minimal_defaults(tmp_path):
    sc = load_scenario(write(tmp_path, MINIMAL)).scenario
    assert sc.pinning.cores == "auto" and sc.pinning.smt is False
    assert sc.tables.dim == 128 and sc.pooling == [1]
    assert sc.indices.distribution == "uniform"
    assert sc.measure.repeats == 3


def test_smt_accepts_yaml_off(tmp_path):
    sc = load_scenario(write(tmp_path, MINIMAL + "pinning:\n  smt: on\n")).scenario
    assert sc.pinning.smt is True


@pytest.mark.parametrize("patch,line,path,needle", [
    ("threads: [1, -2]", 2, "threads[1]", "positive number of threads or 'all'"),
    ("threads: [1]\nthreads: [2]", 3, "threads", "duplicate key (first at line 2)"),
    ("threds: [1]", 2, "threds", "did you mean 'threads'"),
])
def test_errors_name_line_and_path(tmp_path, patch, line, path, needle):
    text = MINIMAL.replace("threads: [1]", patch)
    found = problems(tmp_path, text)
    assert any(f"s.yaml:{line}: {path}: " in p and needle in p for p in found), found


def test_many_problems_reported_at_once(tmp_path):
    found = problems(tmp_path, """\
        name: bad
        threads: [1]
        pinning: {cores: "0-", smt: maybe}
        tables: {sizes: ["4x LCC"], dim: 0}
        batch_sizes: []
        kernels:
          - kernel: memrek
          - {kernel: memrec, token_rows: "0x LLC", k: 0, weight_rows: 10, kk: 1}
        measure: {repeats: 0}
        """)
    text = "\n".join(found)
    for needle in ["pinning.cores", "pinning.smt", "tables.sizes[0]", "'4x LCC'", "tables.dim",
                   "batch_sizes", "unknown kernel 'memrek' (did you mean 'memrec'?)",
                   "kernels[1].token_rows", "kernels[1].k:", "kernels[1].kk: unknown key",
                   "measure.repeats"]:
        assert needle in text, needle
    assert all(p.startswith(str(tmp_path)) for p in found)


def test_yaml_syntax_error_has_line(tmp_path):
    found = problems(tmp_path, MINIMAL + "kernels: [\n")
    assert len(found) == 1 and "YAML syntax error" in found[0] and "s.yaml:" in found[0]


@pytest.mark.parametrize("text,needle", [
    ("", "expected a mapping"),
    ("- 1\n- 2\n", "expected a mapping"),
    (MINIMAL.replace("name: t", "name: 'a b'"), "name"),
    (MINIMAL + "indices: {distribution: zipf, path: x.npy}\n", "path applies only"),
    (MINIMAL + "indices: {distribution: trace}\n", "needs path"),
    (MINIMAL + "indices: {distribution: trace, path: missing.npy}\n", "does not exist"),
    (MINIMAL + "pinning: {cores: []}\n", "empty"),
    (MINIMAL + "pinning: {cores: '3-1'}\n", "backwards"),
    (MINIMAL.replace("- kernel: baseline", "- backend: torch"), "needs 'kernel:'"),
    (MINIMAL + "quick: [1]\n", "quick: expected a mapping"),
    (MINIMAL + "quick: {threads: [0]}\n", "quick.threads[0]"),
    (MINIMAL + "quick: {measure: {batchez: 3}}\n", "quick.measure.batchez: unknown key"),
])
def test_rejects(tmp_path, text, needle):
    assert needle in "\n".join(problems(tmp_path, text))


def test_malformed_trace(tmp_path):
    (tmp_path / "ids.txt").write_text("1\n2\nthree\n")
    found = problems(tmp_path, MINIMAL + "indices: {distribution: trace, path: ids.txt}\n")
    assert "line 3" in found[0] and "malformed" in found[0]


def test_trace_ok(tmp_path):
    (tmp_path / "ids.txt").write_text("# ids\n1\n2\n3\n")
    sc = load_scenario(write(tmp_path, MINIMAL + "indices: {distribution: trace, path: ids.txt}\n"))
    assert sc.scenario.indices.path == "ids.txt"


def test_quick_block_and_caps(tmp_path):
    text = MINIMAL.replace("threads: [1]", "threads: [1, 2, 4]") + textwrap.dedent("""\
        measure: {warmups: 50, batches: 500, repeats: 5}
        quick:
          threads: [1]
          measure: {batches: 7}
        """)
    full = load_scenario(write(tmp_path, text)).scenario
    quick = load_scenario(write(tmp_path, text), quick=True).scenario
    assert full.threads == [1, 2, 4] and full.measure.batches == 500
    assert quick.threads == [1] and quick.measure.batches == 7  # the block wins
    assert quick.measure.warmups == 5 and quick.measure.repeats == 1  # built-in caps


def test_kernel_sweeps(tmp_path):
    from harness.scenario.kernelspec import variants

    text = MINIMAL.replace("  - kernel: baseline\n", (
        "  - kernel: memrec\n"
        "    token_rows: ['0.125x LLC', 1000]\n"
        "    k: [1, 2]\n"
        "    weight_rows: 100\n"))
    sc = load_scenario(write(tmp_path, text)).scenario
    combos = variants(sc.kernels[0])
    assert len(combos) == 4 and {c["k"] for c in combos} == {1, 2}
    assert {str(c["token_rows"]) for c in combos} == {"0.125x LLC", "1000 rows"}


def test_cli_validate(repo, tmp_path):
    ok = run_harness("validate", repo / "scenarios/ci.yaml", repo / "scenarios/skylake.yaml")
    assert ok.returncode == 0, ok.stderr
    assert "skylake.yaml: ok" in ok.stdout
    bad = write(tmp_path, MINIMAL.replace("threads: [1]", "threads: [x]"))
    assert_usage_error(run_harness("validate", bad), "threads[0]")
    assert_usage_error(run_harness("validate", "nope.yaml"), "no such scenario file")


# Fuzzing: whatever the bytes, the loader answers with a Scenario or a UsageError.
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(),
                     st.text(max_size=12))
_yamlish = st.recursive(_scalars, lambda c: st.one_of(
    st.lists(c, max_size=4), st.dictionaries(st.sampled_from(
        ["name", "threads", "tables", "sizes", "kernels", "kernel", "k", "quick", "measure",
         "pinning", "cores", "batch_sizes", "token_rows", "weight_rows", "x"]), c, max_size=5)),
    max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_yamlish)
def test_fuzz_structures(tmp_path, data):
    import yaml

    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        load_scenario(path)
    except UsageError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_fuzz_text(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    try:
        load_scenario(path)
    except UsageError as exc:
        assert exc.problems

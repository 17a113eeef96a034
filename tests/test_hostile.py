"""Hostile input, round two (issue 18): each case once ran away, crashed with a traceback
or said something untrue. Each must end with exit 2 and one line naming what is wrong.

CLI runs get a 2 GiB address-space limit, so a case that regresses into reading
/dev/zero or expanding an alias bomb fails fast with a MemoryError instead of
taking the machine's memory.
"""

import os
import resource
import subprocess
import sys

import pytest

from harness.errors import UsageError
from harness.scenario.kernelspec import KERNELS
from harness.scenario.schema import load_scenario

SCENARIO = ("name: h\nthreads: [1]\ntables: {sizes: [1MiB], dim: 16}\nbatch_sizes: [8]\n"
            "kernels: [{kernel: baseline, backend: numpy}]\n")


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def harness(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120,
                          preexec_fn=_limit_memory)


def one_clear_line(proc, words):
    """Exit 2, no traceback, and exactly one line on stderr, holding ``words``."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert words in lines[0], lines[0]
    return lines[0]


def problem(path) -> str:
    with pytest.raises(UsageError) as info:
        load_scenario(path)
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


# -- item 3: YAML alias bombs ---------------------------------------------------------

def billion_laughs(levels=9, width=9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\nname: *a{levels}\n"


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    line = one_clear_line(harness("validate", path), "aliases")
    assert line.startswith(f"error: {path}:") and "100000 keys and values" in line


def test_a_merge_key_bomb_is_refused_too(tmp_path):
    lines = ["a0: &a0 {" + ", ".join(f"k{i}: {i}" for i in range(9)) + "}"]
    lines += [f"a{i}: &a{i} {{<<: [" + ", ".join([f"*a{i - 1}"] * 9) + "]}"
              for i in range(1, 10)]
    path = tmp_path / "merge.yaml"
    path.write_text("\n".join(lines) + "\n")
    one_clear_line(harness("validate", path), "aliases")


def test_aliases_a_scenario_really_uses_still_work(tmp_path):
    path = tmp_path / "alias.yaml"
    path.write_text(SCENARIO.replace("batch_sizes: [8]", "batch_sizes: &b [8, 16]")
                    + "pooling: *b\n")
    assert load_scenario(path).scenario.pooling == [8, 16]


def test_nesting_beyond_any_scenario_is_refused(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested more than" in problem(path)
    path.write_text("name: " + "[" * 100 + "]" * 100 + "\n")
    assert "nested more than 64 levels" in problem(path)


# -- item 4: paths that are not regular files, or too big -----------------------------

@pytest.mark.parametrize("target, words", [
    ("/dev/zero", "is a character device, not a scenario file"),
    (".", "is a directory, not a scenario file"),
])
def test_validate_refuses_what_is_not_a_scenario_file(tmp_path, target, words):
    one_clear_line(harness("validate", target, cwd=tmp_path), words)


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")  # opening it would wait for a writer forever
    assert "is a FIFO" in problem(tmp_path / "fifo.yaml")


def test_a_scenario_over_one_mib_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(SCENARIO + "description: " + "x" * (1 << 20) + "\n")
    assert "a scenario file may be at most 1 MiB" in problem(path)


def trace_scenario(tmp_path, trace) -> str:
    path = tmp_path / "trace.yaml"
    path.write_text(SCENARIO + f"indices: {{distribution: trace, path: '{trace}'}}\n")
    return path


@pytest.mark.parametrize("trace, words", [
    ("/dev/zero", "trace file '/dev/zero' is a character device"),
    ("/dev/zero.npy", "trace file '/dev/zero.npy' does not exist"),
    (".", "is a directory"),
])
def test_a_trace_that_is_not_a_regular_file_says_what_it_is(tmp_path, trace, words):
    line = one_clear_line(harness("validate", trace_scenario(tmp_path, trace)), words)
    assert "trace.yaml:6: indices.path:" in line


def test_a_text_trace_over_its_bound_is_refused_and_npy_suggested(tmp_path):
    trace = tmp_path / "ids.txt"
    with open(trace, "wb") as f:
        f.truncate(257 << 20)  # sparse: no disk used
    assert "at most 256 MiB as text; save larger traces as .npy" in problem(
        trace_scenario(tmp_path, trace))


# -- item 9: trace lines that are not ASCII digits get their line number --------------

# superscript 2, Arabic-Indic 3, fullwidth 1
@pytest.mark.parametrize("bad", ["\u00b2", "\u0663", "\uff11"])
def test_a_trace_id_in_other_digits_names_its_line(tmp_path, bad):
    trace = tmp_path / "ids.txt"
    trace.write_text(f"1\n# a comment\n2\n{bad}\n", encoding="utf-8")
    message = problem(trace_scenario(tmp_path, trace))
    assert f"line 4: '{bad}' is not a non-negative integer id" in message


def test_a_good_text_trace_still_loads(tmp_path):
    from harness.scenario.schema import load_trace

    trace = tmp_path / "ids.txt"
    trace.write_text("5\n\n# c\n9223372036854775807  # the largest\n0\n")
    assert load_trace(trace).tolist() == [5, 2**63 - 1, 0]
    load_scenario(trace_scenario(tmp_path, trace))


# -- item 9: messages that say what is really wrong ----------------------------------

@pytest.mark.parametrize("text, words", [
    ("1e400GiB", "'1e400GiB' is too large; at most 1152921504606846976 bytes (1 EiB)"),
    ("1e300TB", "is too large"),
    ("inf MiB", "inf is not a finite number"),
    ("nan x LLC", "nan is not a finite number"),
    ("1e400x LLC", "the LLC multiple is too large"),
    ("1.5 rows", "'1.5 rows': rows must be a whole number"),
    ("2e40 rows", "is too many rows; at most 1099511627776"),
    ("1" * 300 + " rows", "is too many rows"),
    ("64", "'64' has no unit"),
])
def test_size_messages_name_the_real_problem(text, words):
    from harness.scenario.sizes import parse_size

    with pytest.raises(ValueError) as info:
        parse_size(text)
    assert words in str(info.value)
    assert "must be positive" not in str(info.value) and "at least one byte" not in str(
        info.value)
    assert len(str(info.value)) < 200  # a 300-digit typo is quoted by its start


def test_sizes_in_range_still_parse():
    from harness.scenario.sizes import parse_size

    assert parse_size("1e3 rows").value == 1000 and parse_size("1 row").value == 1
    assert parse_size("1TiB").value == 2**40
    assert parse_size("1048576x LLC").value == 2**20


@pytest.mark.parametrize("text, words, absent", [
    ("abc", "'12GiB'", "LLC"),
    ("1.5 rows", "is not an amount of memory", "whole number"),
    ("1e400GiB", "is too large", "at least one byte"),
])
def test_memory_limit_suggests_only_what_it_accepts(text, words, absent):
    from harness.execute.plan import parse_memory_limit

    with pytest.raises(UsageError) as info:
        parse_memory_limit(text, 2**34)
    message = str(info.value)
    assert words in message and absent not in message and "'100000 rows'" not in message


def test_cli_size_options_say_too_large(repo):
    line = one_clear_line(harness("footprint", "scenarios/criteo_tb.yaml", "--llc", "1e300TB",
                                  cwd=repo), "--llc: '1e300TB' is too large")
    assert "at least one byte" not in line
    line = one_clear_line(harness("run", "scenarios/ci.yaml", "--memory-limit", "abc",
                                  "--dry-run", cwd=repo), "--memory-limit: 'abc'")
    assert "LLC" not in line and "rows" not in line


# -- item 6: every number bounded; point ids and file names within filesystem limits --

def _numbers_without_both_bounds(node, path=""):
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            low = "minimum" in node or "exclusiveMinimum" in node
            high = "maximum" in node or "exclusiveMaximum" in node
            if not (low and high):
                yield path
        for key, value in node.items():
            yield from _numbers_without_both_bounds(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numbers_without_both_bounds(value, f"{path}[{i}]")


def test_every_number_in_the_schema_has_a_documented_range():
    from harness.scenario.schema import Scenario

    from harness.scenario.bounds import KERNEL_PARAM_RANGES

    schema = Scenario.model_json_schema()
    kernels = {s.params_model.__name__ for s in KERNELS.values()}
    unbounded = [p for p in _numbers_without_both_bounds(schema)
                 if not p.startswith("/$defs/Size/")]  # parse_size bounds sizes itself
    # kernel parameters: bounded by name in KERNEL_PARAM_RANGES, checked after the model
    unlisted = [p for p in unbounded if p.split("/")[2] not in kernels
                or p.split("/")[4] not in KERNEL_PARAM_RANGES]
    assert unlisted == []
    # threads go through a validator of their own, outside the JSON schema
    from harness.scenario.schema import _thread_count
    with pytest.raises(ValueError, match="at most 8192"):
        _thread_count(10**300)


@pytest.mark.parametrize("edit, where", [
    ("{kernel: hashing_trick, rows: 1000, backend: fused, prefetch: %s}" % ("9" * 300),
     "kernels[0].prefetch: must be from 0 to 4096"),
    ("{kernel: spin, ns_per_lookup: %s}" % ("9" * 300), "kernels[0].ns_per_lookup"),
    ("{kernel: qr, collisions: %s}" % ("9" * 30), "kernels[0].collisions"),
])
def test_huge_kernel_parameters_are_refused_with_their_key_path(tmp_path, edit, where):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("{kernel: baseline, backend: numpy}", edit))
    message = problem(path)
    assert f"s.yaml:5: {where}" in message and len(message) < 250


@pytest.mark.parametrize("edit, key", [
    ("batch_sizes: [8]", "batch_sizes: [%s]" % ("9" * 300)),
    ("threads: [1]", "threads: [%s]" % ("9" * 300)),
    ("name: h", "name: " + "h" * 300),
])
def test_huge_scenario_numbers_and_names_are_refused(tmp_path, edit, key):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace(edit, key) + "measure: {seed: %s}\n" % ("9" * 300))
    with pytest.raises(UsageError) as info:
        load_scenario(path)
    assert any("measure.seed" in p for p in info.value.problems)
    assert any(key.split(":")[0] in p for p in info.value.problems)


def test_point_ids_stay_short_enough_for_file_names(zen3_vm, tmp_path):
    from harness.execute.plan import MAX_POINT_ID, bounded_point_id, make_plan

    short = "memrec-fused-d1024-k2-dw1000-kw1-prefetch8.rows65536.dim128.b64.p1.t1"
    assert bounded_point_id(short) == short  # stored results keep their ids
    a, b = bounded_point_id("x" * 300 + "1"), bounded_point_id("x" * 300 + "2")
    assert a != b and len(a) == len(b) == MAX_POINT_ID and a.startswith("x" * 80)

    path = tmp_path / "s.yaml"  # every parameter near its bound at once
    path.write_text("name: big\nthreads: [1]\ntables: {sizes: ['1099511627776 rows'], "
                    "dim: 65536, features: 10000, layout: shared, pages: hugetlb}\n"
                    "batch_sizes: [16777216]\npooling: [65536]\n"
                    "indices: {distribution: zipf, alpha: 99.123456789}\n"
                    "kernels: [{kernel: memrec, token_rows: 2147483647, k: 64, "
                    "weight_rows: 2147483647, k_weight: 64, backend: fused, prefetch: 4096}]\n")
    point = make_plan(load_scenario(path), zen3_vm).points[0]
    assert len(point.point_id) <= MAX_POINT_ID and point.point_id.startswith("memrec-fused-")
    (tmp_path / f"{point.point_id}.r9999.result.json").write_text("{}")  # a legal file name


# -- item 10: duplicate kernel entries are refused, or said where only resolution merges --

def test_repeated_kernel_entries_are_refused_naming_both_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(SCENARIO.replace(
        "kernels: [{kernel: baseline, backend: numpy}]\n",
        "kernels:\n"
        "  - {kernel: baseline, backend: numpy}\n"
        "  - {kernel: memrec, token_rows: 1000, k: [1, 2], weight_rows: 100, backend: numpy}\n"
        "  - {kernel: baseline, backend: numpy, label: again}\n"
        "  - {kernel: memrec, token_rows: '1000 rows', k: 2, weight_rows: 100, backend: numpy}\n"
        "  - {kernel: bloom, token_rows: 100, k: [3, 3]}\n"))
    with pytest.raises(UsageError) as info:
        load_scenario(path)
    problems = info.value.problems
    assert len(problems) == 3, problems
    assert "dup.yaml:8: kernels[2]: repeats baseline (backend=numpy) of kernels[0] (line 6)" \
        in problems[0]
    assert "dup.yaml:9: kernels[3]: repeats memrec" in problems[1] and "(line 7)" in problems[1]
    assert "dup.yaml:10: kernels[4]: its sweep lists bloom" in problems[2]


def test_distinct_entries_that_resolve_alike_are_measured_once_and_say_so(zen3_vm, tmp_path):
    from harness.execute.plan import make_plan

    path = tmp_path / "s.yaml"  # on a table of 1x LLC an unset prefetch resolves to 8
    path.write_text(SCENARIO.replace(
        "kernels: [{kernel: baseline, backend: numpy}]",
        "kernels: [{kernel: hashing_trick, rows: 1x LLC, backend: fused},\n"
        "          {kernel: hashing_trick, rows: 1x LLC, backend: fused, prefetch: 8, "
        "label: p8}]"))
    points = make_plan(load_scenario(path), zen3_vm).points
    assert len(points) == 1 and points[0].params["prefetch"] == 8
    assert "kernels[1] (p8) resolves to this same point on this machine" in points[0].note

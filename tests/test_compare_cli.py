"""``harness compare`` on stored result directories: every exit status, every output."""

import csv
import json

import pytest

from harness.__main__ import main
from synthetic_results import write_result_dir

from cli import assert_usage_error, run_harness


@pytest.fixture
def dirs(tmp_path, zen3_vm):
    def make(name, **kw):
        write_result_dir(tmp_path / name, zen3_vm, **kw)
        return tmp_path / name
    return make


def compare(capsys, *args):
    status = main(["compare", *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_same_results_exit_0(dirs, capsys):
    base, new = dirs("base", seed=1), dirs("new", seed=2)
    status, out, err = compare(capsys, base, new)
    assert status == 0, err
    assert "no regression (0 slower, 0 faster, 4 same, 0 incomparable)" in out
    assert "baseline-torch.rows1000.dim16.b64.p1.t1" in out


def test_slower_point_exit_1_with_json_and_markdown(dirs, capsys, tmp_path):
    base = dirs("base", seed=1)
    new = dirs("new", seed=2, levels={"memrec": 50_000 * 1.3})
    status, out, _ = compare(capsys, base, new, "--json", tmp_path / "c.json",
                             "--markdown", tmp_path / "c.md")
    assert status == 1 and "REGRESSION: 2 point(s)" in out
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["exit_status"] == 1 and report["summary"]["slower"] == 2
    slower = [c for c in report["changes"] if c["verdict"] == "slower"]
    assert all(c["point_id"].startswith("memrec") and 1.25 < c["ratio"] < 1.35 for c in slower)
    assert all(c["ci_low"] > 1.0 and c["p_value"] < 0.05 for c in slower)
    md = (tmp_path / "c.md").read_text()
    assert md.startswith("### Performance: REGRESSION") and "| :red_circle: slower |" in md
    # a looser factor lets the same change through
    assert compare(capsys, base, new, "--factor", "1.5")[0] == 0


def test_json_to_stdout_is_pure_json(dirs, capsys):
    base, new = dirs("base", seed=1), dirs("new", seed=1)
    status, out, err = compare(capsys, base, new, "--json")
    assert status == 0 and json.loads(out)["metric"]["name"] == "p50"
    assert "no regression" in err  # the table moved to stderr
    assert compare(capsys, base, new, "--json", "--markdown")[0] == 2


def test_new_failure_exit_1(dirs, capsys, zen3_vm, tmp_path):
    base = dirs("base")
    points = write_result_dir(tmp_path / "probe", zen3_vm)
    broken = points[0].point_id
    new = dirs("new", failed={broken: "worker killed by SIGKILL"})
    status, out, _ = compare(capsys, base, new)
    assert status == 1 and "failed in NEW: " in out and "now failing" in out


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "pyperf.json").unlink(), "pyperf.json: missing"),
    (lambda d: (d / "manifest.json").unlink(), "manifest.json: missing"),
    (lambda d: (d / "points.csv").unlink(), "points.csv: missing"),
    (lambda d: (d / "manifest.json").write_text("{not json"), "manifest.json: not valid JSON"),
    (lambda d: (d / "pyperf.json").write_text('{"x": 1}'), "not a pyperf file"),
    (lambda d: (d / "pyperf.json").write_text('{"benchmarks": [{"x": 1}]}'),
     "pyperf cannot read it"),
    (lambda d: (d / "manifest.json").write_text(json.dumps({"format_version": 99})),
     "result format 99 is newer"),
])
def test_unusable_input_exit_2(dirs, capsys, damage, message):
    base, new = dirs("base"), dirs("new")
    damage(new)
    status, _, err = compare(capsys, base, new)
    assert status == 2 and message in err


def test_foreign_pyperf_file_exit_2(dirs, capsys, zen3_vm, tmp_path):
    base, new = dirs("base"), dirs("new")
    other = tmp_path / "other"
    write_result_dir(other, zen3_vm, scenario_text=(tmp_path / "base.yaml").read_text()
                     .replace('"1000 rows"', '"777 rows"'))
    (new / "pyperf.json").write_bytes((other / "pyperf.json").read_bytes())
    status, _, err = compare(capsys, base, new)
    assert status == 2 and "not from one harness run" in err


def test_missing_directory_and_no_common_points(dirs, capsys, tmp_path):
    base = dirs("base")
    assert compare(capsys, base, tmp_path / "nope")[0] == 2
    other = dirs("other", scenario_text=(tmp_path / "base.yaml").read_text()
                 .replace('["1000 rows", "4000 rows"]', '["5 rows"]'))
    status, _, err = compare(capsys, base, other)
    assert status == 2 and "no common points" in err


def test_machine_mismatch(tmp_path, zen3_vm, zen4, capsys):
    write_result_dir(tmp_path / "a", zen3_vm)
    write_result_dir(tmp_path / "b", zen4)
    status, _, err = compare(capsys, tmp_path / "a", tmp_path / "b")
    assert status == 2 and "different machines" in err and "model_name" in err
    status, out, _ = compare(capsys, tmp_path / "a", tmp_path / "b", "--allow-machine-mismatch")
    assert status == 0 and "note: different machines, compared anyway" in out


def test_counter_metric(dirs, capsys, zen3_vm, tmp_path):
    base = dirs("base", extra_columns={"llc_misses_per_lookup": "1.5",
                                       "llc_misses_per_lookup_source": "perf"})
    new = dirs("new", extra_columns={"llc_misses_per_lookup": "2.0",
                                     "llc_misses_per_lookup_source": "perf"})
    status, out, _ = compare(capsys, base, new, "--metric", "llc_misses_per_lookup")
    assert status == 1 and "factor alone" in out
    uncounted = dirs("uncounted", extra_columns={"llc_misses_per_lookup": "",
                                                 "llc_misses_per_lookup_source": "perf"})
    status, out, err = compare(capsys, base, uncounted, "--metric", "llc_misses_per_lookup")
    assert status == 2 and "not counted in NEW" in out and "not one point" in err
    # a run from before the counters existed: the column is absent there
    old = dirs("old")
    rows = list(csv.DictReader(open(old / "points.csv")))
    keep = [c for c in rows[0] if not c.startswith("llc_misses_per_lookup")]
    with open(old / "points.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, keep, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    status, out, _ = compare(capsys, old, new, "--metric", "llc_misses_per_lookup")
    assert status == 2 and "has no column llc_misses_per_lookup" in out
    status, _, err = compare(capsys, base, new, "--metric", "llc_mises_per_lookup")
    assert status == 2 and "no points.csv column" in err


def test_other_metrics(dirs, capsys):
    base = dirs("base", seed=1)
    new = dirs("new", seed=2, levels={"memrec": 50_000 * 1.5})
    status, out, _ = compare(capsys, base, new, "--metric", "speedup")
    assert status == 1 and out.count("slower  ") == 2 and "x " in out
    # The synthetic runs reference no limits result: no ceiling, and the output says why.
    assert "NEW ceiling" in out and "references no limits result" in out
    status, out, _ = compare(capsys, base, new, "--metric", "ns_per_lookup", "--json")
    memrec = [c for c in json.loads(out)["changes"] if c["point_id"].startswith("memrec")]
    assert status == 1 and memrec[0]["base"] == pytest.approx(50_000 / 64, rel=0.02)
    assert compare(capsys, base, dirs("same", seed=3), "--metric", "p99")[0] == 0


@pytest.mark.slow
def test_cli_never_tracebacks(tmp_path):
    proc = run_harness("compare", tmp_path / "a", tmp_path / "b")
    assert_usage_error(proc, "no such directory")

"""Serving under load: the schedule, the batching server on a fake clock, the figures,
the files and compare, bad input, and one tiny real CLI run. No timing assertions:
the real run is checked for shape, not speed."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.__main__ import main
from harness.serve.analysis import max_rate_within, rate_figures
from harness.serve.loadgen import START_LEAD_NS, poisson_schedule, serve

REPO = Path(__file__).resolve().parent.parent


class FakeClock:
    """A clock that moves only when the server waits or a batch runs."""

    def __init__(self, service_ns, oversleep_ns=0):
        self.now = 0
        self.service_ns = service_ns      # batch size -> ns the "kernel" takes
        self.oversleep_ns = oversleep_ns  # how late every wake-up is (a busy machine)
        self.batches = []

    def clock(self):
        return self.now

    def wait_until(self, t):
        self.now = max(self.now, t) + self.oversleep_ns

    def run_batch(self, first, stop):
        self.batches.append((first, stop))
        self.now += self.service_ns(stop - first)


def served_with(schedule, max_batch, timeout_ns, service_ns, **kw):
    fake = FakeClock(service_ns, kw.pop("oversleep_ns", 0))
    out = serve(np.array(schedule, dtype=np.int64), fake.run_batch, max_batch, timeout_ns,
                fake.clock, fake.wait_until, **kw)
    return out, fake


def test_schedule_is_seeded_rising_and_poisson():
    a = poisson_schedule(1000.0, 20000, [1, 2])
    assert np.array_equal(a, poisson_schedule(1000.0, 20000, [1, 2]))
    assert not np.array_equal(a, poisson_schedule(1000.0, 20000, [1, 3]))
    gaps = np.diff(a)
    assert (gaps >= 0).all()
    # exponential gaps of mean 1 ms: mean and standard deviation agree (20000 draws: +-3%)
    assert gaps.mean() == pytest.approx(1e6, rel=0.03)
    assert gaps.std() == pytest.approx(1e6, rel=0.05)
    with pytest.raises(ValueError):
        poisson_schedule(0.0, 10, 0)


def test_fixed_batches_wait_to_fill():
    out, fake = served_with([0, 100, 200, 300, 400], 2, None, lambda n: 50)
    assert fake.batches == [(0, 2), (2, 4), (4, 5)]  # the last goes partly filled
    assert out.latency_ns.tolist() == [150, 50, 150, 50, 50]
    assert out.batch_sizes == [2, 2, 1] and out.stopped == ""


def test_dynamic_batches_go_at_the_timeout_or_full():
    out, fake = served_with([0, 10, 100], 4, 30, lambda n: 5)
    assert fake.batches == [(0, 2), (2, 3)]
    assert out.latency_ns.tolist() == [35, 25, 5]
    out, fake = served_with([0, 1, 2, 3, 500], 4, 1000, lambda n: 5)
    assert fake.batches[0] == (0, 4)  # full before the timeout


def test_latency_counts_from_the_scheduled_arrival_not_the_server():
    # A server slower than the arrivals: each request waits for the ones before it. A
    # closed-loop measurement would report 1000 ns for every request.
    out, _ = served_with([0, 10, 20, 30], 1, 0, lambda n: 1000)
    assert out.latency_ns.tolist() == [1000, 1990, 2980, 3970]
    # A late wake-up (a stalled generator or server) is latency, never hidden.
    out, _ = served_with([0, 5000], 1, 0, lambda n: 100, oversleep_ns=700)
    assert out.latency_ns.tolist() == [800, 800]
    assert out.start_lag_ns == [700, 700]


def test_an_overloaded_schedule_stops_and_says_why():
    out, _ = served_with(list(range(0, 1000, 10)), 1, 0, lambda n: 1000, give_up_ns=2500)
    assert 0 < out.served < 100
    assert "the queue only grows" in out.stopped


def test_server_starts_after_a_lead():
    fake = FakeClock(lambda n: 0)
    fake.now = 123
    serve(np.array([0]), fake.run_batch, 1, 0, fake.clock, fake.wait_until)
    assert fake.now == 123 + START_LEAD_NS


def test_rate_figures_and_the_bound():
    lat = np.arange(1, 201) * 1000  # 1..200 us
    fig = rate_figures(100.0, lat, 2 * 10**9, [2] * 100, [10] * 100, [0] * 100)
    assert fig["status"] == "ok" and fig["served"] == 200
    assert fig["p50_ns"] == 101_000 and fig["p99_ns"] == 199_000  # 'higher': a real latency
    assert fig["p999_ns"] is None and "p99.9 needs 1000" in fig["note"]
    assert fig["achieved_qps"] == pytest.approx(100.0)
    slow = rate_figures(100.0, lat, 4 * 10**9, [2] * 100, [10] * 100, [0] * 100,
                        slo_ns=150_000)
    assert slow["status"] == "overloaded" and "served 50 of 100" in slow["reason"]
    assert slow["p99_ns"] == 199_000  # measured, kept, but never within the bound
    # the same rate whose last request left no backlog beyond the bound: a late stall only
    assert rate_figures(100.0, lat, 4 * 10**9, [2], [10], [0], slo_ns=250_000)["status"] == "ok"
    over = rate_figures(100.0, np.r_[lat, [-1] * 10], 10**9, [], [], [], "stopped after")
    assert over["status"] == "overloaded" and over["p99_ns"] is None and over["served"] == 200

    rates = [{"rate_qps": 10, "status": "ok", "p99_ns": 1}, {"rate_qps": 20, "status": "ok",
             "p99_ns": 5}, {"rate_qps": 40, "status": "ok", "p99_ns": 50},
             {"rate_qps": 80, "status": "overloaded", "p99_ns": None}]
    assert max_rate_within(rates, 10) == {"max_qps": 20, "p99_ns": 5, "clean": True}
    rates[0]["p99_ns"] = 99
    assert max_rate_within(rates, 10)["clean"] is False
    assert max_rate_within(rates, 0)["max_qps"] is None


SCENARIO = """\
name: tiny-serve
threads: [1]
tables: {sizes: ["256KiB"], dim: 16}
batch_sizes: [4]
kernels:
  - kernel: baseline
    backend: numpy
measure: {warmups: 2, timeout_s: 120}
serve:
  rates_qps: [500, 2000]
  slo_ms: 50
  requests: 100
  max_seconds: 0.2
  batching: {policy: dynamic, timeout_us: 200}
"""


@pytest.mark.parametrize("old, new, expected", [
    ("slo_ms: 50", "slo_ms: 0", "serve.slo_ms: Input should be greater than 0"),
    ("slo_ms: 50", "slo_ms: -1", "serve.slo_ms: Input should be greater than 0"),
    ("rates_qps: [500, 2000]", "rates_qps: []", "serve.rates_qps: must list at least one"),
    ("rates_qps: [500, 2000]", "rates_qps: [2000, 500]", "rates_qps must rise strictly"),
    ("timeout_us: 200", "timeout_us: -5", "serve.batching.timeout_us: Input should be greater"),
    ("requests: 100", "requests: 10", "serve.requests: Input should be greater than or equal"),
    ("slo_ms: 50", "slo_ms: 50\n  slo_msx: 1", "serve.slo_msx: unknown key"),
])
def test_bad_serve_input_is_one_line_and_exit_2(tmp_path, capsys, old, new, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace(old, new))
    assert main(["serve", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert expected in err and f"{path}:" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_scenario_without_serve_block_is_refused(tmp_path, capsys):
    path = tmp_path / "plain.yaml"
    path.write_text(SCENARIO.split("serve:")[0])
    assert main(["serve", str(path)]) == 2
    assert "no serve: block" in capsys.readouterr().err


def test_manager_stores_failures_and_compare_reads_serving_results(tmp_path):
    from harness.compare.inputs import load_results
    from harness.execute.plan import make_plan
    from harness.scenario.schema import load_scenario
    from harness.serve.manager import serve_plan
    from harness.store.serving import ServeStore

    from fakes import ZEN3_VM_2CPU, make_machine_tree
    from harness.machine.detect import describe_machine

    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("    backend: numpy\n", "    backend: [numpy, torch]\n"))
    loaded = load_scenario(path)
    machine = describe_machine(*make_machine_tree(tmp_path / "m", ZEN3_VM_2CPU), perf="perf")
    plan = make_plan(loaded, machine)
    config = loaded.scenario.serve.model_dump(mode="json")

    def fake_spawn(point, serve_config, llc_bytes, work_dir):
        if point.params["backend"] == "torch":
            return {"status": "failed", "reason": "worker killed by SIGKILL"}
        rates = [dict(rate_figures(r, np.arange(1, 101) * 10**5, int(100 / r * 1e9), [1], [1], [0]),
                      latency_ns=(np.arange(1, 101) * 10**5).tolist()) for r in (500.0, 2000.0)]
        return {"status": "ok", "rates": rates, "batch_alone_ns": [7, 9, 8],
                "numa": {"pages_local": 64, "pages_remote": 0}}

    out = tmp_path / "out"
    out.mkdir()
    store = ServeStore(out, plan, {"machine": machine.to_dict(), "kind": "serve"}, config)
    assert serve_plan(plan, store, config, tmp_path, progress=lambda s: None,
                      spawn=fake_spawn) == 1
    data = json.loads((out / "serve.json").read_text())
    assert [p["status"] for p in data["points"]] == ["ok", "failed"]
    assert data["points"][1]["reason"] == "worker killed by SIGKILL"
    assert data["points"][0]["within_slo"]["max_qps"] == 2000.0
    csv_lines = (out / "serve.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 2 + 1  # header, two rates, one failed point
    assert ",64,0" in csv_lines[1]      # numa pages local, remote
    loaded_back = load_results(out)
    assert [p.status for p in loaded_back.points] == ["ok", "ok", "failed"]
    assert loaded_back.points[0].identity["serve_rate_qps"] == 500.0
    assert len(loaded_back.points[0].runs[0]) == 100


def test_tiny_real_serve_run_and_compare(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "harness", "serve", str(path), "--out", str(out)],
                         capture_output=True, text=True, cwd=REPO, timeout=280)
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads((out / "serve.json").read_text())
    (point,) = data["points"]
    assert point["status"] == "ok" and [r["rate_qps"] for r in point["rates"]] == [500, 2000]
    for rate in point["rates"]:
        assert rate["status"] in ("ok", "overloaded", "skipped")
        if rate["status"] == "ok":
            assert rate["served"] == rate["requests"] == 100
            assert 0 < rate["p50_ns"] <= rate["p99_ns"]
    raw = json.loads((out / "raw" / f"{point['point_id']}.json").read_text())
    assert raw["numa"]["placement"]["name"] == "local"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "serve" and manifest["complete"]
    assert "numa_balancing" in manifest["machine"]
    same = subprocess.run([sys.executable, "-m", "harness", "compare", str(out), str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert same.returncode == 0, same.stdout + same.stderr


def _stored(tmp_path, kernels_yaml, spawn):
    """A serving result directory written by the real manager and store, fake workers."""
    from fakes import ZEN3_VM_2CPU, make_machine_tree

    from harness.execute.plan import make_plan
    from harness.machine.detect import describe_machine
    from harness.scenario.schema import load_scenario
    from harness.serve.manager import serve_plan
    from harness.store.serving import ServeStore

    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("  - kernel: baseline\n    backend: numpy\n", kernels_yaml))
    loaded = load_scenario(path)
    machine = describe_machine(*make_machine_tree(tmp_path / "m", ZEN3_VM_2CPU), perf="perf")
    plan = make_plan(loaded, machine)
    config = loaded.scenario.serve.model_dump(mode="json")
    out = tmp_path / "out"
    out.mkdir()
    store = ServeStore(out, plan, {"machine": machine.to_dict(), "kind": "serve",
                                   "created": "2026-12-04T00:00:00+00:00"}, config)
    serve_plan(plan, store, config, tmp_path, progress=lambda s: None, spawn=spawn)
    return out


def test_serving_pages_show_the_capacity_ratio(tmp_path, capsys):
    from harness.report.figures.serve import capacity_data, knee_data, load_serve_results

    def spawn(point, serve_config, llc_bytes, work_dir):
        # baseline: p99 ~10 ms at 500 qps, ~100 ms at 2000; MEM-REC ~2 and ~20 ms (bound 50)
        scale = 10**6 if point.kernel == "memrec" else 5 * 10**6
        rates = []
        for i, rate in enumerate((500.0, 2000.0)):
            lat = np.linspace(0.1, 1, 100) * scale * 2 * (1 + 9 * i)
            span = int(100 / rate * 1e9)  # served as fast as offered
            rates.append(dict(rate_figures(rate, lat.astype(int), span, [1], [1], [0]),
                              latency_ns=lat.astype(int).tolist()))
        return {"status": "ok", "rates": rates, "batch_alone_ns": [scale // 100] * 3}

    out = _stored(tmp_path, "  - kernel: baseline\n  - kernel: memrec\n    token_rows: 64\n"
                  "    weight_rows: 64\n", spawn)
    results = load_serve_results([out])
    capacity = capacity_data(results).set_index("kernel")
    assert capacity.loc["baseline", "max_qps"] == 500.0
    assert capacity.loc["memrec", "max_qps"] == 2000.0
    assert capacity.loc["memrec", "ratio_to_baseline"] == pytest.approx(4.0)
    assert bool(capacity.loc["memrec", "at_top"])  # the top of the sweep: a lower bound
    assert len(knee_data(results)) == 4
    pdf = tmp_path / "serve.pdf"
    assert main(["report", str(out), "-o", str(pdf)]) == 0
    assert pdf.stat().st_size > 0 and (tmp_path / "serve-data" / "serve_knee.csv").exists()
    run_dir = tmp_path / "a-run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text("{}")
    assert main(["report", str(out), str(run_dir), "-o", str(tmp_path / "mixed.pdf")]) == 2
    assert "separate reports" in capsys.readouterr().err


def test_an_interrupted_serve_keeps_what_finished(tmp_path):
    import signal

    from harness.execute.signals import Interrupted

    calls = []

    def spawn(point, serve_config, llc_bytes, work_dir):
        calls.append(point.point_id)
        if len(calls) == 2:
            raise Interrupted(signal.SIGTERM)
        lat = np.arange(1, 101) * 10**5
        return {"status": "ok", "batch_alone_ns": [1], "rates": [
            dict(rate_figures(r, lat, int(100 / r * 1e9), [1], [1], [0]),
                 latency_ns=lat.tolist()) for r in (500.0, 2000.0)]}

    out = _stored(tmp_path, "  - kernel: baseline\n    backend: [numpy, torch]\n", spawn)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted" and not manifest["complete"]
    assert [p["status"] for p in manifest["point_status"]] == ["ok", "pending"]
    assert (out / "raw" / f"{calls[0]}.json").exists()

"""Metrics from counts: numbers with their source, or the status why there is none."""

import io
import math

import pyperf
import pytest

from harness.counters import COUNTED, NOT_COUNTED, NOT_PERMITTED, NOT_SUPPORTED
from harness.counters.cachegrind import (CachegrindSetup, parse_callgrind_totals,
                                         simulated_counts)
from harness.counters.model import CacheGeometry
from harness.counters.summary import (COUNTER_COLUMNS, counter_metadata, perf_metrics,
                                      point_counter_columns, run_metrics)


def ev(value=None, status=COUNTED, fraction=1.0):
    return {"value": value, "status": status, "running_fraction": fraction if value is not None
            else None, "unit": "", "detail": ""}


FORMULAS = {"llc_misses_per_lookup": "llc_misses / lookups",
            "dram_bytes_per_lookup": "(dram_cas_reads + dram_cas_writes) * 64 / lookups",
            "llc_miss_ratio": "llc_misses / llc_loads", "ipc": "instructions / cycles"}


def test_perf_metrics_statuses():
    events = {"llc_misses": ev(500, fraction=0.5), "llc_loads": ev(0),
              "dram_cas_reads": ev(status=NOT_PERMITTED), "dram_cas_writes": ev(status=NOT_SUPPORTED),
              "instructions": ev(status=NOT_SUPPORTED), "cycles": ev(status=NOT_COUNTED)}
    m = perf_metrics(events, FORMULAS, lookups=1000)
    assert m["llc_misses_per_lookup"]["value"] == 0.5
    assert m["llc_misses_per_lookup"]["running_fraction"] == 0.5
    assert m["dram_bytes_per_lookup"] == {"value": None, "source": None, "status": NOT_PERMITTED,
                                          "detail": m["dram_bytes_per_lookup"]["detail"]}
    assert m["llc_miss_ratio"]["status"] == NOT_COUNTED and m["llc_miss_ratio"]["value"] is None
    assert m["ipc"]["status"] == NOT_COUNTED  # not-counted is acted on before not-supported


def _run(perf_events=None, model=None, cachegrind=None, region_ns=5_000_000):
    counters = {"batches": 10, "formulas": FORMULAS, "region": {"enabled_ns": region_ns},
                "perf": {"events": perf_events} if perf_events is not None else None,
                "model": model, "cachegrind": cachegrind}
    counters["metrics"] = run_metrics(counters, lookups_per_batch=100)
    return {"status": "ok", "counters": counters}


MODEL = {"llc_misses": 2000, "lookups": 1000, "geometry": {"line_bytes": 64}}
HW_MISSING = {"llc_misses": ev(status=NOT_SUPPORTED), "llc_loads": ev(status=NOT_SUPPORTED),
              "dram_cas_reads": ev(status=NOT_SUPPORTED), "dram_cas_writes": ev(status=NOT_SUPPORTED),
              "instructions": ev(status=NOT_SUPPORTED), "cycles": ev(status=NOT_SUPPORTED),
              "task_clock": ev(4.5), "page_faults": ev(12)}


def test_fallback_to_the_model_and_statuses_in_points_csv():
    row = point_counter_columns([_run(HW_MISSING, MODEL), _run(HW_MISSING, MODEL)])
    assert set(row) == set(COUNTER_COLUMNS)
    assert row["llc_misses_per_lookup"] == 2.0 and row["llc_misses_per_lookup_source"] == "model"
    assert row["dram_bytes_per_lookup"] == 128.0 and row["dram_bytes_per_lookup_source"] == "model"
    assert row["ipc"] is None and row["ipc_source"] == NOT_SUPPORTED
    assert row["llc_misses_per_lookup_model"] == 2.0
    assert row["llc_misses_per_lookup_cachegrind"] is None
    assert row["task_clock_ms"] == 4.5 and row["task_clock_ms_source"] == "perf"
    assert row["region_ms"] == 5.0 and row["page_faults"] == 12


def test_counted_beats_simulated_beats_modelled():
    hw = dict(HW_MISSING, llc_misses=ev(3000))
    cg = {"lookups": 500, "counts": {"llc_misses": 500, "llc_loads": 1000, "dram_bytes": 64000}}
    row = point_counter_columns([_run(hw, MODEL, cg)])
    assert row["llc_misses_per_lookup"] == 3.0 and row["llc_misses_per_lookup_source"] == "perf"
    assert row["llc_misses_per_lookup_cachegrind"] == 1.0
    assert row["dram_bytes_per_lookup"] == 128.0
    assert row["dram_bytes_per_lookup_source"] == "cachegrind"
    assert row["llc_miss_ratio_source"] == "cachegrind"


def test_no_runs_or_no_counters_leave_cells_empty():
    row = point_counter_columns([])
    assert row["llc_misses_per_lookup"] is None
    assert row["llc_misses_per_lookup_source"] == NOT_COUNTED
    row = point_counter_columns([{"status": "ok"}])
    assert row["dram_bytes_per_lookup"] is None and row["task_clock_ms_source"] == NOT_COUNTED


def test_pyperf_metadata_has_counts_and_statuses():
    md = counter_metadata(_run(dict(HW_MISSING, llc_misses=ev(3000, fraction=0.4)), MODEL))
    assert md["counter_llc_misses"] == 3000.0
    assert md["counter_llc_misses_running_fraction"] == 0.4
    assert md["counter_cycles"] == NOT_SUPPORTED
    assert md["llc_misses_per_lookup_source"] == "perf" and md["ipc"] == NOT_SUPPORTED
    assert all(isinstance(v, (int, float, str)) for v in md.values())
    run = pyperf.Run([1.0, 2.0], metadata={"name": "x", **md}, collect_metadata=False)
    buf = io.StringIO()
    pyperf.BenchmarkSuite([pyperf.Benchmark([run])]).dump(buf)
    assert "counter_cycles" in buf.getvalue()


CALLGRIND_OUT = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 1234
cmd:  python -m harness.worker spec.json --result r.json
positions: line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw ILdmr DLdmr DLdmw
summary: 23267726 8678568 5207089 43895 47020 27147 21 8073 27 21 8073 27
fl=(1) ???
fn=(1) 0x0000000000401000
0 3
totals: 23267726 8678568 5207089 43895 47020 27147 21 8073 27 21 8073 27
"""


def test_parse_callgrind():
    totals = parse_callgrind_totals(CALLGRIND_OUT)
    assert totals["DLmr"] == 8073 and totals["Ir"] == 23267726
    c = simulated_counts(totals, 64)
    assert c["llc_misses"] == 21 + 8073 + 27 and c["llc_loads"] == 43895 + 47020 + 27147
    assert c["dram_bytes"] == (8121 + 8121) * 64
    short = CALLGRIND_OUT.replace("summary: 23267726 8678568 5207089 43895 47020 27147 21 8073 27 "
                                  "21 8073 27", "summary: 100 20")
    assert parse_callgrind_totals(short.replace("\ntotals:", "\n#"))["DLmw"] == 0
    # totals: (the region's cost lines) wins over summary:, which callgrind writes first
    assert parse_callgrind_totals(short)["Ir"] == 23267726
    with pytest.raises(ValueError, match="not a callgrind output"):
        parse_callgrind_totals("garbage\n")
    with pytest.raises(ValueError, match="malformed"):
        parse_callgrind_totals("events: Ir\ntotals: 1 2\n")


def test_cachegrind_command_and_spec():
    llc = CacheGeometry(32 * 2**20, 16, 64)
    cg = CachegrindSetup("valgrind", "3.19.0", "/x/lib.so", llc, CacheGeometry(32768, 8, 64),
                         None, batches=7, warmups=2)
    cmd = cg.command(["python", "-m", "harness.worker"], "out")
    assert cmd[:2] == ["valgrind", "--tool=callgrind"] and "--LL=33554432,16,64" in cmd
    assert "--D1=32768,8,64" in cmd and "--instr-atstart=no" in cmd
    assert "--collect-atstart=no" in cmd and cmd[-3:] == ["python", "-m", "harness.worker"]
    spec = cg.worker_spec({"point": {"batches": 200, "warmups": 20, "threads": 2,
                                     "cpus": [0, 1], "verify": True}, "repeat": 0})
    assert spec["point"] == {"batches": 7, "warmups": 2, "threads": 1, "cpus": [0],
                             "verify": False, "sampling": None}  # a fixed count
    assert spec["counters"] == {"cachegrind": {"helper": "/x/lib.so"}}
    assert not math.isnan(llc.sets)


def test_zen_fills_get_their_own_column_and_llc_misses_come_from_the_model():
    """AMD Zen counts L1D fills from beyond the L3: its own column, never llc_misses."""
    formulas = {"l1d_fills_beyond_l3_per_lookup": "l1d_fills_beyond_l3 / lookups",
                "ipc": "instructions / cycles"}
    events = {"l1d_fills_beyond_l3": ev(3000), "instructions": ev(10), "cycles": ev(5),
              "task_clock": ev(1.0), "page_faults": ev(0)}
    why = "Zen's L3 PMU counts per CCX; the figure comes from the model or cachegrind"
    counters = {"batches": 10, "formulas": formulas, "region": {"enabled_ns": 1},
                "perf": {"events": events}, "model": MODEL, "cachegrind": None,
                "unavailable": {"llc_misses_per_lookup": why}}
    counters["metrics"] = run_metrics(counters, lookups_per_batch=100)
    row = point_counter_columns([{"status": "ok", "counters": counters}])
    assert row["l1d_fills_beyond_l3_per_lookup"] == 3.0
    assert row["l1d_fills_beyond_l3_per_lookup_source"] == "perf"
    assert row["llc_misses_per_lookup"] == 2.0 and row["llc_misses_per_lookup_source"] == "model"
    counters["model"] = None
    chosen = run_metrics(counters, lookups_per_batch=100)["chosen"]
    assert chosen["llc_misses_per_lookup"]["value"] is None
    assert chosen["llc_misses_per_lookup"]["detail"] == why

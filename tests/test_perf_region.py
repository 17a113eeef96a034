"""perf around a region: the command line, the control protocol (with a fake perf), and
proof with the real perf and software events that only the region is counted."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.counters import COUNTED, NOT_COUNTED, NOT_PERMITTED, NOT_SUPPORTED
from harness.counters.eventsets import custom_event_set, load_event_set
from harness.counters.perf import (PerfSetup, capabilities, perf_spelling, printed_name,
                                   probe_event_set, stat_command, system_wide_permission,
                                   perf_events_record, version_tuple)
from harness.counters.region import PerfRegion
from harness.machine.detect import probe_perf

HERE = Path(__file__).resolve().parent
FAKE_PERF = str(HERE / "fake_perf.py")
PROBE = str(HERE / "region_probe.py")


def test_spelling_names_pmu_events():
    assert perf_spelling("llc_misses", "cpu/event=0x2e,umask=0x41/") == \
        "cpu/event=0x2e,umask=0x41,name=llc_misses/"
    assert perf_spelling("cas", "uncore_imc/cas_count_read/") == \
        "uncore_imc/cas_count_read,name=cas/"
    assert perf_spelling("c", "cpu/event=0x3c/u") == "cpu/event=0x3c,name=c/u"
    assert perf_spelling("task_clock", "task-clock") == "task-clock"
    assert printed_name("llc_misses", "cpu/event=0x2e,umask=0x41/") == "llc_misses"
    assert printed_name("task_clock", "task-clock") == "task-clock"


def test_stat_command():
    cmd = stat_command("perf", ["a", "b"], Path("o"), Path("c"), Path("k"))
    assert cmd == ["perf", "stat", "--delay=-1", "--control", "fifo:c,k", "-x,", "-o", "o",
                   "-e", "a", "-e", "b", "--"]
    assert "-j" in stat_command("perf", [], Path("o"), json_output=True)


def test_permission_for_system_wide_events():
    assert system_wide_permission(2, 0)[0] is False
    assert "perf_event_paranoid=2" in system_wide_permission(2, 0)[1]
    assert system_wide_permission(0, 0)[0] and system_wide_permission(-1, 0)[0]
    assert system_wide_permission(2, 1 << 38) == (True, "CAP_PERFMON")
    assert system_wide_permission(3, 1 << 21)[0]
    assert capabilities("Name:\tx\nCapEff:\t000001ffffffffff\n") >> 38 & 1
    assert version_tuple("6.1.187") == (6, 1, 187) and version_tuple(None) == ()


def _software_set():
    return custom_event_set(["task_clock", "page_faults"], load_event_set("generic"))


def _run_probe(setup, tmp_path, pages=(2000, 500), cpu_ms=(300, 100), env=None):
    base = [sys.executable, PROBE, str(tmp_path / "probe.json")]
    command, region_spec = setup.wrap(["PLACEHOLDER"], tmp_path, "t")
    command = command[:-1] + base + [json.dumps({"perf": region_spec}),
                                     str(pages[0]), str(pages[1]), str(cpu_ms[0]), str(cpu_ms[1])]
    started = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent), **(env or {})})
    elapsed = time.monotonic() - started
    probe = json.loads((tmp_path / "probe.json").read_text())
    record = setup.collect(tmp_path, "t", probe["region"])
    return proc, probe, record, elapsed


def test_fake_perf_probe_and_collect(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_PERF_EVENTS", json.dumps({
        "cycles": "not-supported", "LLC-load-misses": "unknown", "LLC-loads": "not-counted",
        "instructions": {"value": 500, "pcnt": 50.0}}))
    events = load_event_set("generic")
    probed = probe_event_set(FAKE_PERF, "6.1.0", events, tmp_path, (True, "test"))
    assert probed["cycles"]["status"] == NOT_SUPPORTED
    assert probed["llc_misses"]["status"] == NOT_SUPPORTED
    assert "event syntax error" in probed["llc_misses"]["detail"]
    assert probed["llc_loads"]["status"] == NOT_COUNTED
    assert probed["instructions"]["status"] == COUNTED
    setup = PerfSetup(FAKE_PERF, "6.1.0", events, probed, ack_timeout_s=5)
    log = tmp_path / "control.log"
    proc, probe, record, _ = _run_probe(setup, tmp_path, (10, 10), (1, 1),
                                        {"FAKE_PERF_LOG": str(log)})
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().split() == ["enable", "disable"]
    assert probe["region"]["error"] is None and probe["region"]["enable_ack_ns"] > 0
    ev = record["events"]
    assert ev["instructions"]["value"] == 500 and ev["instructions"]["running_fraction"] == 0.5
    assert "multiplexed" in ev["instructions"]["detail"]
    assert ev["cycles"]["status"] == NOT_SUPPORTED and ev["cycles"]["value"] is None
    assert ev["task_clock"]["status"] == COUNTED
    assert not list(tmp_path.glob("t.perf.*"))  # fifos and output removed


def test_fake_perf_json_and_not_permitted(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_PERF_EVENTS", json.dumps({"LLC-loads": "not-permitted"}))
    events = load_event_set("generic")
    probed = probe_event_set(FAKE_PERF, "6.1.0", events, tmp_path, (False, "paranoid"))
    assert probed["llc_loads"]["status"] == NOT_PERMITTED
    setup = PerfSetup(FAKE_PERF, "6.1.0", events, probed, ack_timeout_s=5)
    assert setup.json_output and "llc_loads" not in setup.counted
    proc, probe, record, _ = _run_probe(setup, tmp_path, (10, 10), (1, 1))
    assert proc.returncode == 0, proc.stderr
    assert record["events"]["cycles"]["value"] == 1000
    assert record["events"]["llc_loads"]["status"] == NOT_PERMITTED


def test_a_perf_that_never_acks_costs_the_counts_not_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_PERF_NO_ACK", "1")
    events = _software_set()
    probed = probe_event_set(FAKE_PERF, "6.1.0", events, tmp_path, (True, ""))
    setup = PerfSetup(FAKE_PERF, "6.1.0", events, probed, ack_timeout_s=0.5)
    proc, probe, record, elapsed = _run_probe(setup, tmp_path, (10, 10), (1, 1))
    assert proc.returncode == 0
    assert "did not acknowledge 'enable' within 0.5 s" in probe["region"]["error"]
    assert all(e["status"] == NOT_COUNTED and e["value"] is None
               for e in record["events"].values())
    assert "region failed" in record["problem"]


def test_region_without_perf_never_blocks(tmp_path):
    ctl, ack = tmp_path / "ctl", tmp_path / "ack"
    os.mkfifo(ctl)
    os.mkfifo(ack)
    region = PerfRegion(str(ctl), str(ack), timeout_s=30)
    with region:
        pass
    assert "not reading it" in region.record["error"]
    assert region.record["enabled_ns"] is None


def _real_perf():
    info = probe_perf("perf", Path("/proc"))
    if info.version is None:
        return None, f"perf is not usable here: {info.error}"
    if version_tuple(info.version) < (5, 10):
        return None, f"perf {info.version} has no --control"
    return info, ""


REAL_PERF, NO_PERF = _real_perf()


@pytest.mark.perf
@pytest.mark.skipif(REAL_PERF is None, reason=NO_PERF or "perf missing")
def test_real_perf_counts_only_the_region(tmp_path):
    """Setup touches 4x the region's fresh pages and burns 3x its CPU; perf sees the region."""
    events = _software_set()
    probed = probe_event_set(REAL_PERF.path, REAL_PERF.version, events, tmp_path, (True, ""))
    if probed["page_faults"]["status"] != COUNTED:
        pytest.skip(f"page-faults cannot be counted here: {probed['page_faults']['detail']}")
    setup = PerfSetup(REAL_PERF.path, REAL_PERF.version, events, probed, ack_timeout_s=10)
    region_pages, setup_pages = 2000, 8000
    proc, probe, record, _ = _run_probe(setup, tmp_path, (setup_pages, region_pages), (300, 100))
    assert proc.returncode == 0, proc.stderr
    assert probe["region"]["error"] is None
    faults = record["events"]["page_faults"]
    assert faults["status"] == COUNTED
    # One minor fault per fresh page, plus a few for the interpreter's own pages.
    assert region_pages <= faults["value"] <= region_pages * 1.1 + 100, faults
    task_ms = record["events"]["task_clock"]["value"]
    region_ms = probe["region_cpu_ns"] / 1e6
    process_ms = probe["process_cpu_ns"] / 1e6
    assert 0.8 * region_ms <= task_ms <= 1.2 * region_ms + 20, (task_ms, region_ms)
    assert task_ms < 0.5 * process_ms  # the setup's CPU time is not in it


def test_missing_imc_alias_falls_back_to_the_raw_encoding(tmp_path, monkeypatch):
    """Sapphire Rapids on a 6.1-era kernel: uncore_imc/cas_count_read/ is unknown, the raw
    UNC_M_CAS_COUNT encodings count; the probe says so and the worker's perf uses them."""
    events = load_event_set("sapphirerapids")
    alias_r = perf_spelling("dram_cas_reads", "uncore_imc/cas_count_read/")
    alias_w = perf_spelling("dram_cas_writes", "uncore_imc/cas_count_write/")
    monkeypatch.setenv("FAKE_PERF_EVENTS", json.dumps({alias_r: "unknown", alias_w: "unknown",
                                                       "dram_cas_reads": 640}))
    probed = probe_event_set(FAKE_PERF, "6.1.0", events, tmp_path, (True, "test"))
    reads = probed["dram_cas_reads"]
    assert reads["status"] == COUNTED and reads["perf"] == "uncore_imc/event=0x05,umask=0xcf/"
    assert "uncore_imc/cas_count_read/ is unknown here" in reads["detail"]
    assert probed["dram_cas_writes"]["perf"] == "uncore_imc/event=0x05,umask=0xf0/"
    setup = PerfSetup(FAKE_PERF, "6.1.0", events, probed, ack_timeout_s=5)
    command, _ = setup.wrap(["true"], tmp_path, "w")
    assert "uncore_imc/event=0x05,umask=0xcf,name=dram_cas_reads/" in command
    assert alias_r not in command
    for key in ("ctl", "ack"):
        setup.paths(tmp_path, "w")[key].unlink()
    text = "640.00,,dram_cas_reads,1000000,100.00,,\n"
    record = perf_events_record(events, probed, text, None)
    assert record["events"]["dram_cas_reads"]["value"] == 640  # raw counts: no MiB scaling
    # Where neither spelling counts, the detail names both.
    monkeypatch.setenv("FAKE_PERF_EVENTS", json.dumps({"dram_cas_reads": "unknown"}))
    probed = probe_event_set(FAKE_PERF, "6.1.0", events.subset(["dram_cas_reads"]), tmp_path,
                             (True, "test"))
    assert probed["dram_cas_reads"]["status"] == NOT_SUPPORTED
    assert "raw encoding uncore_imc/event=0x05,umask=0xcf/" in probed["dram_cas_reads"]["detail"]

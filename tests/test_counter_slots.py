"""Virtual PMUs that report more counters than work: found by probing, never read as 0."""

import json
import os
from pathlib import Path

from harness.counters import COUNTED, NOT_COUNTED
from harness.counters.eventsets import load_event_set
from harness.counters.perf import limit_to_working_slots, probe_event_set, working_slots

FAKE_PERF = str(Path(__file__).parent / "fake_perf.py")


def test_working_slots():
    assert working_slots([5e6, 5e6, 5e6, 0.0]) == 3
    assert working_slots([5e6] * 6) is None          # every counter works: nothing to do
    assert working_slots([0.0, 0.0]) is None         # the probe says nothing
    assert working_slots([5e6, None]) is None        # a copy was not counted at all
    assert working_slots([]) is None


def test_limit_keeps_the_first_events_and_says_why():
    probed = {n: {"status": COUNTED, "detail": ""} for n in "abcd"}
    limit_to_working_slots(probed, ["a", "b", "c", "d"], 3)
    assert [p["status"] for p in probed.values()] == [COUNTED] * 3 + [NOT_COUNTED]
    assert "only 3 of the 4 hardware counters" in probed["d"]["detail"]
    limit_to_working_slots(probed, ["a", "b"], None)
    assert probed["a"]["status"] == COUNTED


def test_probe_with_a_dead_counter(tmp_path, monkeypatch):
    events = load_event_set("zen3")
    hardware = [n for n, e in events.events.items()
                if e.scope == "task" and not e.perf.startswith(("task-", "page-"))]
    # The fake PMU's sixth slot reads 0 when all six are scheduled together.
    monkeypatch.setenv("FAKE_PERF_EVENTS", json.dumps({"slot5": 0}))
    probed = probe_event_set(FAKE_PERF, "6.1.0", events, tmp_path, (True, "root"))
    counted = [n for n in hardware if probed[n]["status"] == COUNTED]
    assert counted == hardware[:5] and probed[hardware[5]]["status"] == NOT_COUNTED
    monkeypatch.setenv("FAKE_PERF_EVENTS", "{}")
    probed = probe_event_set(FAKE_PERF, "6.1.0", events, tmp_path, (True, "root"))
    assert all(probed[n]["status"] == COUNTED for n in hardware)
    assert os.access(FAKE_PERF, os.X_OK)


def test_probe_with_a_dead_counter_and_alias_events(tmp_path, monkeypatch):
    """Events spelled as perf aliases (``cycles``) cannot carry name=slotN: every copy
    prints the same name, so the probe reads the copies by position (review finding)."""
    events = load_event_set("generic")
    hardware = [n for n, e in events.events.items()
                if e.scope == "task" and "/" not in e.perf and e.perf not in
                ("task-clock", "page-faults")]
    assert len(hardware) > 2
    monkeypatch.setenv("FAKE_PERF_EVENTS", json.dumps({f"#{len(hardware) - 1}": 0}))
    probed = probe_event_set(FAKE_PERF, "6.1.0", events, tmp_path, (True, "root"))
    counted = [n for n in hardware if probed[n]["status"] == COUNTED]
    assert counted == hardware[:-1] and probed[hardware[-1]]["status"] == NOT_COUNTED

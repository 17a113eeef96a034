"""The pure perf output parser over every sample shape it accepts, and probe classification."""

import pytest

from harness.counters import COUNTED, NOT_COUNTED, NOT_PERMITTED, NOT_SUPPORTED
from harness.counters.perf_samples import SAMPLES
from harness.counters.perfstat import (base_event_name, bytes_to_count, classify_probe,
                                       parse_perf_stat)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["name"] for s in SAMPLES])
def test_every_sample(sample):
    if sample.get("raises"):
        with pytest.raises(ValueError) as err:
            parse_perf_stat(sample["text"])
        assert sample["text"].strip()[:30] in str(err.value)  # quotes the raw text
        return
    got = parse_perf_stat(sample["text"])
    assert [(c.event, c.value, c.unit, c.status) for c in got] == \
        [e[:4] for e in sample["expect"]]
    for count, expected in zip(got, sample["expect"]):
        assert count.running_fraction == pytest.approx(expected[4])
        if count.status != COUNTED:
            assert count.value is None  # never 0 for what was not counted


def test_multiplexed_flag():
    mux, full = parse_perf_stat("5,,a,10,50.00,,\n5,,b,10,100.00,,\n")
    assert mux.multiplexed and not full.multiplexed


@pytest.mark.parametrize("text", [
    "12,,cycles,100,150.00,,",            # percentage out of range
    "abc,,cycles,100,100.00,,",           # value not a number
    "12,,,100,100.00,,",                  # value without event
    "<weird>,,cycles,0,100.00,,",         # unknown placeholder
    '{"event": "cycles"}',                # JSON without a value
    "[1, 2]",                             # not CSV, not a JSON object
    "Performance counter stats for 'true':",
])
def test_garbage_is_refused_with_the_text(text):
    with pytest.raises(ValueError) as err:
        parse_perf_stat(text + "\n")
    assert text[:20] in str(err.value)


def test_zero_running_time_is_not_counted():
    (c,) = parse_perf_stat("0,,cycles,0,0.00,,\n")
    assert c.status == NOT_COUNTED and c.value is None


def test_base_event_name_and_bytes():
    assert base_event_name("cycles:u") == "cycles"
    assert base_event_name("llc_misses") == "llc_misses"
    assert base_event_name("cpu_core/cycles/") == "cycles"  # a hybrid CPU's PMU prefix
    assert base_event_name("cpu_atom/cycles/u") == "cycles"
    assert base_event_name("r412e:k") == "r412e"


def test_hybrid_lines_are_summed_and_not_counted_lines_hide_nothing():
    from harness.counters.perfstat import counts_by_event, parse_perf_stat

    text = ("1000,,cpu_core/cycles/,500,100.00,,\n"
            "<not counted>,,cpu_atom/cycles/,0,0.00,,\n"
            "200,,cpu_core/instructions/,500,50.00,,\n"
            "100,,cpu_atom/instructions/,500,100.00,,\n")
    counts = counts_by_event(parse_perf_stat(text))
    assert counts["cycles"].value == 1000 and counts["cycles"].status == "counted"
    assert counts["instructions"].value == 300
    assert counts["instructions"].running_fraction == 0.5
    assert bytes_to_count(1.0, "MiB", 64) == 2**20 / 64
    assert bytes_to_count(10.0, "", 64) is None


def test_classify_probe():
    ok = "1,,cycles,10,100.00,,\n"
    assert classify_probe(0, "", ok, "cycles") == (COUNTED, "")
    assert classify_probe(0, "", "<not supported>,,cycles,0,100.00,,\n", "cycles")[0] \
        == NOT_SUPPORTED
    assert classify_probe(0, "", "<not counted>,,cycles,0,100.00,,\n", "cycles")[0] \
        == NOT_COUNTED
    status, detail = classify_probe(
        129, "event syntax error: 'amd_df/event=0x7/'\n  Cannot find PMU `amd_df'", "", "x")
    assert status == NOT_SUPPORTED and "amd_df" in detail
    status, detail = classify_probe(
        255, "Error:\nNo permission to enable uncore_imc/cas_count_read/ event.\n", "", "x")
    assert status == NOT_PERMITTED and "No permission" in detail
    assert classify_probe(0, "", "", "x")[0] == NOT_SUPPORTED


def test_an_event_with_a_modifier_is_found_in_perf_output():
    """``cycles:u`` from a scenario: perf prints ``cycles:u`` (review finding: it was
    looked up with its modifier and recorded as not counted)."""
    from harness.counters.eventsets import custom_event_set, load_event_set
    from harness.counters.perf import perf_events_record

    events = custom_event_set(["cycles:u"], load_event_set("zen3"))
    probed = {n: {"status": "counted", "detail": ""} for n in events.events}
    record = perf_events_record(events, probed, "320704,,cycles:u,1000,100.00,,\n", None)
    assert record["events"]["cycles_u"]["status"] == "counted"
    assert record["events"]["cycles_u"]["value"] == 320704

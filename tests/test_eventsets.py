"""Every event-set file parses, defines what the harness needs, and its metrics use only
its own events."""

import pytest

from harness.counters.eventsets import (EVENTS_DIR, REQUIRED_EVENTS, VARIABLES,
                                        available_sets, custom_event_set, evaluate,
                                        formula_names, load_event_set, load_event_set_file,
                                        parse_formula, set_for_uarch)

SETS = available_sets()


def test_the_issue_sets_exist():
    assert {"skylake-sp", "icelake-sp", "sapphirerapids", "zen2", "zen3", "zen4", "zen5",
            "generic"} <= set(SETS)


@pytest.mark.parametrize("name", SETS)
def test_file_parses_and_metrics_use_only_its_events(name):
    s = load_event_set(name)
    assert s.name == name and set(REQUIRED_EVENTS) <= set(s.events)
    for metric, mdef in s.metrics.items():
        names = formula_names(mdef.formula)
        assert names <= set(s.events) | set(VARIABLES), (metric, names - set(s.events))
    for event in s.events.values():
        assert event.perf.strip() == event.perf and " " not in event.perf


@pytest.mark.parametrize("name", [n for n in SETS if n != "generic"])
def test_uarch_sets_count_dram_and_llc_or_say_why_not(name):
    s = load_event_set(name)
    for metric in ("dram_bytes_per_lookup", "llc_misses_per_lookup"):
        assert metric in s.metrics or len(s.unavailable.get(metric, "")) > 40, (name, metric)
    if "dram_bytes_per_lookup" in s.metrics:
        assert any(e.scope == "system" for e in s.events.values())  # DRAM traffic is uncore


@pytest.mark.parametrize("name", ["zen3", "zen4", "zen5"])
def test_zen_fills_are_never_called_llc_misses(name):
    """Zen counts L1D fills from beyond the L3, not Intel's LLC misses: its own names."""
    s = load_event_set(name)
    assert "llc_misses_per_lookup" not in s.metrics and "llc_misses" not in s.events
    fills = s.metrics["l1d_fills_beyond_l3_per_lookup"]
    assert fills.formula == "l1d_fills_beyond_l3 / lookups"
    assert "not Intel's LLC misses" in s.events["l1d_fills_beyond_l3"].what
    assert "L2-prefetcher fills are not counted" in s.events["l1d_fills_beyond_l3"].what
    assert "model or cachegrind" in s.unavailable["llc_misses_per_lookup"]


def test_zen1_zen2_and_zen5_have_sets_of_their_own():
    assert set_for_uarch("zen") == set_for_uarch("zen2") == "zen2"
    assert set_for_uarch("zen5") == "zen5"
    zen2 = load_event_set("zen2")
    assert zen2.events["dram_loads"].perf == "cpu/event=0x43,umask=0x48/"
    assert "no LLC-miss figure" in zen2.unavailable["llc_misses_per_lookup"]


def test_a_required_metric_missing_without_a_reason_is_refused(tmp_path):
    text = (EVENTS_DIR / "zen5.yaml").read_text().replace("name: zen5", "name: bad")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.split("unavailable:")[0])
    with pytest.raises(ValueError, match="llc_misses_per_lookup is required"):
        load_event_set_file(bad)


def test_intel_cas_events_are_the_imc_aliases():
    for name in ("skylake-sp", "icelake-sp", "sapphirerapids"):
        s = load_event_set(name)
        assert s.events["dram_cas_reads"].perf == "uncore_imc/cas_count_read/"
        assert s.events["dram_cas_writes"].bytes_per_count == 64


def test_uarch_lookup():
    assert set_for_uarch("skylake-sp") == "skylake-sp"
    assert set_for_uarch("zen4") == "zen4"
    assert set_for_uarch("unknown") == "generic"
    assert set_for_uarch("alderlake") == "generic"


def test_bad_files_name_their_problems(tmp_path):
    good = (EVENTS_DIR / "generic.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.replace("name: generic", "name: bad")
                   .replace("formula: llc_misses / llc_loads", "formula: llc_misses / dram_reads"))
    with pytest.raises(ValueError, match="dram_reads, which this file does not define"):
        load_event_set_file(bad)
    bad.write_text(good.replace("name: generic", "name: bad")
                   .replace("formula: instructions / cycles", "formula: __import__('os')"))
    with pytest.raises(ValueError, match="Call is not allowed"):
        load_event_set_file(bad)
    bad.write_text(good.replace("name: generic", "name: bad").replace("    perf: cycles\n", ""))
    with pytest.raises(ValueError, match="events.cycles.perf"):
        load_event_set_file(bad)
    bad.write_text(good.replace("name: generic", "name: bad") + "colour: red\n")
    with pytest.raises(ValueError, match="colour"):
        load_event_set_file(bad)


def test_formulas():
    assert evaluate("(a + b) * 64 / lookups", {"a": 1, "b": 3, "lookups": 2}) == 128
    assert evaluate("-a", {"a": 2}) == -2
    with pytest.raises(ZeroDivisionError):
        evaluate("a / b", {"a": 1, "b": 0})
    for bad in ("a ** 2", "a.b", "f(a)", "a if b else c", "'x'"):
        with pytest.raises(ValueError):
            parse_formula(bad)


def test_custom_events_keep_software_events_and_usable_metrics():
    base = load_event_set("zen3")
    s = custom_event_set(["cycles", "instructions", "r412e"], base)
    assert set(s.events) == {"cycles", "instructions", "r412e", "task_clock", "page_faults"}
    assert set(s.metrics) == {"ipc"}
    assert s.events["r412e"].perf == "r412e"


def test_events_say_what_linux_calls_them():
    # amdzen3 recommended.json names 0x45/0xf0 l2_dtlb_misses ("L2 DTLB Misses & Data page
    # walks"); Intel's LONGEST_LAT_CACHE.* count the L1 and L2 hardware prefetchers' requests.
    zen3 = load_event_set("zen3").events["dtlb_walks"]
    assert zen3.perf == "cpu/event=0x45,umask=0xf0/" and zen3.what.startswith("l2_dtlb_misses")
    for name in ("skylake-sp", "icelake-sp", "sapphirerapids"):
        s = load_event_set(name)
        for event in ("llc_loads", "llc_misses"):
            assert "L1 and L2 hardware prefetch" in s.events[event].what, (name, event)
            assert "not included" not in s.events[event].what


def test_raw_imc_fallback_only_where_the_alias_may_be_missing():
    spr = load_event_set("sapphirerapids")
    assert spr.events["dram_cas_reads"].fallback == "uncore_imc/event=0x05,umask=0xcf/"
    assert spr.events["dram_cas_writes"].fallback == "uncore_imc/event=0x05,umask=0xf0/"
    assert all(e.fallback is None for e in load_event_set("skylake-sp").events.values())

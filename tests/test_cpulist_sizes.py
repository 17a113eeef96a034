import pytest
from hypothesis import given, strategies as st

from harness.machine.cpulist import format_cpulist, parse_cpulist
from harness.scenario.sizes import format_bytes, parse_size


@pytest.mark.parametrize("text,cpus", [
    ("0", [0]), ("0-3", [0, 1, 2, 3]), ("0-2,8,10-11", [0, 1, 2, 8, 10, 11]),
    ("0-7:2", [0, 2, 4, 6]), (" 1 , 3 ", [1, 3]), ("", []),
])
def test_parse_cpulist(text, cpus):
    assert parse_cpulist(text) == cpus


@pytest.mark.parametrize("bad", ["0-", "a", "3-1", "-1", "1,,2", "0-3:0"])
def test_parse_cpulist_rejects(bad):
    with pytest.raises(ValueError):
        parse_cpulist(bad)


@given(st.sets(st.integers(0, 300)))
def test_cpulist_roundtrip(cpus):
    assert parse_cpulist(format_cpulist(cpus)) == sorted(cpus)


@pytest.mark.parametrize("text,kind,nbytes", [
    ("4x LLC", "llc", 4 * 32 * 2**20), ("0.25x LLC", "llc", 8 * 2**20),
    ("0.5 x llc", "llc", 16 * 2**20), ("64MiB", "bytes", 64 * 2**20),
    ("1.5GB", "bytes", 1_500_000_000), ("100 rows", "rows", 100 * 512),
    ("1_000 rows", "rows", 1000 * 512),
])
def test_parse_size(text, kind, nbytes):
    size = parse_size(text)
    assert size.kind == kind
    assert size.to_bytes(32 * 2**20, 512) == nbytes


@pytest.mark.parametrize("bad", ["4x LCC", "64", "x LLC", "0x LLC", "-1MiB", "3 parsecs",
                                 "0MiB", "0 rows", True, 1.5, None])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


def test_bare_int_needs_meaning():
    with pytest.raises(ValueError, match="ambiguous"):
        parse_size(100)
    assert parse_size(100, int_means="rows").to_rows(0, 512) == 100


def test_rows_from_llc_ratio():
    assert parse_size("0.125x LLC").to_rows(32 * 2**20, 512) == 8192
    assert parse_size("1B").to_rows(0, 512) == 1  # never zero rows


def test_format_bytes():
    assert format_bytes(33554432) == "32 MiB"
    assert format_bytes(96_136_908_288) == "89.5 GiB"

"""Table sizes as written in scenarios: relative to the LLC, in bytes, or in rows.

    "4x LLC"      four times the detected last-level cache (one LLC instance, sysfs)
    "0.5x LLC"
    "0.5x effective-LLC"  half the LLC capacity measured by `harness limits`
    "64MiB"       bytes, binary (KiB, MiB, GiB, TiB) or decimal (KB, MB, GB, TB) units
    "1000000 rows"

Bounds: at most 1 EiB (2**60 bytes), 2**40 rows, 2**20x LLC; numbers must be finite,
rows whole.

A spec is resolved against a machine only when a plan is made, so one scenario
describes the same experiment on machines with different caches.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_UNITS = {
    "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
# One number (digits with '_' separators, a fraction, an exponent; inf and nan too, so
# that they are named as such) and what follows it: 'x LLC', a byte unit or 'rows'.
_SPEC_RE = re.compile(
    r"^\s*(?P<num>[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9]+)(?:e[-+]?[0-9]+)?"
    r"|[-+]?(?:inf(?:inity)?|nan))\s*(?P<unit>x\s*[a-z-]+|[a-z]+)?\s*$", re.I)

# Bounds (documented in the scenario schema): beyond them a size is a typo, and
# Python's unbounded ints would carry it into point ids, file names and allocations.
MAX_BYTES = 2**60         # 1 EiB
MAX_ROWS = 2**40          # rows of one table (a kernel may allow fewer: MAX_ROWS there)
MAX_LLC_MULTIPLE = 2**20  # '1048576x LLC'

EXPECTED = ("a size like '4x LLC', '0.5x LLC', '0.5x effective-LLC', '64MiB', '1.5GB' "
            "or '100000 rows'")


class NeedsEffectiveLLC(ValueError):
    """An 'x effective-LLC' size was resolved without a measured LLC capacity."""


@dataclass(frozen=True)
class Size:
    """A parsed size: ``kind`` is "llc" or "effective-llc" (value is the multiple),
    "bytes" or "rows"."""

    kind: str
    value: float
    text: str

    def to_bytes(self, llc_bytes: int, row_bytes: int,
                 effective_llc_bytes: int | None = None) -> int:
        if self.kind == "llc":
            return int(round(self.value * llc_bytes))
        if self.kind == "effective-llc":
            if not effective_llc_bytes:
                raise NeedsEffectiveLLC(f"{self.text} needs the measured effective LLC")
            return int(round(self.value * effective_llc_bytes))
        if self.kind == "bytes":
            return int(self.value)
        return int(self.value) * row_bytes

    def to_rows(self, llc_bytes: int, row_bytes: int,
                effective_llc_bytes: int | None = None) -> int:
        """Rows of ``row_bytes`` each that fit the size; at least one."""
        if self.kind == "rows":
            return int(self.value)
        return max(1, self.to_bytes(llc_bytes, row_bytes, effective_llc_bytes) // row_bytes)

    def scaled(self, factor: float) -> "Size":
        return Size(self.kind, self.value * factor, f"{self.text} x {factor:g}")

    def __str__(self) -> str:
        return self.text


def _q(value) -> str:
    """The value as quoted in a message; a 300-digit typo is shown by its start."""
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "...'"


def kind_of(text: str) -> str | None:
    """The kind a size is written as ("llc", "effective-llc", "bytes", "rows"), judged
    by its unit alone; None when it has no recognisable one. Lets an option that takes
    only bytes say "not an amount of memory" to '1.5 rows' rather than discuss rows."""
    m = _SPEC_RE.match(text) if isinstance(text, str) else None
    unit = (m.group("unit") or "").lower() if m else ""
    if unit.startswith("x"):
        return "effective-llc" if "effective" in unit else "llc"
    if unit in ("row", "rows"):
        return "rows"
    return "bytes" if unit in _UNITS else None


def parse_size(value, *, int_means: str | None = None, expect: str | None = None) -> Size:
    """Parse a size spec; ``int_means`` says what a bare integer is ("rows"), if allowed.

    ``expect`` replaces "a size like ..." in messages when the caller takes fewer
    forms (bytes only, say) or more ('60%'), so a message suggests only what it takes.
    Raises ValueError saying what is wrong (not a number, not finite, too large,
    unknown unit) and what was expected.
    """
    want = expect or EXPECTED
    if isinstance(value, bool):
        raise ValueError(f"expected {want}, got {_q(value)}")
    if isinstance(value, int):
        if int_means is None:
            raise ValueError(f"a bare number is ambiguous here; expected {want} (got {value})")
        if value <= 0:
            raise ValueError(f"expected a positive number of {int_means}, got {value}")
        if value > MAX_ROWS:
            raise ValueError(f"{value} {int_means} is too many; at most {MAX_ROWS} (2**40)")
        return Size(int_means, value, f"{value} {int_means}")
    if not isinstance(value, str):
        raise ValueError(f"expected {want}, got {_q(value)}")
    m = _SPEC_RE.match(value)
    if not m:
        raise ValueError(f"{_q(value)} is not {want}")
    number, unit = m.group("num").replace("_", ""), (m.group("unit") or "").lower()
    if not unit:
        raise ValueError(f"{_q(value)} has no unit; expected {want}")
    amount = float(number)  # digits beyond float's range give inf: too large, below
    if math.isnan(amount) or (math.isinf(amount) and "inf" in number.lower()):
        raise ValueError(f"{_q(value)}: {m.group('num')} is not a finite number")
    if unit.startswith("x"):
        return _llc_size(value, amount, m.group("unit")[1:].strip(), want)
    if unit in ("row", "rows"):
        return _rows_size(value, number, amount)
    if unit not in _UNITS:
        raise ValueError(f"{_q(value)}: unknown unit {m.group('unit')!r}; expected {want}")
    if amount <= 0:
        raise ValueError(f"{_q(value)}: the size must be positive")
    nbytes = amount * _UNITS[unit]
    if nbytes > MAX_BYTES:
        raise ValueError(f"{_q(value)} is too large; at most {MAX_BYTES} bytes (1 EiB)")
    if nbytes < 1:
        raise ValueError(f"{_q(value)}: the size must be at least one byte")
    return Size("bytes", int(nbytes), value.strip())


def _llc_size(value: str, factor: float, cache: str, want: str) -> Size:
    if cache.lower() not in ("llc", "effective-llc"):
        raise ValueError(f"{_q(value)}: unknown cache {cache!r} after 'x'; expected {want}")
    if factor <= 0:
        raise ValueError(f"{_q(value)}: the LLC multiple must be positive")
    if factor > MAX_LLC_MULTIPLE:
        raise ValueError(f"{_q(value)}: the LLC multiple is too large; at most "
                         f"{MAX_LLC_MULTIPLE} (2**20)")
    if cache.lower() == "effective-llc":
        return Size("effective-llc", factor, f"{factor:g}x effective-LLC")
    return Size("llc", factor, f"{factor:g}x LLC")


def _rows_size(value: str, number: str, amount: float) -> Size:
    if number.lstrip("+-").isdigit():
        rows = int(number)  # exact, however long
    elif math.isinf(amount) or amount.is_integer():
        rows = MAX_ROWS + 1 if math.isinf(amount) else int(amount)
    else:
        raise ValueError(f"{_q(value)}: rows must be a whole number")
    if rows <= 0:
        raise ValueError(f"{_q(value)}: the number of rows must be positive")
    if rows > MAX_ROWS:
        raise ValueError(f"{_q(value)} is too many rows; at most {MAX_ROWS} (2**40)")
    return Size("rows", rows, f"{rows} rows")


def format_bytes(nbytes: float) -> str:
    """Human-readable binary size: 33554432 -> '32 MiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")

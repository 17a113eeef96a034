"""Table sizes as written in scenarios: relative to the LLC, in bytes, or in rows.

    "4x LLC"      four times the detected last-level cache (one LLC instance, sysfs)
    "0.5x LLC"
    "0.5x effective-LLC"  half the LLC capacity measured by `harness limits`
    "64MiB"       bytes, binary (KiB, MiB, GiB, TiB) or decimal (KB, MB, GB, TB) units
    "1000000 rows"

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
_LLC_RE = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*x\s*(llc|effective-llc)\s*$", re.I)
_BYTES_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]+)\s*$", re.I)
_ROWS_RE = re.compile(r"^\s*([0-9][0-9_]*)\s*rows?\s*$", re.I)

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


def parse_size(value, *, int_means: str | None = None) -> Size:
    """Parse a size spec; ``int_means`` says what a bare integer is ("rows"), if allowed.

    Raises ValueError with a message that says what was expected.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {EXPECTED}, got {value!r}")
    if isinstance(value, int):
        if int_means is None:
            raise ValueError(
                f"a bare number is ambiguous here; expected {EXPECTED} (got {value})")
        if value <= 0:
            raise ValueError(f"expected a positive number of {int_means}, got {value}")
        return Size(int_means, value, f"{value} {int_means}")
    if not isinstance(value, str):
        raise ValueError(f"expected {EXPECTED}, got {value!r}")
    text = value.strip()
    if m := _LLC_RE.match(text):
        factor = float(m.group(1))
        if not math.isfinite(factor) or factor <= 0:
            raise ValueError(f"{value!r}: the LLC multiple must be positive")
        if m.group(2).lower() == "effective-llc":
            return Size("effective-llc", factor, f"{factor:g}x effective-LLC")
        return Size("llc", factor, f"{factor:g}x LLC")
    if m := _ROWS_RE.match(text):
        rows = int(m.group(1).replace("_", ""))
        if rows <= 0:
            raise ValueError(f"{value!r}: the number of rows must be positive")
        return Size("rows", rows, f"{rows} rows")
    if m := _BYTES_RE.match(text):
        unit = m.group(2).lower()
        if unit not in _UNITS:
            raise ValueError(f"{value!r}: unknown unit {m.group(2)!r}; expected {EXPECTED}")
        nbytes = float(m.group(1)) * _UNITS[unit]
        if not math.isfinite(nbytes) or nbytes < 1:
            raise ValueError(f"{value!r}: the size must be at least one byte")
        return Size("bytes", int(nbytes), text)
    raise ValueError(f"{value!r} is not {EXPECTED}")


def format_bytes(nbytes: float) -> str:
    """Human-readable binary size: 33554432 -> '32 MiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")

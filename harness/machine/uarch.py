"""Microarchitecture names from CPUID vendor/family/model (and stepping).

The names key the counter event sets (``harness/counters/events/<uarch>.yaml``).
Family/model ranges follow Linux's ``tools/perf/pmu-events/arch/x86/mapfile.csv``.
"""

from __future__ import annotations

import re

# Intel family 6: model -> (uarch, codename). Server parts first; the client cores
# of the same generation share their core events but not their uncore.
_INTEL_FAMILY6 = {
    0x3F: ("haswellx", "Haswell-EP"),
    0x4F: ("broadwellx", "Broadwell-EP"),
    0x56: ("broadwellx", "Broadwell-DE"),
    0x55: ("skylake-sp", "Skylake-SP"),  # stepping picks Cascade/Cooper Lake below
    0x6A: ("icelake-sp", "Ice Lake-SP"),
    0x6C: ("icelake-sp", "Ice Lake-D"),
    0x8F: ("sapphirerapids", "Sapphire Rapids"),
    0xCF: ("sapphirerapids", "Emerald Rapids"),
    0xAD: ("graniterapids", "Granite Rapids"),
    0xAE: ("graniterapids", "Granite Rapids-D"),
    0x4E: ("skylake", "Skylake"),
    0x5E: ("skylake", "Skylake"),
    0x8E: ("skylake", "Kaby/Coffee/Whiskey Lake"),
    0x9E: ("skylake", "Kaby/Coffee Lake"),
    0xA5: ("skylake", "Comet Lake"),
    0xA6: ("skylake", "Comet Lake"),
    0x7D: ("icelake", "Ice Lake"),
    0x7E: ("icelake", "Ice Lake"),
    0x97: ("alderlake", "Alder Lake"),
    0x9A: ("alderlake", "Alder Lake"),
    0xB7: ("alderlake", "Raptor Lake"),
    0xBA: ("alderlake", "Raptor Lake"),
    0xBF: ("alderlake", "Raptor Lake"),
}


# Linux's tools/perf/pmu-events/arch/x86/mapfile.csv, its AMD lines verbatim (first match
# wins; perf matches "AuthenticAMD-<family>-<model in hex>" against them). Family 0x19:
# models 0x00-0x0F, 0x20-0x2F, 0x40-0x5F are Zen 3 (Milan, Vermeer, Rembrandt, Cezanne);
# every other model, 0x30-0x3F included, is Zen 4 (Genoa 0x11, Raphael 0x61, ...).
_AMD_MAPFILE = (
    ("AuthenticAMD-23-([12][0-9A-F]|[0-9A-F])", "zen", "Zen/Zen+"),
    ("AuthenticAMD-23-[[:xdigit:]]+", "zen2", "Zen 2"),
    ("AuthenticAMD-25-([245][[:xdigit:]]|[[:xdigit:]])", "zen3", "Zen 3"),
    ("AuthenticAMD-25-[[:xdigit:]]+", "zen4", "Zen 4"),
    ("AuthenticAMD-26-[[:xdigit:]]+", "zen5", "Zen 5"),
)


def _amd(family: int, model: int) -> tuple[str, str]:
    """The mapfile's answer for an AMD (or Hygon) family/model."""
    cpuid = f"AuthenticAMD-{family}-{model:X}"
    for pattern, uarch, codename in _AMD_MAPFILE:
        if re.fullmatch(pattern.replace("[:xdigit:]", "0-9A-F"), cpuid):
            return uarch, codename
    return ("unknown", f"AMD family {family:#x}")


def identify(vendor: str, family: int | None, model: int | None,
             stepping: int | None = None) -> tuple[str, str]:
    """Return (uarch, codename); uarch is "unknown" when the CPU is not recognised."""
    if family is None or model is None:
        return ("unknown", "unknown")
    if vendor == "GenuineIntel" and family == 6:
        uarch, codename = _INTEL_FAMILY6.get(model, ("unknown", f"Intel model {model:#x}"))
        if model == 0x55 and stepping is not None:
            if 5 <= stepping <= 7:
                codename = "Cascade Lake-SP"
            elif stepping >= 10:
                codename = "Cooper Lake-SP"
        return uarch, codename
    if vendor in ("AuthenticAMD", "HygonGenuine"):
        return _amd(family, model)
    return ("unknown", f"{vendor} family {family} model {model}")

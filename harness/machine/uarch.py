"""Microarchitecture names from CPUID vendor/family/model (and stepping).

The names key the counter event sets (``harness/counters/events/<uarch>.yaml``).
Family/model ranges follow Linux's ``tools/perf/pmu-events/arch/x86/mapfile.csv``.
"""

from __future__ import annotations

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


def _amd(family: int, model: int) -> tuple[str, str]:
    if family == 0x17:
        return ("zen", "Zen/Zen+") if model < 0x30 else ("zen2", "Zen 2")
    if family == 0x19:
        # Zen 3: Milan (0x01), Vermeer (0x21), Cezanne (0x50); the rest of family
        # 0x19 is Zen 4: Genoa (0x11), Raphael (0x61), Phoenix (0x74), Bergamo (0xA0).
        if model <= 0x0F or 0x20 <= model <= 0x5F:
            return ("zen3", "Zen 3")
        return ("zen4", "Zen 4")
    if family == 0x1A:
        return ("zen5", "Zen 5")
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

"""Where a result came from: library versions and the harness's git commit."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

LIBRARIES = ("torch", "numpy", "pyperf", "pandas", "matplotlib", "pydantic", "scipy",
             "psutil", "py-cpuinfo", "PyYAML", "numba")


def library_versions() -> dict[str, str]:
    """Installed versions, read from package metadata (no imports: torch costs 1.5 s)."""
    out = {"python": platform.python_version(),
           "python_implementation": platform.python_implementation()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_state(path: Path | None = None) -> dict:
    """Commit and dirtiness of the checkout holding the harness, if it is one."""
    from harness.machine.gitrepo import head_state

    return head_state(path or Path(__file__).resolve().parent.parent)

"""Where a result came from: library versions and the harness's git commit."""

from __future__ import annotations

import platform
import subprocess
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
    path = path or Path(__file__).resolve().parent.parent

    def git(*args):
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True,
                              text=True, timeout=20)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": "unknown", "dirty": None, "reason": "not a git checkout"}
        status = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"commit": "unknown", "dirty": None, "reason": str(exc)}

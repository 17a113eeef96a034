"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results are for sharing
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False, allow_nan=True) + "\n")


# What a result directory (run, ab side, limits) holds; reports and comparisons write
# beside results, never over them.
RESULT_FILES = frozenset({"manifest.json", "points.csv", "pyperf.json", "limits.json"})


def refuse_result_file(path: str | os.PathLike, option: str = "output") -> None:
    """UsageError when ``path`` is one of a result directory's own files."""
    from harness.errors import UsageError

    path = Path(path)
    if path.name in RESULT_FILES and (path.parent / "manifest.json").exists():
        raise UsageError(f"{option} {path}: that is a result file of {path.parent}; "
                         f"write the output elsewhere (results are never overwritten)")

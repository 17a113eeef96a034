"""Result format versions: each file carries ``format_version``; a reader upgrades an
older file in memory, one step at a time, and refuses a newer one (pyperf's and asv's
approach). manifest.json versions its directory's points.csv and pyperf.json, which
are always written with it; raw run records and limits.json carry their own.

Format 1 -> 2: the manifest no longer stores the scenario a third time as ``given``
(the parse of ``text``); raw run records and limits.json gained ``format_version``
(format 1 ones have none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from harness import RESULT_FORMAT_VERSION
from harness.errors import UsageError

OLDEST_READABLE = 1


def _manifest_1_to_2(data: dict) -> dict:
    scenario = data.get("scenario")
    if isinstance(scenario, dict):
        data["scenario"] = {k: v for k, v in scenario.items() if k != "given"}
    return data


def _unchanged(data: dict) -> dict:
    return data


# file kind -> {version: step to version + 1}
UPGRADES: dict[str, dict[int, Callable[[dict], dict]]] = {
    "manifest": {1: _manifest_1_to_2},
    "run record": {1: _unchanged},
    "limits": {1: _unchanged},
}


def upgraded(kind: str, data: dict, path: Path) -> dict:
    """``data`` of file kind ``kind`` brought up to RESULT_FORMAT_VERSION; UsageError
    naming ``path`` when it is newer than this harness reads, or too old.

    Only the manifest must state its version; the others had none in format 1.
    """
    if kind == "manifest":
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise UsageError(f"{path}: not a harness result manifest (no integer "
                             f"format_version)")
    else:
        version = data.get("format_version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise UsageError(f"{path}: format_version {version!r} is not an integer")
    if version > RESULT_FORMAT_VERSION:
        raise UsageError(f"{path}: result format {version} is newer than this harness reads "
                         f"(up to {RESULT_FORMAT_VERSION}): update the harness")
    if version < OLDEST_READABLE:
        raise UsageError(f"{path}: result format {version} is too old to read (this harness "
                         f"reads {OLDEST_READABLE}..{RESULT_FORMAT_VERSION})")
    data = dict(data)
    while version < RESULT_FORMAT_VERSION:
        data = UPGRADES[kind][version](data)
        version += 1
        data["format_version"] = version
    return data

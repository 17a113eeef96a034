"""Stored limits results: find this machine's newest, load one, analyse one into limits.json.

Scenarios may size tables relative to the *effective* LLC ("0.5x effective-LLC"), which
only a `harness limits` run measures; `run`, `ab` and `validate` take it from here so
that none of them needs the limits command.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError
from harness.execute.plan import needs_effective_llc
from harness.limits.analysis import analyse
from harness.machine.detect import Machine
from harness.store.models import LIMITS_FILE
from harness.store.reader import read_limits, read_result as load_result
from harness.store.results import write_limits

DEFAULT_ROOT = Path("results")


def find_limits(machine: Machine, root: Path = DEFAULT_ROOT) -> Path | None:
    """The newest stored limits result of this machine under root/limits/, if any."""
    candidates = sorted((root / "limits").glob(f"*/{LIMITS_FILE}"),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        try:
            data = read_limits(path.parent)
        except UsageError:
            continue  # a damaged, foreign or newer file is simply not a candidate
        if data.get("machine_identity") == machine.identity() and data.get("effective_llc_bytes"):
            return path.parent
    return None


def load_limits(directory: Path, machine: Machine) -> dict:
    """``directory``'s limits.json, refused when it is of another machine or has no knee."""
    path = Path(directory) / LIMITS_FILE
    if not path.is_file():
        raise UsageError(f"{path}: missing (is {directory} a `harness limits` result?)")
    data = read_limits(directory)
    if data.get("machine_identity") != machine.identity():
        raise UsageError(f"{path}: measured on another machine "
                         f"({data.get('machine_identity')}); measure this one")
    if not data.get("effective_llc_bytes"):
        raise UsageError(f"{path}: no effective LLC was found in that run "
                         f"({data.get('knees_by_row_bytes')})")
    return data


def stored_effective_llc(limits_dir, loaded, machine: Machine,
                         root: Path = DEFAULT_ROOT) -> tuple[int | None, str | None]:
    """The effective LLC from ``limits_dir`` or this machine's newest stored limits
    result, when the scenario's sizes need one; (None, None) when none is stored."""
    if not needs_effective_llc(loaded):
        return None, None
    directory = limits_dir or find_limits(machine, root)
    if directory is None:
        return None, None
    # Absolute: the manifest's reference must still lead here from another directory.
    return (load_limits(directory, machine)["effective_llc_bytes"],
            str(Path(directory).resolve()))


def write_analysis(out: Path) -> dict:
    """Analyse a stored limits result into out/limits.json and return it."""
    stored = load_result(out)
    limits = analyse(stored.rows, stored.manifest["machine"])
    limits["result_dir"] = str(out)
    limits["machine_identity"] = Machine.from_dict(stored.manifest["machine"]).identity()
    return write_limits(out, limits)

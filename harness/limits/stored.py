"""Stored limits results: find this machine's newest, load one, analyse one into limits.json.

Scenarios may size tables relative to the *effective* LLC ("0.5x effective-LLC"), which
only a `harness limits` run measures; `run`, `ab` and `validate` take it from here so
that none of them needs the limits command.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import UsageError
from harness.execute.plan import needs_effective_llc
from harness.limits.analysis import analyse
from harness.limits.doubt import doubts, refusal
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


def _judge(data: dict, machine: Machine) -> None:
    """Fill in the doubts of a limits.json written before they were stored."""
    if "doubtful_reasons" not in data:
        l2 = next((c.size_bytes for c in machine.caches if c.level == 2), None)
        data["doubtful_reasons"] = doubts({"l2_bytes": l2} | data)
        data["doubtful"] = bool(data["doubtful_reasons"])


def load_limits(directory: Path, machine: Machine, trust_doubtful: bool = False) -> dict:
    """``directory``'s limits.json, refused when it is of another machine or has no knee,
    or when its effective LLC is doubtful and ``trust_doubtful`` is not given (a result
    written before doubts were stored is judged now, with this machine's L2)."""
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
    _judge(data, machine)
    if data["doubtful_reasons"] and not trust_doubtful:
        raise UsageError(refusal(directory, data["doubtful_reasons"]))
    if data["doubtful_reasons"]:
        print(f"warning: sizing tables from a doubtful limits result ({directory}), as "
              f"asked: " + "; ".join(data["doubtful_reasons"]), file=sys.stderr)
    return data


def trusts_doubtful(loaded, asked: bool = False) -> bool:
    """Whether a doubtful limits result may size ``loaded``'s tables: asked on the
    command line, or ``tables.trust_doubtful_limits`` in the scenario."""
    return asked or loaded.scenario.tables.trust_doubtful_limits


def stored_effective_llc(limits_dir, loaded, machine: Machine,
                         root: Path = DEFAULT_ROOT,
                         trust_doubtful: bool = False) -> tuple[int | None, str | None]:
    """The effective LLC from ``limits_dir`` or this machine's newest stored limits
    result, when the scenario's sizes need one; (None, None) when none is stored.
    A doubtful result is refused (exit 2 with its reasons) unless trusted."""
    if not needs_effective_llc(loaded):
        return None, None
    directory = limits_dir or find_limits(machine, root)
    if directory is None:
        return None, None
    # Absolute: the manifest's reference must still lead here from another directory.
    trust = trusts_doubtful(loaded, trust_doubtful)
    return (load_limits(directory, machine, trust)["effective_llc_bytes"],
            str(Path(directory).resolve()))


def write_analysis(out: Path) -> dict:
    """Analyse a stored limits result into out/limits.json and return it."""
    stored = load_result(out)
    limits = analyse(stored.rows, stored.manifest["machine"])
    limits["result_dir"] = str(out)
    limits["machine_identity"] = Machine.from_dict(stored.manifest["machine"]).identity()
    return write_limits(out, limits)


def doubtful_reasons_of(source: str | None, machine: Machine) -> list[str] | None:
    """The doubts of the limits result a run's tables were sized from (its manifest
    records them); None when no limits result was used."""
    if source is None:
        return None
    data = read_limits(source)
    _judge(data, machine)
    return data["doubtful_reasons"]

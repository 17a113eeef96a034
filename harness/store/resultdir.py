"""Where a new result may be written: an empty directory, or one this harness creates.

A run writes several files and removes its scratch folder (``.work``) when it ends, so
pointing ``--out`` at a directory holding anything else would overwrite or delete what
is there. A new result therefore goes only into a directory that does not exist yet
or holds nothing but a lock file a run left behind (resuming one is ``--resume``'s
business). The check is made once before anything is measured, for an early answer,
and again once the directory's lock is held (``check_still_free``), because another
run may have written there in between.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError

MANIFEST_FILE = "manifest.json"
# What a run stopped before its first write leaves behind: the lock file (kept, as
# flock needs it) and, when empty, its scratch and raw-record folders.
LOCK_FILE, EMPTY_LEFTOVERS = ".lock", frozenset({".work", "raw"})
LISTED = 8  # entries named in the refusal; the rest are counted


def _in_the_way(directory: Path, subdirs: tuple[str, ...] = ()) -> list[str]:
    """The entries of ``directory`` a new result would overwrite or delete (relative)."""
    try:
        entries = sorted(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []  # not there yet (creating it says what is wrong, if anything)
    except OSError as exc:
        raise UsageError(f"{directory}: cannot list it: {exc.strerror or exc}") from None
    found = []
    for entry in entries:
        is_dir = entry.is_dir() and not entry.is_symlink()
        if entry.name == LOCK_FILE and entry.is_file() and not entry.is_symlink():
            continue
        if entry.name in EMPTY_LEFTOVERS and is_dir and not any(entry.iterdir()):
            continue
        if entry.name in subdirs and is_dir:
            found += [f"{entry.name}/{inner}" for inner in _in_the_way(entry)]
            continue
        found.append(entry.name + ("/" if is_dir else ""))
    return found


def _refusal(out: Path, in_the_way: list[str], taken_hint: str) -> UsageError:
    if any(Path(name).name == MANIFEST_FILE for name in in_the_way):
        return UsageError(f"{out}: already holds results; {taken_hint}")
    shown = ", ".join(in_the_way[:LISTED])
    more = f" and {len(in_the_way) - LISTED} more" if len(in_the_way) > LISTED else ""
    return UsageError(f"{out}: not empty and not a result of this harness; a new result "
                      f"would overwrite or delete what is there ({shown}{more}): choose "
                      f"an empty or new directory")


def claim_result_dir(out: Path, taken_hint: str, *subdirs: str) -> Path:
    """Create ``out`` (and ``subdirs`` under it) for a new result, refusing a directory
    that holds anything: results (``taken_hint`` says what to do instead) or other
    files (listed). A directory that cannot be created is a clear error."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory; choose a new directory")
    in_the_way = _in_the_way(out, subdirs)
    if in_the_way:
        raise _refusal(out, in_the_way, taken_hint)
    try:
        for place in [out / d for d in subdirs] or [out]:
            place.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the result directory: "
                         f"{exc.strerror or exc}") from None
    return out


def check_still_free(out: Path, taken_hint: str, allowed: tuple[str, ...] = ()) -> None:
    """With ``out``'s lock held: refuse if a result (or anything but ``allowed``
    entries, such as an ab run's side folders) appeared since it was claimed."""
    in_the_way = [name for name in _in_the_way(Path(out), allowed)]
    if in_the_way:
        raise _refusal(Path(out), in_the_way, taken_hint)

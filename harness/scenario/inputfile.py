"""Reading the files a scenario names without trusting them: scenarios and id traces.

``load_trace`` is also how a worker reads its trace.

A path may name anything: a directory, ``/dev/zero``, a FIFO nobody writes to, a
50 GB log. Reading such a thing whole once grew ``harness validate`` to 21.9 GB, so
every input file is checked with ``stat`` first (no open: opening a FIFO blocks), must
be a regular file, and is read only up to its documented bound:

- scenario files: at most ``MAX_SCENARIO_BYTES`` (1 MiB; the largest scenario in
  the repository, Criteo-TB's 26 tables, is about 3 KiB);
- text traces (one id per line): at most ``MAX_TEXT_TRACE_BYTES`` (256 MiB, some 25
  million ids; each id is parsed in Python). Convert larger traces to ``.npy``;
- ``.npy`` traces: at most ``MAX_NPY_TRACE_BYTES`` (16 GiB, two billion int64 ids):
  they are memory-mapped, so only the ids a worker uses are read.
"""

from __future__ import annotations

import array
import os
import re
import stat
from pathlib import Path

import numpy as np

from harness.scenario.sizes import format_bytes

MAX_SCENARIO_BYTES = 1 << 20
MAX_TEXT_TRACE_BYTES = 256 << 20
MAX_NPY_TRACE_BYTES = 16 << 30

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"))


class InputFileProblem(ValueError):
    """The file cannot be used; the message says what it is instead and what is wanted."""


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words: 'a directory', 'a character device'..."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "not a regular file"


def checked_size(path: Path, limit: int, what: str, advice: str = "") -> int:
    """Bytes of ``path`` once it is known to be a regular file of at most ``limit`` bytes.

    Raises FileNotFoundError when nothing is there, InputFileProblem for anything
    else that is wrong (kind, size), OSError when it cannot be examined.
    """
    st = os.stat(path)  # follows symlinks: a link to a regular file is fine
    if not stat.S_ISREG(st.st_mode):
        raise InputFileProblem(f"is {file_kind(st.st_mode)}, not {what}")
    if st.st_size > limit:
        raise InputFileProblem(f"is {format_bytes(st.st_size)}; {what} may be at most "
                               f"{format_bytes(limit)}{advice}")
    return st.st_size


def read_bounded(path: Path, limit: int, what: str, advice: str = "") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see ``checked_size``).

    The read itself stops at ``limit + 1`` bytes, so a file that grows after the check
    (or a /proc file whose size reads 0) is still refused rather than read whole.
    """
    checked_size(path, limit, what, advice)
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputFileProblem(f"holds more than {format_bytes(limit)}; {what} may be "
                               f"at most that{advice}")
    return data


def check_trace(path: Path) -> str | None:
    """Problem with a trace file of ids, or None. Accepts .npy or one integer per line."""
    try:
        load_trace(path)
    except FileNotFoundError:
        return f"trace file {str(path)!r} does not exist"
    except (InputFileProblem, ValueError) as exc:
        return f"trace file {str(path)!r} {exc}"
    except OSError as exc:
        return f"trace file {str(path)!r} cannot be read: {exc.strerror or exc}"
    return None


_ASCII_ID = re.compile(rb"[0-9]+")


def load_trace(path: Path) -> np.ndarray:
    """Ids from a trace file: a 1-D integer .npy, or text with one integer per line.

    Raises FileNotFoundError, InputFileProblem (not a regular file, over the bound
    of ``harness.scenario.inputfile``), ValueError (malformed: says where) or OSError.
    Messages continue "trace file 'PATH' ...".
    """
    if path.suffix == ".npy":
        checked_size(path, MAX_NPY_TRACE_BYTES, "a trace file of ids")
        try:
            ids = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"is not a readable .npy file ({exc})") from None
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise ValueError(f"is malformed: expected a 1-D integer array, got {ids.dtype} "
                             f"{ids.shape}")
        if ids.size and ids.min() < 0:
            raise ValueError("is malformed: ids must be non-negative")
    else:
        ids = _text_ids(read_bounded(path, MAX_TEXT_TRACE_BYTES, "a trace file of ids",
                                     advice=" as text; save larger traces as .npy (up to "
                                            f"{format_bytes(MAX_NPY_TRACE_BYTES)})"))
    if ids.size == 0:
        raise ValueError("holds no ids")
    return ids


def _text_ids(data: bytes) -> np.ndarray:
    """One id per line, '#' comments and blank lines allowed; ASCII digits only (str.isdigit
    also takes superscripts like '\u00b2', which int() then refuses without a line number)."""
    ids = array.array("q")
    for lineno, line in enumerate(data.split(b"\n"), 1):
        text = line.split(b"#", 1)[0].strip()
        if not text:
            continue
        shown = text[:40].decode("utf-8", errors="replace")
        if not _ASCII_ID.fullmatch(text):
            raise ValueError(f"is malformed: line {lineno}: {shown!r} is not a non-negative "
                             f"integer id (ASCII digits 0-9)")
        if len(text) > 19 or int(text) > 2**63 - 1:
            raise ValueError(f"is malformed: line {lineno}: id {shown} does not fit in int64")
        ids.append(int(text))
    return np.frombuffer(ids, dtype=np.int64) if ids else np.zeros(0, dtype=np.int64)


def read_scenario_text(path: str | Path) -> str:
    """A scenario file's text: a regular UTF-8 file of at most MAX_SCENARIO_BYTES, or
    UsageError naming what is wrong (every scenario loader reads through this)."""
    from harness.errors import UsageError

    file = str(path)
    try:
        return read_bounded(Path(path), MAX_SCENARIO_BYTES, "a scenario file").decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"{file}: no such scenario file") from None
    except InputFileProblem as exc:
        raise UsageError(f"{file}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{file}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise UsageError(f"{file}: cannot read: {exc.strerror or exc}") from None

"""One writer per result directory: an advisory lock the kernel drops when we die.

``flock`` is released when the holding process exits, however it exits, so a
crashed or killed run never leaves a stale lock that needs manual clean-up.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from harness.errors import UsageError

LOCK_FILE = ".lock"


class DirectoryLock:
    def __init__(self, directory: Path):
        self.path = Path(directory) / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> "DirectoryLock":
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(f"{self.path.parent}: cannot create a lock file: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise UsageError(f"{self.path.parent}: another run (pid {holder}) is writing "
                                 f"this directory; wait for it or choose another --out") from None
            raise UsageError(f"{self.path.parent}: cannot lock: {exc}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None

"""SIGINT/SIGTERM during a run: stop the current worker, keep what finished.

While installed, either signal raises ``Interrupted`` in the main thread — except
inside ``critical()`` sections (writing result files), where it is held until the
section ends, so a file is never left half-updated by a Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal


class Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, as shells report


class SignalGuard:
    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.pending: int | None = None
        self.depth = 0
        self._old: dict = {}

    def _handler(self, signum, frame):
        if self.depth:
            self.pending = self.pending or signum
            return
        raise Interrupted(signum)

    @contextlib.contextmanager
    def installed(self):
        self._old = {s: signal.signal(s, self._handler) for s in self.SIGNALS}
        try:
            yield self
        finally:
            for s, old in self._old.items():
                signal.signal(s, old)

    @contextlib.contextmanager
    def critical(self, deliver: bool = True):
        """Hold signals while the body runs; deliver a held one afterwards if asked."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if deliver and not self.depth and self.pending is not None:
            signum, self.pending = self.pending, None
            raise Interrupted(signum)

"""SIGINT/SIGTERM/SIGHUP during a run: stop the current worker, keep what finished.

While installed, any of these signals raises ``Interrupted`` in the main thread —
except inside ``critical()`` sections (writing result files), where it is held until
the section ends, so a file is never left half-updated by a Ctrl-C. SIGHUP is there
because a closed terminal or SSH session sends it, and the manager must still stop
its worker (which runs in a session of its own) and mark the run interrupted.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess

TERMINATE_GRACE_S = 5.0
_PR_SET_PDEATHSIG = 1


def stop_process_group(proc: subprocess.Popen, grace_s: float = TERMINATE_GRACE_S) -> None:
    """SIGTERM a child's process group, then SIGKILL what is left after ``grace_s``."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if the manager dies without stopping it
    (SIGKILL of the manager, say), instead of measuring on as an orphan on pinned CPUs.
    It also unblocks the signals ``signals_held`` blocked around its start."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SignalGuard.SIGNALS)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to ask for
        pass


class Interrupted(BaseException):
    """A signal asked the manager to stop. A BaseException, like KeyboardInterrupt, so
    that no ``except Exception`` on the way turns it into a failure of something else."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, as shells report


@contextlib.contextmanager
def signals_held():
    """Block SIGINT/SIGTERM/SIGHUP while a child is forked; they arrive once it exists.

    With a preexec_fn, fork runs Python's at-fork hooks in the parent, and an exception
    a signal handler raises inside one is printed and dropped ("Exception ignored"): a
    Ctrl-C there would be lost. Blocked, the signal waits and is handled after the fork.
    The child unblocks them itself (``die_with_parent``).
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SignalGuard.SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class SignalGuard:
    """Turns the stop signals into ``Interrupted`` while installed.

    The signal is also remembered as ``pending`` until whoever handles the interruption
    calls ``clear()``: if the raise is dropped on the way (an exception raised inside a
    callback Python ignores, such as an at-fork hook), ``check()`` raises it again at
    the next safe point, so no signal is lost.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self):
        self.pending: int | None = None
        self.depth = 0
        self._old: dict = {}

    def _handler(self, signum, frame):
        self.pending = self.pending or signum
        if not self.depth:
            raise Interrupted(self.pending)

    def check(self) -> None:
        """Raise a signal that arrived and has not been handled (outside critical)."""
        if self.pending is not None and not self.depth:
            raise Interrupted(self.pending)

    def clear(self) -> None:
        """The interruption has been handled: forget it."""
        self.pending = None

    @contextlib.contextmanager
    def installed(self):
        # A hangup ignored from the start (``nohup``) stays ignored: the user asked
        # for the run to outlive the terminal.
        self._old = {s: signal.signal(s, self._handler) for s in self.SIGNALS
                     if s != signal.SIGHUP or signal.getsignal(s) is not signal.SIG_IGN}
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


@contextlib.contextmanager
def stop_quietly():
    """Until a SignalGuard takes over (and after): SIGTERM and SIGHUP raise Interrupted
    instead of killing the process, so that a command stopped at any moment exits with
    128+signal and one line (SIGINT already raises KeyboardInterrupt). A signal ignored
    when the process started (``nohup``) stays ignored."""
    def interrupt(signum, frame):
        raise Interrupted(signum)

    old = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            old[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)

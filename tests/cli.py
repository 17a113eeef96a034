"""Run the harness's command line (or a script) as a subprocess, as a user would.

The functional tests' one way of calling ``python -m harness ...``: output captured as
text, never an exception on a non-zero exit (tests check the status themselves), and a
time limit so a hung command fails the test instead of the whole run. The child gets
this environment (PYTHONPATH included, so a worktree's code is the code run).
"""

from __future__ import annotations

import os
import subprocess
import sys

TIMEOUT_S = 600  # a limit on a hung child, not a timing assertion


def harness_command(*args) -> list[str]:
    """``python -m harness ARGS`` as an argv list (for Popen and tests that need one)."""
    return [sys.executable, "-m", "harness", *map(str, args)]


def run_python(*args, cwd=None, env: dict | None = None, timeout: float = TIMEOUT_S,
               ) -> subprocess.CompletedProcess:
    """``python ARGS`` (a script path or ``-m module``) with stdout and stderr as text.

    ``env`` adds to (or, with a value of None, removes from) this process's environment.
    """
    child_env = None
    if env is not None:
        child_env = {**os.environ, **{k: v for k, v in env.items() if v is not None}}
        for key in (k for k, v in env.items() if v is None):
            child_env.pop(key, None)
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=child_env, timeout=timeout)


def run_harness(*args, cwd=None, env: dict | None = None, timeout: float = TIMEOUT_S,
                ) -> subprocess.CompletedProcess:
    """``python -m harness ARGS``; see ``run_python``."""
    return run_python("-m", "harness", *args, cwd=cwd, env=env, timeout=timeout)


def assert_usage_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Bad input: exit status 2, no traceback, and each of ``words`` in the message."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)

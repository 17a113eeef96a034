"""Every git call the harness makes, in one place, with pure parsers of what git prints.

Used for provenance (which commit produced a result) and by ``harness ab``, which
checks a revision out into a temporary ``git worktree`` so that its worker code
can run beside the working tree's. A worktree shares the repository's objects, so
it costs a checkout, not a clone; it is removed afterwards whatever happens.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path

GIT_TIMEOUT_S = 120


class GitError(Exception):
    """git failed, or is missing; the message quotes what it said."""


def run_git(args: list[str], cwd: Path, timeout: float = GIT_TIMEOUT_S,
            ) -> subprocess.CompletedProcess:
    """The one place git is run: ``git -C cwd args``, text output captured."""
    try:
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                              timeout=timeout)
    except FileNotFoundError:
        raise GitError("git is not installed (no 'git' on PATH)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} took over {timeout:g} s") from None


def _checked(args: list[str], cwd: Path) -> str:
    proc = run_git(args, cwd)
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed (exit {proc.returncode}): "
                       f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def parse_commit(text: str) -> str | None:
    """A full object name from ``git rev-parse`` output, or None if there is none."""
    line = text.strip()
    return line if len(line) in (40, 64) and all(c in "0123456789abcdef" for c in line) \
        else None


def parse_bool(text: str) -> bool:
    """``git rev-parse --is-*`` answers 'true' or 'false'."""
    value = text.strip()
    if value not in ("true", "false"):
        raise ValueError(f"expected 'true' or 'false' from git, got {value!r}")
    return value == "true"


def parse_worktrees(text: str) -> list[dict]:
    """``git worktree list --porcelain``: one dict per worktree (worktree, HEAD, flags)."""
    trees, current = [], {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                trees.append(current)
            current = {}
            continue
        key, _, value = line.partition(" ")
        current[key] = value if value else True
    if current:
        trees.append(current)
    return trees


def toplevel(path: Path) -> Path | None:
    """The root of the checkout holding ``path``, or None when it is not in one."""
    try:
        proc = run_git(["rev-parse", "--show-toplevel"], path)
    except GitError:
        return None
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


def head_state(path: Path) -> dict:
    """Commit and dirtiness (tracked files only) of the checkout holding ``path``."""
    try:
        head = run_git(["rev-parse", "HEAD"], path)
        if head.returncode != 0 or not parse_commit(head.stdout):
            return {"commit": "unknown", "dirty": None, "reason": "not a git checkout"}
        status = run_git(["status", "--porcelain", "--untracked-files=no"], path)
        return {"commit": parse_commit(head.stdout), "dirty": bool(status.stdout.strip())}
    except GitError as exc:
        return {"commit": "unknown", "dirty": None, "reason": str(exc)}


def is_shallow(root: Path) -> bool:
    return parse_bool(_checked(["rev-parse", "--is-shallow-repository"], root))


class RevisionUnavailable(GitError):
    """The revision names no commit this clone has (a typo, or a shallow clone)."""


def resolve_commit(root: Path, revision: str) -> str:
    """The commit ``revision`` names in the repository at ``root``."""
    if revision.startswith("-"):
        raise RevisionUnavailable(f"{revision!r} is not a revision")
    proc = run_git(["rev-parse", "--verify", "--quiet", "--end-of-options",
                    f"{revision}^{{commit}}"], root)
    commit = parse_commit(proc.stdout) if proc.returncode == 0 else None
    if commit:
        return commit
    hint = ""
    try:
        if is_shallow(root):
            hint = (" This clone is shallow: fetch more history (git fetch --deepen=1, or "
                    "--unshallow) to compare against older commits.")
    except GitError:
        pass
    raise RevisionUnavailable(f"revision {revision!r} is not a commit in {root}.{hint}")


@contextlib.contextmanager
def temporary_worktree(root: Path, commit: str):
    """Check ``commit`` out in a fresh temporary worktree; yield its path; remove it.

    Removal runs on any exit, Ctrl-C included. Should ``git worktree remove`` fail,
    the directory is deleted and the worktree's record pruned instead.
    """
    holder = Path(tempfile.mkdtemp(prefix="harness-ab-"))
    tree = holder / "tree"
    try:
        _checked(["worktree", "add", "--detach", "--quiet", str(tree), commit], root)
        yield tree
    finally:
        try:
            if tree.exists():
                proc = run_git(["worktree", "remove", "--force", str(tree)], root)
                if proc.returncode != 0:
                    shutil.rmtree(tree, ignore_errors=True)
            run_git(["worktree", "prune"], root)
        finally:
            shutil.rmtree(holder, ignore_errors=True)


def worktrees(root: Path) -> list[dict]:
    return parse_worktrees(_checked(["worktree", "list", "--porcelain"], root))

"""git: the pure parsers on sample output, and the real git on a throwaway repository."""

import subprocess

import pytest

from harness.machine.gitrepo import (RevisionUnavailable, head_state, is_shallow, parse_bool,
                             parse_commit, parse_worktrees, resolve_commit, temporary_worktree,
                             toplevel, worktrees)

# `git worktree list --porcelain` of a checkout with one linked, detached worktree.
WORKTREE_LIST = """\
worktree /work/main
HEAD 324135e516ca4a8b3c1b9a3d9f2b8b0e6a1c2d3e
branch refs/heads/main

worktree /tmp/harness-ab-x1y2/tree
HEAD 816953f0b5e2c1d4a7b8c9d0e1f2a3b4c5d6e7f8
detached
locked

"""


def test_parsers():
    sha = "324135e516ca4a8b3c1b9a3d9f2b8b0e6a1c2d3e"
    assert parse_commit(sha + "\n") == sha
    assert parse_commit("HEAD~1\n") is None and parse_commit("") is None
    assert parse_bool("true\n") is True and parse_bool("false") is False
    with pytest.raises(ValueError, match="'maybe'"):
        parse_bool("maybe")
    trees = parse_worktrees(WORKTREE_LIST)
    assert trees == [
        {"worktree": "/work/main", "HEAD": sha, "branch": "refs/heads/main"},
        {"worktree": "/tmp/harness-ab-x1y2/tree",
         "HEAD": "816953f0b5e2c1d4a7b8c9d0e1f2a3b4c5d6e7f8", "detached": True, "locked": True}]
    assert parse_worktrees("") == []


def git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), "-c", "user.email=t@example.com",
                           "-c", "user.name=t", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    for text in ("one", "two"):
        (root / "f.txt").write_text(text)
        git(root, "add", "f.txt")
        git(root, "commit", "-qm", text)
    return root


def test_resolve_and_state(repo):
    head = git(repo, "rev-parse", "HEAD")
    assert resolve_commit(repo, "HEAD") == head
    assert resolve_commit(repo, "HEAD~1") == git(repo, "rev-parse", "HEAD~1")
    assert toplevel(repo) == repo.resolve()
    assert head_state(repo) == {"commit": head, "dirty": False}
    (repo / "f.txt").write_text("changed")
    assert head_state(repo)["dirty"] is True
    assert not is_shallow(repo)
    for bad in ("HEAD~5", "no-such-branch", "--output=x"):
        with pytest.raises(RevisionUnavailable, match="is not a"):
            resolve_commit(repo, bad)


def test_not_a_checkout(tmp_path):
    assert toplevel(tmp_path) is None
    assert head_state(tmp_path)["commit"] == "unknown"


def test_shallow_clone_says_so(repo, tmp_path):
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)],
                   check=True)
    assert is_shallow(clone)
    with pytest.raises(RevisionUnavailable, match="shallow"):
        resolve_commit(clone, "HEAD~1")


def test_temporary_worktree_is_removed(repo):
    first = resolve_commit(repo, "HEAD~1")
    with temporary_worktree(repo, first) as tree:
        assert (tree / "f.txt").read_text() == "one"
        assert len(worktrees(repo)) == 2
    assert not tree.exists() and not tree.parent.exists()
    assert len(worktrees(repo)) == 1


def test_temporary_worktree_is_removed_on_interrupt(repo):
    with pytest.raises(KeyboardInterrupt):
        with temporary_worktree(repo, resolve_commit(repo, "HEAD")) as tree:
            raise KeyboardInterrupt
    assert not tree.parent.exists() and len(worktrees(repo)) == 1

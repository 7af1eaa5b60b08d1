"""The commit a result records, and when it counts as dirty."""

import shutil
import subprocess

import pytest

from lipreg_lib.runio import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def test_git_commit_is_dirty_for_changed_code_but_not_for_rewritten_results(tmp_path):
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "data" / "results").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "data" / "results" / "grid.csv").write_text("a\n1\n")
    git("add", ".")
    git("commit", "-qm", "start")
    head = git("rev-parse", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "data" / "results" / "grid.csv").write_text("a\n2\n")  # a sweep rewrote a table
    (tmp_path / "notes.txt").write_text("untracked\n")
    inside = tmp_path / "data" / "results"  # asked from inside the tree, the answer is the whole checkout's
    assert git_commit(tmp_path) == git_commit(inside) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == git_commit(inside) == head + "-dirty"

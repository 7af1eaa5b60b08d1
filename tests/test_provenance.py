"""What a result records of its origin: the commit (and when it counts as dirty) and the device."""

import os
import shutil
import subprocess
import sys

import pytest

import torch

from lipreg_lib.runio import cpu_model, device_name, git_commit


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
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


def test_a_cpu_device_names_the_instruction_set_and_threads_a_bitwise_rerun_needs():
    """Another vector instruction set trains another network from the same seed (measured: MNIST, one
    epoch, AVX2 against ATen's default kernels), so the record must tell the two apart."""
    name = "import torch; from lipreg_lib.runio import device_name; print(device_name(torch.device('cpu')))"
    other = subprocess.run([sys.executable, "-c", name], env={**os.environ, "ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"},
                           capture_output=True, text=True, check=True).stdout.strip()
    assert "DEFAULT" in other and other.endswith(", 1 threads)")   # whatever this machine's own set and cores are
    assert device_name(torch.device("cpu")).startswith(f"cpu ({cpu_model()}, {torch.backends.cpu.get_cpu_capability()}, ")


def test_a_short_commit_keeps_the_dirty_suffix():
    from lipreg_lib.runio import short_commit
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert (short_commit(commit), short_commit(commit + "-dirty"), short_commit(commit + "-dirty", 12)) == ("0123456", "0123456-dirty", "0123456789ab-dirty")
    assert short_commit("unknown") == "unknown"

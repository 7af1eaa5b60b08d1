"""DistributedDataParallel on 2 CPU processes (gloo) matches a single process on the same global batches."""

import json
import shutil
import socket
import subprocess
import sys

import pytest
import torch

from lipreg_lib.models import build
from lipreg_lib.train import load_checkpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(out, nproc: int):
    args = ["-m", "lipreg_lib", "train", "--dataset", "digits", "--model", "mlp", "--epochs", "2", "--no-augment",
            "--weight-decay", "0", "--quiet", "--out", str(out)]
    if nproc == 1:
        command = [sys.executable, *args]
    else:
        torchrun = shutil.which("torchrun")
        if torchrun is None:
            pytest.skip("torchrun not on PATH")
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
                   "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *args]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return load_checkpoint(out / "checkpoint.pt")


def test_two_gloo_processes_match_one_process(tmp_path):
    single = _train(tmp_path / "single", 1)
    double = _train(tmp_path / "ddp", 2)
    assert json.loads((tmp_path / "ddp" / "run.json").read_text())["world_size"] == 2
    for key, value in single["model"].items():
        assert torch.allclose(double["model"][key], value, atol=1e-5), key
    # the weights moved from the shared initialisation: equality is not that of two untouched models
    torch.manual_seed(0)
    untouched = build("mlp", 10, (1, 8, 8)).state_dict()
    assert not torch.allclose(single["model"]["1.weight"], untouched["1.weight"], atol=1e-3)

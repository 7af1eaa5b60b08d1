import json
import subprocess
import sys

import pytest

from lipreg_lib.cli import main


def test_info_lists_registries(capsys):
    assert main(["info"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {"resnext34", "small-cnn"} <= set(listing["models"]) and "digits" in listing["datasets"]
    assert "tulip" in listing["defences"]


@pytest.mark.parametrize(
    "argv,message",
    [(["--model", "vgg"], "unknown model 'vgg'; choose from: allcnn"),
     (["--dataset", "svhn"], "unknown dataset 'svhn'; choose from:"),
     (["--defence", "at-l3"], "unknown defence 'at-l3'; choose from: at-fgsm, at-l2"),
     (["--eps", "-1"], "eps must be >= 0, got -1.0"),
     (["--lam", "-0.5"], "lam must be >= 0, got -0.5"),
     (["--device", "cuda:7"], "device 'cuda:7'")],
)
def test_bad_arguments_exit_2_naming_the_value(argv, message, tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--quiet", "--out", str(tmp_path / "run"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_then_resume_from_the_command_line(tmp_path):
    command = [sys.executable, "-m", "lipreg_lib", "train", "--dataset", "digits", "--model", "mlp", "--epochs", "2",
               "--quiet", "--out", str(tmp_path)]
    first = subprocess.run(command, capture_output=True, text=True, check=True)
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["epochs"] == 2 and (tmp_path / "run.json").is_file()
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 2 and "pass --resume" in again.stderr
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, check=True)
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["test_accuracy"] == summary["test_accuracy"]

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
     (["--defence", "at-l3"], "unknown defence 'at-l3' (did you mean 'at-l2'?); choose from: at-fgsm, at-l2"),
     (["--model", "ResNet-34"], "unknown model 'ResNet-34' (did you mean 'resnet34'?); choose from: allcnn"),
     (["--dataset", "Fashion_MNIST"], "unknown dataset 'Fashion_MNIST' (did you mean 'fashion-mnist'?)"),
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


def test_evaluate_writes_eval_json_and_keeps_earlier_attacks(tmp_path, capsys):
    assert main(["train", "--dataset", "digits", "--model", "small-cnn", "--epochs", "3", "--quiet", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--run", str(tmp_path), "--attack", "pgd-l2", "--n", "40"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["n"] == 40 and line["median_distance"] > 0
    assert main(["evaluate", "--run", str(tmp_path), "--attack", "fgsm", "--n", "40"]) == 0
    report = json.loads((tmp_path / "eval.json").read_text())
    assert set(report["attacks"]) == {"pgd-l2", "fgsm"}
    distances = report["attacks"]["pgd-l2"]["distances"]
    assert len(distances) == 40 and report["attacks"]["fgsm"]["median_distance"] >= report["attacks"]["pgd-l2"]["median_distance"]
    # the authors' statistic divides by the batch, here all 40 images
    stability = report["attacks"]["pgd-l2"]["stability"]
    assert stability["n"] == 40 and stability["max_loss_gradient_per_example"] == pytest.approx(40 * stability["max_loss_gradient"])
    assert "git_commit" in report["attacks"]["fgsm"]["provenance"]


def test_evaluate_reports_a_missing_or_corrupt_run(tmp_path, capsys):
    assert main(["evaluate", "--run", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--run", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "corrupt" in error and "weights_only" not in error  # not torch's advice to unpickle an untrusted file


def test_resume_without_a_checkpoint_and_a_missing_data_dir_are_refused(tmp_path, capsys):
    assert main(["train", "--quiet", "--out", str(tmp_path / "typo"), "--resume"]) == 2
    assert "holds no checkpoint to continue" in capsys.readouterr().err and not (tmp_path / "typo").exists()
    assert main(["train", "--quiet", "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "nodata")]) == 2
    assert "is not a folder" in capsys.readouterr().err and not (tmp_path / "run" / "checkpoint.pt").exists()


def test_data_stability_saves_each_test_images_distance_to_the_other_labels(tmp_path, capsys):
    import math

    import torch

    from lipreg_lib.data import load_dataset

    out = tmp_path / "stability.json"
    assert main(["data-stability", "--dataset", "digits", "--n", "40", "--save", str(out), "--quiet"]) == 0
    line = json.loads(capsys.readouterr().out)
    saved = json.loads(out.read_text())
    digits = load_dataset("digits")
    q, r = digits.test.x[:40].double().flatten(1) / 255, digits.train.x.double().flatten(1) / 255
    brute = torch.cdist(q, r, compute_mode="donot_use_mm_for_euclid_dist")
    brute[digits.test.y[:40, None] == digits.train.y[None, :]] = math.inf
    assert line["n"] == len(saved["distances"]) == 40 and saved["provenance"]["versions"]["torch"]
    assert torch.allclose(torch.tensor(saved["distances"], dtype=torch.float64), brute.min(1).values, atol=1e-6)
    assert all(digits.train.y[j] != digits.test.y[i] for i, j in enumerate(saved["nearest"]))
    assert line["median_distance"] == pytest.approx(brute.min(1).values.median().item(), abs=1e-6)


def test_data_stability_refuses_more_images_than_the_test_split_has(tmp_path, capsys):
    out = tmp_path / "stability.json"
    assert main(["data-stability", "--dataset", "digits", "--n", "100000", "--save", str(out)]) == 2
    assert "--n = 100000 exceeds the 360 test images of 'digits'" in capsys.readouterr().err and not out.exists()


def test_data_lipschitz_prints_one_json_line_and_saves_provenance(tmp_path, capsys):
    out = tmp_path / "dl.json"
    assert main(["data-lipschitz", "--dataset", "digits", "--save", str(out)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert {"lipschitz", "min_distance", "pair", "seconds"} <= set(line)
    assert line["lipschitz"] == pytest.approx(1 / line["min_distance"]) and line["labels"][0] != line["labels"][1]
    assert json.loads(out.read_text())["provenance"]["versions"]["torch"]

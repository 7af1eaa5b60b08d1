"""Faults and bad input through the command line, as a user meets them.

Each bad-input case runs the CLI in a subprocess and asserts exit status 2, a message naming the bad
value, no traceback, and that files already written are unchanged (hashed before and after).
Crashes (``kill -9`` during training and during evaluation, a full disk) must leave the last
checkpoint, ``run.json`` and ``eval.json`` as they were, and resuming must give the same weights.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lipreg_lib.cli import main
from lipreg_lib.reports import evaluate_run
from lipreg_lib.train import load_checkpoint
from lipreg_lib.validation import LipregError

CLI = [sys.executable, "-m", "lipreg_lib"]
TINY = ["--dataset", "digits", "--model", "mlp", "--quiet"]


def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (lock files excluded)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A small trained and evaluated run, shared by the read-only cases."""
    out = tmp_path_factory.mktemp("runs") / "run"
    assert run("train", *TINY, "--epochs", "2", "--out", str(out)).returncode == 0
    assert run("evaluate", "--run", str(out), "--attack", "fgsm", "--n", "30", "--quiet").returncode == 0
    return out


@pytest.mark.parametrize("argv,fragments", [
    (["--n", "0"], ["--n must be an integer >= 1, got 0"]),
    (["--n", "-5"], ["--n must be an integer >= 1, got -5"]),
    (["--n", "five"], ["--n must be an integer >= 1, got 'five'"]),
    (["--steps", "0"], ["--steps must be an integer >= 1, got 0"]),
    (["--n", "100000"], ["n = 100000 exceeds the run's 360 test images"]),
    (["--budgets", "0.1", "--budget-n", "100000"], ["budget_n = 100000 exceeds the run's 360 test images"]),
    (["--attack", "cw"], ["invalid choice: 'cw'"]),
    (["--budgets", "-0.1"], ["--budgets must be a number > 0, got '-0.1'"]),
    (["--attack", "deepfool", "--budgets", "0.1"], ["fixed budgets need one of the iterative attacks", "'deepfool'"]),
    (["--budget-n", "5"], ["budget_n = 5 is given without budgets to measure"]),
    (["--attack", "fgsm", "--steps", "5"], ["'fgsm' is a one-step attack, got steps = 5"]),
])
def test_bad_evaluate_arguments_change_nothing(finished_run, argv, fragments):
    before = digest(finished_run)
    assert_refused(run("evaluate", "--run", str(finished_run), "--quiet", *argv), *fragments)
    assert digest(finished_run) == before


@pytest.mark.parametrize("budgets,message", [((-0.1,), "budget ε must be > 0, got -0.1"), ((float("nan"),), "budget ε")])
def test_the_library_refuses_a_bad_budget_before_attacking(finished_run, budgets, message):
    before = digest(finished_run)
    with pytest.raises(LipregError, match=message):
        evaluate_run(finished_run, "pgd-l2", budgets=budgets)
    assert digest(finished_run) == before


@pytest.mark.parametrize("command", ["data-lipschitz", "data-stability"])
def test_data_commands_refuse_a_save_path_they_cannot_write_before_computing(tmp_path, command):
    folder = tmp_path / "results"
    folder.mkdir()
    assert_refused(run(command, "--dataset", "digits", "--save", str(folder)), f"--save {str(folder)!r} is a folder, not a file")
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    refused = run(command, "--dataset", "digits", "--save", str(notes / "x.json"))
    assert_refused(refused, f"folder {str(notes)!r} is a file, not a folder")
    assert refused.stdout == "" and notes.read_text() == "keep me" and not any(folder.iterdir())  # nothing computed or written


def test_train_refuses_an_out_path_that_is_a_file_or_lies_under_one(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    assert_refused(run("train", *TINY, "--epochs", "1", "--out", str(target)), str(target), "is a file")
    assert_refused(run("train", *TINY, "--epochs", "1", "--out", str(target / "run")), "cannot be created", str(target))
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("argv,fragments", [
    (["--epochs", "0"], ["epochs must be an integer >= 1, got 0"]),
    (["--width", "0"], ["width must be an integer >= 1, got 0"]),
    (["--recipe", "slow"], ["invalid choice: 'slow'"]),
    (["--label-smoothing", "1.5"], ["label_smoothing must lie in [0, 1), got 1.5"]),
    (["--defence", "lip+lip-fd"], ["lip-fd cannot be combined with lip"]),
])
def test_bad_train_arguments_write_nothing(tmp_path, argv, fragments):
    assert_refused(run("train", *TINY, "--out", str(tmp_path / "run"), *argv), *fragments)
    assert not (tmp_path / "run").exists()


GRID = "name: g\nbase: {dataset: digits, model: mlp, epochs: 1}\nevaluate: {attack: fgsm, n: 20}\nruns: [{defence: baseline}]\n"


@pytest.mark.parametrize("change,fragments", [
    (("evaluate: {attack: fgsm, n: 20}", "evaluate: {attack: fgsm, n: 20, step: 5}"), ["unknown keys ['step'] in 'evaluate'"]),
    (("attack: fgsm", "attack: pgd-l3"), ["unknown attack 'pgd-l3'"]),
    (("n: 20", "n: 0"), ["evaluate.n must be an integer >= 1, got 0"]),
    (("model: mlp", "model: vgg"), ["unknown model 'vgg'"]),
    (("epochs: 1", "epochs: 0"), ["epochs must be an integer >= 1, got 0"]),
    (("{defence: baseline}", "{defence: baseline}, {defence: lipshitz}"), ["unknown defence 'lipshitz'"]),
    (("{defence: baseline}", "{defence: baseline, width: -3}"), ["grid 'g', run 'defence=baseline,width=-3' (seed 0): width must be an integer >= 1, got -3"]),
    (("n: 20", "n: 20, steps: 5"), ["'fgsm' is a one-step attack, got steps = 5"]),
    (("dataset: digits, model: mlp", "dataset: moons, model: small-cnn"), ["model 'small-cnn' needs image inputs (C, H, W), got input shape (2,)"]),
    (("{defence: baseline}", "{defence: baseline, colour: red}"), ["unknown training options ['colour']"]),
    (("evaluate: {attack: fgsm, n: 20}", "evaluate: {attack: deepfool, n: 20, budgets: [0.1]}"), ["fixed budgets need one of the iterative attacks", "'deepfool'"]),
])
def test_bad_grids_fail_before_any_training(tmp_path, change, fragments):
    grid = tmp_path / "g.yaml"
    grid.write_text(GRID.replace(*change))
    assert_refused(run("sweep", "--grid", str(grid), "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "res"),
                       "--quiet"), *fragments)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "res").exists()


def test_sweep_jobs_below_one_is_refused(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(GRID)
    assert_refused(run("sweep", "--grid", str(grid), "--jobs", "0"), "--jobs must be an integer >= 1, got 0")


def test_a_stored_evaluation_is_reused_only_for_the_images_it_was_made_on(tmp_path):
    """Defect: ``evaluate --n K`` overwrote the stability numbers that the next sweep reused for n images."""
    grid = tmp_path / "g.yaml"
    grid.write_text(GRID.replace("n: 20", "n: 40"))
    sweep = ["sweep", "--grid", str(grid), "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "res"), "--quiet"]
    assert run(*sweep).returncode == 0
    first = json.loads((tmp_path / "res" / "g.json").read_text())["runs"][0]
    folder = tmp_path / "runs" / "g" / "defence=baseline-seed0"
    assert run("evaluate", "--run", str(folder), "--attack", "fgsm", "--n", "7", "--quiet").returncode == 0
    stored = json.loads((folder / "eval.json").read_text())["attacks"]["fgsm"]
    assert stored["n"] == 7 and stored["stability"]["n"] == 7  # each number says what it was computed on
    assert run(*sweep).returncode == 0
    again = json.loads((tmp_path / "res" / "g.json").read_text())["runs"][0]
    assert again["eval_n"] == 40 and again["max_loss_gradient"] == pytest.approx(first["max_loss_gradient"])
    assert again["median_distance"] == first["median_distance"]


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_training_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "run"
    first = _spawn("train", *TINY, "--epochs", "200", "--out", str(out))
    try:
        while not (out / "run.json").exists():
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.05)
        second = run("train", *TINY, "--epochs", "200", "--out", str(out), "--resume")
        assert_refused(second, str(out), "in use by another process")
    finally:
        first.kill()
        first.wait()


def test_two_sweeps_at_once_train_every_run_exactly_once(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text("name: g\nbase: {dataset: digits, model: small-cnn, epochs: 3}\nevaluate: {attack: fgsm, n: 20}\n"
                    "runs: [{defence: baseline, label: a}, {defence: at-l2, label: b}, {defence: baseline, label: c, seed: 1}]\n")
    args = ("sweep", "--grid", str(grid), "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "res"), "--quiet")
    sweeps = [_spawn(*args) for _ in range(2)]
    outputs = [s.communicate(timeout=300) for s in sweeps]
    assert [s.returncode for s in sweeps] == [0, 0], outputs
    trained: dict[str, int] = {}
    for stdout, _ in outputs:
        for line in stdout.splitlines():
            if line.startswith("[sweep] trained "):
                folder, epochs = line.removeprefix("[sweep] trained ").rsplit(": ", 1)
                trained[folder] = trained.get(folder, 0) + int(epochs.split()[0])
    assert sorted(trained.values()) == [3, 3, 3]  # epochs trained per run folder, summed over both sweeps
    for folder in (tmp_path / "runs" / "g").iterdir():
        assert [e["epoch"] for e in json.loads((folder / "run.json").read_text())["epochs"]] == [1, 2, 3]


def test_files_are_readable_under_the_users_umask_and_results_stay_out_of_the_repository(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(GRID)
    previous = os.umask(0o022)
    try:
        assert run("sweep", "--grid", str(grid), "--quiet", cwd=tmp_path).returncode == 0
    finally:
        os.umask(previous)
    for name in ("runs/g/defence=baseline-seed0/run.json", "runs/g/defence=baseline-seed0/checkpoint.pt",
                 "runs/g/defence=baseline-seed0/eval.json", "results/g.csv", "results/g.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert not (tmp_path / "data").exists()


def _wait_for_epoch(out: Path, epoch: int, process: subprocess.Popen) -> None:
    while True:
        assert process.poll() is None, process.stderr.read()
        if (out / "run.json").exists():
            try:
                if len(json.loads((out / "run.json").read_text())["epochs"]) >= epoch:
                    return
            except json.JSONDecodeError:  # pragma: no cover - atomic writes make this impossible
                raise AssertionError("run.json was torn")
        time.sleep(0.02)


def test_kill_9_during_training_keeps_the_last_checkpoint_and_resume_matches(tmp_path):
    args = ["train", "--dataset", "digits", "--model", "small-cnn", "--epochs", "6", "--quiet"]
    assert run(*args, "--out", str(tmp_path / "whole")).returncode == 0
    victim = _spawn(*args, "--out", str(tmp_path / "cut"))
    _wait_for_epoch(tmp_path / "cut", 2, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    state = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")  # loads: never torn
    assert 2 <= state["epoch"] < 6
    assert run(*args, "--out", str(tmp_path / "cut"), "--resume").returncode == 0
    whole = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")["model"]
    cut = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["model"]
    assert all(torch.equal(whole[k], cut[k]) for k in whole)


def test_kill_9_during_evaluation_leaves_eval_json_as_it_was(finished_run, tmp_path):
    before = digest(finished_run)
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:  # the progress bar on stderr says when the attack is under way
        victim = subprocess.Popen([*CLI, "evaluate", "--run", str(finished_run), "--attack", "pgd-l2", "--steps", "2000"],
                                  stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        while "pgd-l2 minimal distances" not in log.read_text():
            assert victim.poll() is None, log.read_text()
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    assert digest(finished_run) == before
    assert not [p for p in finished_run.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_leaves_the_previous_checkpoint_and_run_json_intact(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    real_save, calls = torch.save, []

    def full_disk_at_the_second_epoch(obj, stream, *rest, **kwargs):
        calls.append(obj["epoch"])
        if len(calls) == 2:
            stream.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(obj, stream, *rest, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk_at_the_second_epoch)
    assert main(["train", *TINY, "--epochs", "3", "--out", str(out)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert calls == [1, 2] and load_checkpoint(out / "checkpoint.pt")["epoch"] == 1
    assert [e["epoch"] for e in json.loads((out / "run.json").read_text())["epochs"]] == [1]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(torch, "save", real_save)
    assert main(["train", *TINY, "--epochs", "3", "--out", str(out), "--resume"]) == 0  # and the run goes on
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 3


@pytest.mark.parametrize("command", ["train", "evaluate", "data-lipschitz", "data-stability", "sweep"])
def test_every_option_has_help_and_shows_its_default_once(command):
    from lipreg_lib.cli import parser

    sub = parser()._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        if action.dest in ("help",):
            continue
        assert action.help, f"{command} {action.option_strings} has no help"
        if action.required or action.dest == "augment" or isinstance(action.const, bool) and action.default in (None, False):
            continue
        assert action.help.count("default") == 1, f"{command} {action.option_strings}: {action.help!r}"


def test_evaluate_shows_progress_unless_quiet(finished_run):
    loud = run("evaluate", "--run", str(finished_run), "--attack", "pgd-l2", "--n", "30")
    quiet = run("evaluate", "--run", str(finished_run), "--attack", "pgd-l2", "--n", "30", "--quiet")
    assert loud.returncode == quiet.returncode == 0
    assert "pgd-l2 minimal distances" in loud.stderr and quiet.stderr == ""

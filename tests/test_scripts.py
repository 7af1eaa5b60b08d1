"""The benchmarks' and tools' command lines: a bad value is refused by name (exit status 2) before any
training, measurement or build starts; the checks are :mod:`lipreg_lib.arguments`'."""

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

from lipreg_lib import arguments

ROOT = Path(__file__).resolve().parents[1]


def run_script(path: str, argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """Run ``path``'s ``main()`` with ``argv`` in this process: ``(exit status, stderr)``."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", [path, *argv])
    with pytest.raises(SystemExit) as stopped:
        module.main()
    return stopped.value.code, capsys.readouterr().err


def test_argument_types_name_the_flag_and_the_value(tmp_path):
    assert arguments.integer("--warmup", 0)("0") == 0 and arguments.integer("--n")("7") == 7
    with pytest.raises(argparse.ArgumentTypeError, match="--budgets must be an integer >= 2, got 1"):
        arguments.integer("--budgets", 2)("1")
    with pytest.raises(argparse.ArgumentTypeError, match="--n must be an integer >= 1, got '2.5'"):
        arguments.integer("--n")("2.5")
    with pytest.raises(argparse.ArgumentTypeError, match="--stop-after must be a number > 0, got 'inf'"):
        arguments.positive_float("--stop-after")("inf")
    with pytest.raises(argparse.ArgumentTypeError, match="--device: unknown device 'mps'"):
        arguments.device()("mps")
    assert arguments.device()("auto") == "auto"   # kept as written, for a child process to resolve
    with pytest.raises(argparse.ArgumentTypeError, match=f"--out '{tmp_path}' is a folder, not a file"):
        arguments.writable_file("--out")(str(tmp_path))


@pytest.mark.parametrize("path,argv,message", [
    ("benchmarks/attack_speed.py", ["--n", "361"], "--n = 361 exceeds the 360 test images of 'digits'"),
    ("benchmarks/attack_speed.py", ["--budgets", "1"], "--budgets must be an integer >= 2, got 1"),
    ("benchmarks/attack_speed.py", ["--device", "cuda:7"], "--device: device 'cuda:7' requested"),
    ("benchmarks/defence_cost.py", ["--models", "small-cnn", "resnet"], "invalid choice: 'resnet'"),
    ("benchmarks/defence_cost.py", ["--repeats", "0"], "--repeats must be an integer >= 1, got 0"),
    ("benchmarks/defence_cost.py", ["--profile", "small-cnn", "lipschitz"], "--profile small-cnn lipschitz: the model is one of"),
    ("benchmarks/defence_cost.py", ["--profile", "small-cnn", "lip", "--precision", "fp32", "bf16"], "--profile measures one precision"),
    ("benchmarks/data_lipschitz.py", ["--dataset", "mnits"], "unknown dataset 'mnits' (did you mean 'mnist'?)"),
    ("benchmarks/cifar_frontier.py", ["--data-dir", "/nonexistent", "--points", "32:4"], "data directory '/nonexistent'"),
    ("tools/results_tables.py", ["mnist", "cifar10"], "unknown grid 'cifar10'"),
    ("tools/build_book.py", ["--all"], "unrecognized arguments: --all"),
])
def test_a_bad_argument_is_refused_by_name_before_any_work(path, argv, message, monkeypatch, capsys):
    status, err = run_script(path, argv, monkeypatch, capsys)
    assert status == 2 and message in err, err


def test_an_output_path_that_cannot_be_written_is_refused_before_the_work(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, err = run_script("benchmarks/defence_cost.py", ["--out", str(blocker / "cost.json")], monkeypatch, capsys)
    assert status == 2 and "is a file" in err, err


def test_frontier_points_are_appended_only_to_points_of_the_same_machine_and_seed(tmp_path, monkeypatch, capsys):
    import json
    out = tmp_path / "frontier.json"
    out.write_text(json.dumps({"settings": {"points": [[32, 4]], "device": "cuda", "seed": 0, "recipe": "fast"},
                               "provenance": {"device": "NVIDIA H100 80GB HBM3"}, "rows": []}))
    status, err = run_script("benchmarks/cifar_frontier.py", ["--data-dir", str(tmp_path / "no-data"), "--points", "32:1", "--seed", "1",
                                                              "--device", "cpu", "--append", "--out", str(out)], monkeypatch, capsys)
    assert status == 2 and "measured with device 'NVIDIA H100 80GB HBM3', not 'cpu (" in err and "seed 0, not 1" in err, err

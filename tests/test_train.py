import re
import json

import pandas as pd
import pytest
import torch

from lipreg_lib.train import CheckpointError, TrainConfig, learning_rate, load_checkpoint, load_run, train
from lipreg_lib.runio import atomic_write
from lipreg_lib.validation import LipregError


def test_schedule_scales_the_paper_milestones():
    # 200 epochs: x0.2 at epochs 60, 120, 160
    lrs = [learning_rate(e, 200, 0.1, (0.3, 0.6, 0.8), 0.2) for e in (0, 59, 60, 119, 120, 160, 199)]
    assert lrs == pytest.approx([0.1, 0.1, 0.02, 0.02, 0.004, 0.0008, 0.0008])


def test_one_cycle_ramps_up_to_the_peak_then_down_to_zero():
    lrs = [learning_rate(t, 100, 0.2, (0.3,), 0.2, "one-cycle", warmup=0.2) for t in (0, 10, 20, 60, 100)]
    assert lrs == pytest.approx([0.0, 0.1, 0.2, 0.1, 0.0])


def test_a_recipe_fills_the_options_not_given():
    config = TrainConfig.from_dict({"recipe": "fast", "dataset": "cifar10", "lr": 0.05})
    assert (config.model, config.schedule, config.label_smoothing, config.nesterov, config.lr) == ("fast-cnn", "one-cycle", 0.2, True, 0.05)
    assert TrainConfig.from_dict({"recipe": "paper"}) == TrainConfig()
    with pytest.raises(LipregError, match="unknown recipe 'slow'"):
        TrainConfig.from_dict({"recipe": "slow"})


def test_an_older_checkpoint_without_the_new_options_still_resumes(tmp_path, digits):
    config = TrainConfig(epochs=2, model="mlp")
    train(TrainConfig(epochs=1, model="mlp"), tmp_path, dataset=digits, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    for key in ("schedule", "warmup", "nesterov", "label_smoothing", "augmentation"):
        del state["config"][key]
    state["config"]["epochs"] = 2
    torch.save(state, tmp_path / "checkpoint.pt")
    assert [h["epoch"] for h in train(config, tmp_path, dataset=digits, progress=False, resume=True).history] == [1, 2]
    with pytest.raises(CheckpointError, match="schedule: checkpoint 'step' vs requested 'one-cycle'"):
        train(TrainConfig(epochs=2, model="mlp", schedule="one-cycle"), tmp_path, dataset=digits, progress=False, resume=True)


def test_digits_baseline_reaches_95_percent_and_writes_run_json(tmp_path, digits):
    result = train(TrainConfig(epochs=5), tmp_path, dataset=digits, progress=False)
    assert result.history[-1]["test_accuracy"] >= 0.95
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "finished" and record["config"]["seed"] == 0
    assert {"git_commit", "device", "versions", "time"} <= set(record["provenance"])
    table = pd.json_normalize(record, record_path="epochs", meta=[["config", "defence"]])
    assert list(table["epoch"]) == [1, 2, 3, 4, 5] and table["seconds"].gt(0).all()
    model, _, config = load_run(tmp_path)
    assert config == TrainConfig(epochs=5)
    assert torch.equal(model.state_dict()["0.weight"].cpu(), result.model.state_dict()["0.weight"].cpu())   # trained on a GPU where present


def test_training_is_deterministic_on_cpu(digits):
    a = train(TrainConfig(epochs=1), dataset=digits, device="cpu", progress=False).model.state_dict()
    b = train(TrainConfig(epochs=1), dataset=digits, device="cpu", progress=False).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


class Interrupt(Exception):
    pass


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(tmp_path, digits):
    """Bitwise on the CPU; on a GPU cuDNN's autotuned, nondeterministic kernels make two uninterrupted runs
    differ already (seen on an H100), so the claim is the CPU's."""
    config = TrainConfig(epochs=3, defence="at-l2", eps=0.05, train_subset=600)
    reference = train(config, tmp_path / "whole", dataset=digits, device="cpu", progress=False).model.state_dict()

    def stop_after_first(epoch, metrics):
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(config, tmp_path / "cut", dataset=digits, device="cpu", progress=False, on_epoch_end=stop_after_first)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 1
    resumed = train(config, tmp_path / "cut", dataset=digits, device="cpu", progress=False, resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    weights = resumed.model.state_dict()
    assert all(torch.equal(weights[k], reference[k]) for k in reference)


def test_existing_run_is_never_overwritten(tmp_path, digits):
    train(TrainConfig(epochs=1), tmp_path, dataset=digits, progress=False)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(LipregError, match="already holds a run; pass --resume"):
        train(TrainConfig(epochs=1), tmp_path, dataset=digits, progress=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_corrupt_and_mismatched_checkpoints_give_clear_errors(tmp_path, digits):
    train(TrainConfig(epochs=1), tmp_path, dataset=digits, progress=False)
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(CheckpointError, match=r"different run \(model: checkpoint 'small-cnn' vs requested 'mlp'"):
        train(TrainConfig(epochs=1, model="mlp"), tmp_path, dataset=digits, progress=False, resume=True)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="is corrupt or not a lipreg checkpoint"):
        load_checkpoint(path)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a lipreg checkpoint of format 1"):
        load_checkpoint(path)


def test_checkpoint_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "model": {}, "payload": TrainConfig()}, path)  # an arbitrary Python object
    with pytest.raises(CheckpointError, match="corrupt or not a lipreg checkpoint"):
        load_checkpoint(path)


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "result.json"
    path.write_text("old")

    def failing(stream):
        stream.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, failing)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["result.json"]


@pytest.mark.parametrize(
    "options,message",
    [({"eps": -0.1}, "eps must be >= 0, got -0.1"), ({"lam": float("nan")}, "lam must be finite, got nan"),
     ({"h": 0.0}, "h must be > 0, got 0.0"), ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
     ({"milestones": (0.5, 1.5)}, "milestones are fractions")],
)
def test_bad_config_names_the_value(options, message):
    with pytest.raises(LipregError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**options)


def test_divergence_is_reported_not_silently_trained_through(digits):
    with pytest.raises(LipregError, match="training diverged"):
        train(TrainConfig(epochs=1, model="mlp", lr=1e6, weight_decay=0), dataset=digits, progress=False)


def test_mnist_small_cnn_reaches_98_percent_in_one_epoch(data_dir, tmp_path):
    result = train(TrainConfig(dataset="mnist", epochs=1), tmp_path, data_dir=data_dir, progress=False)
    assert result.history[-1]["test_accuracy"] >= 0.98


def test_cudnn_autotuning_is_on_for_cuda_training_only_and_restored():
    """cuDNN autotuning pays for training's fixed shapes and costs attacks 50× (every shrinking batch is
    re-tuned), so it is switched on inside training on CUDA only and the caller's setting comes back."""
    from lipreg_lib.train.step import cudnn_autotuning
    before = torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = False
        with cudnn_autotuning(torch.device("cuda")):
            assert torch.backends.cudnn.benchmark
        assert not torch.backends.cudnn.benchmark
        with cudnn_autotuning(torch.device("cpu")):
            assert not torch.backends.cudnn.benchmark
        with pytest.raises(RuntimeError), cudnn_autotuning(torch.device("cuda")):
            raise RuntimeError("a failed training")
        assert not torch.backends.cudnn.benchmark
    finally:
        torch.backends.cudnn.benchmark = before


@pytest.mark.parametrize("options,message", [({"tanh_head": "false"}, "tanh_head must be true or false, got 'false'"),
                                             ({"seed": 2.5}, "seed must be an integer, got 2.5"),
                                             ({"eps": "0.1"}, "eps must be a number, got '0.1'"),
                                             ({"momentum": 1.5}, "momentum must lie in [0, 1), got 1.5"),
                                             ({"milestones": "ab"}, "milestones must be a list of numbers, got 'ab'")])
def test_options_of_the_wrong_type_are_named_not_trained_with(options, message):
    with pytest.raises(LipregError, match=re.escape(message)):
        TrainConfig.from_dict(options)


def test_an_integer_given_for_a_float_option_is_stored_as_a_float():
    config = TrainConfig.from_dict({"lr": 1, "eps": 0})
    assert isinstance(config.lr, float) and isinstance(config.eps, float) and config.to_dict()["lr"] == 1.0


def test_a_subset_larger_than_the_data_is_refused():
    with pytest.raises(LipregError, match=re.escape("train_subset = 1438 exceeds the 1437 train images of 'digits'")):
        train(TrainConfig(model="mlp", epochs=1, train_subset=1438), progress=False)


def test_an_unfinished_run_is_refused_by_load_run(tmp_path):
    def stop(epoch, metrics):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(model="mlp", epochs=2), tmp_path, progress=False, on_epoch_end=stop)
    with pytest.raises(LipregError, match="is not finished: its checkpoint is from epoch 1 of 2"):
        load_run(tmp_path)
    train(TrainConfig(model="mlp", epochs=2), tmp_path, resume=True, progress=False)
    assert load_run(tmp_path)[2].epochs == 2


def _recorded_during_training(config, dataset, record):
    """Train ``config`` with a global forward pre-hook calling ``record(module, inputs)``, and return the model."""
    handle = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        return train(config, dataset=dataset, device="cpu", progress=False).model
    finally:
        handle.remove()


@pytest.mark.parametrize("bf16", [False, True])
def test_bf16_runs_the_training_products_in_bfloat16_and_only_then(digits, bf16):
    outputs = []

    def record(module, inputs):
        if isinstance(module, torch.nn.Linear) and module.training:
            outputs.append(torch.nn.functional.linear(*inputs, module.weight).dtype)   # what autocast makes of it

    model = _recorded_during_training(TrainConfig(model="mlp", epochs=1, bf16=bf16), digits, record)
    assert outputs and set(outputs) == {torch.bfloat16 if bf16 else torch.float32}
    assert next(model.parameters()).dtype == torch.float32   # autocast leaves the weights in float32


def test_channels_last_feeds_the_convolutions_channels_last_and_trains_the_same_weights(digits):
    from dataclasses import replace
    from lipreg_lib.data import Split
    colour = replace(digits, train=Split(digits.train.x.repeat(1, 3, 1, 1), digits.train.y),   # 3 channels: a 1-channel
                     test=Split(digits.test.x.repeat(1, 3, 1, 1), digits.test.y))          # batch fits both layouts
    layouts = []

    def record(module, inputs):
        if isinstance(module, torch.nn.Conv2d) and module.training:
            layouts.append(inputs[0].is_contiguous(memory_format=torch.channels_last))

    config = TrainConfig(model="small-cnn", epochs=1, width=4, train_subset=256)
    plain = _recorded_during_training(config, colour, record)
    assert layouts and not any(layouts)
    layouts.clear()
    last = _recorded_during_training(TrainConfig.from_dict({**config.to_dict(), "channels_last": True}), colour, record)
    assert layouts and all(layouts)
    for model, wanted in ((plain, False), (last, True)):   # and the weights are stored in the layout asked for
        assert {m.weight.is_contiguous(memory_format=torch.channels_last) for m in model.modules() if isinstance(m, torch.nn.Conv2d)} == {wanted}
    for (name, a), b in zip(plain.state_dict().items(), last.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-4), name   # a layout, not a different computation

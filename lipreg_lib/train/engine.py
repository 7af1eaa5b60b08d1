"""The training loop: data on the device, a defence objective per step, atomic checkpoints, resume."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import AUGMENTATIONS, Dataset, batches, load_dataset
from ..defences import make_defence
from ..evaluate.clean import clean_metrics
from ..models import build, parameter_count, weight_layers
from ..locks import run_lock
from ..runio import provenance, resolve_device, write_json
from ..validation import LipregError, check_writable_folder
from . import distributed
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .schedule import learning_rate
from .step import cudnn_autotuning, training_step

CHECKPOINT = "checkpoint.pt"
RUN_JSON = "run.json"
EpochHook = Callable[[int, dict], None]


@dataclass
class TrainResult:
    model: nn.Module
    dataset: Dataset
    history: list[dict]
    out_dir: Path | None
    epochs_run: int = 0  # epochs trained by this call (0 when the run was already finished)


def _unseeded_model(config: TrainConfig, dataset: Dataset) -> nn.Module:
    options = {"width": config.width} if config.width is not None else {}
    return build(config.model, dataset.num_classes, dataset.input_shape, config.tanh_head, **options)


def build_model(config: TrainConfig, dataset: Dataset) -> nn.Module:
    """The model of ``config`` for ``dataset``, initialised from ``config.seed``."""
    torch.manual_seed(config.seed)
    return _unseeded_model(config, dataset)


def check_fits(config: TrainConfig, dataset: Dataset) -> None:
    """``config``'s train and test subsets are no larger than ``dataset``'s splits (a larger one would
    silently mean the whole split while the record says otherwise), and its model takes ``dataset``'s
    inputs (built on the meta device: no memory, no random numbers drawn)."""
    for name, split in (("train_subset", dataset.train), ("test_subset", dataset.test)):
        wanted = getattr(config, name)
        if wanted is not None and wanted > len(split):
            raise LipregError(f"{name} = {wanted} exceeds the {len(split)} {name[:-7]} images of {config.dataset!r}")
    with torch.device("meta"):
        _unseeded_model(config, dataset)


def load_run(out_dir: Path | str, device: str = "cpu", data_dir: Path | str | None = None) -> tuple[nn.Module, Dataset, TrainConfig]:
    """The trained model of a finished run folder, in eval mode, with its dataset and config. A run whose
    checkpoint is from an earlier epoch than its last is refused: its numbers would pass for the finished model's."""
    state = load_checkpoint(Path(out_dir) / CHECKPOINT)
    try:
        config = TrainConfig.from_dict(state["config"])
    except LipregError as error:
        raise LipregError(f"the checkpoint of {str(out_dir)!r} holds a configuration this lipreg refuses: {error}") from None
    if state["epoch"] < config.epochs:
        raise LipregError(f"run folder {str(out_dir)!r} is not finished: its checkpoint is from epoch {state['epoch']} of "
                          f"{config.epochs}; finish it first (train --out {out_dir} --resume, or run its sweep again)")
    dataset = load_dataset(config.dataset, data_dir)
    model = build_model(config, dataset)
    model.load_state_dict(state["model"])
    return model.to(resolve_device(device)).eval(), dataset, config


def train(
    config: TrainConfig,
    out_dir: Path | str | None = None,
    *,
    data_dir: Path | str | None = None,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: EpochHook | None = None,
    dataset: Dataset | None = None,
) -> TrainResult:
    """Train ``config`` and return the model; with ``out_dir``, checkpoint and ``run.json`` every epoch.

    Every epoch draws its shuffling and augmentation from a generator seeded by ``(seed, epoch)``, so
    a run resumed from the checkpoint of epoch ``k`` ends with the same weights as an uninterrupted one:
    bitwise on the CPU; on a GPU, cuDNN's autotuned, nondeterministic kernels make even two uninterrupted
    runs differ in the last bits, and the generator on the device draws other batches than the CPU's.
    """
    torch_device = resolve_device(device)
    context = distributed.setup(torch_device)
    if context.world_size > 1 and torch_device.type == "cuda":
        torch_device = torch.device("cuda", context.rank % torch.cuda.device_count())
        torch.cuda.set_device(torch_device)
    out = Path(out_dir) if out_dir is not None else None
    arguments = (config, out, context, torch_device, data_dir, resume, progress, on_epoch_end, dataset)
    if out is None or not context.is_main:
        with cudnn_autotuning(torch_device):
            return _train(*arguments)
    check_writable_folder(out, "run folder")
    with run_lock(out, wait=False), cudnn_autotuning(torch_device):
        return _train(*arguments)


def _train(config: TrainConfig, out: Path | None, context, torch_device: torch.device, data_dir, resume: bool,
           progress: bool, on_epoch_end: EpochHook | None, dataset: Dataset | None) -> TrainResult:
    checkpoint_path = out / CHECKPOINT if out else None
    if out and not resume and checkpoint_path.exists():
        raise LipregError(f"{str(out)!r} already holds a run; pass --resume to continue it or choose another --out")

    dataset = dataset or load_dataset(config.dataset, data_dir)
    check_fits(config, dataset)
    train_split = dataset.train.subset(config.train_subset, config.seed).to(torch_device)
    test_split = dataset.test.subset(config.test_subset, config.seed).to(torch_device)
    model = build_model(config, dataset).to(torch_device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    objective = make_defence(config.defence, config.eps, config.lam, config.h, clip=config.clip, per_example=config.per_example,
                             label_smoothing=config.label_smoothing)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                                nesterov=config.nesterov)
    augmentation = None
    if config.augment:
        augmentation = dataset.augmentation if config.augmentation == "dataset" else AUGMENTATIONS[config.augmentation]

    start_epoch, history = 0, []
    if resume and checkpoint_path is not None and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, config.to_dict(), defaults=TrainConfig().to_dict())
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(f"checkpoint {str(checkpoint_path)!r} does not fit model {config.model!r}: {error}") from None
        start_epoch, history = state["epoch"], list(state["history"])

    trained = model
    if context.world_size > 1:
        trained = nn.parallel.DistributedDataParallel(model, device_ids=[torch_device] if torch_device.type == "cuda" else None)
    steps_per_epoch = max(len(train_split) // config.batch_size, 1)
    total_steps = steps_per_epoch * config.epochs
    autocast = torch.autocast(torch_device.type, dtype=torch.bfloat16) if config.bf16 else nullcontext()
    record = {
        "config": config.to_dict(), "defence": objective.name, "status": "running", "world_size": context.world_size,
        "dataset": {"name": dataset.name, "train_size": len(train_split), "test_size": len(test_split),
                    "input_shape": list(dataset.input_shape), "num_classes": dataset.num_classes, **dataset.provenance},
        "model": {"parameters": parameter_count(model), "weight_layers": weight_layers(model)},
        "provenance": provenance(torch_device),
    }

    refresh = max(1, min(20, steps_per_epoch // 10))  # the bar's loss and accuracy, about ten times an epoch
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        generator = torch.Generator(device=torch_device).manual_seed(config.seed * 1_000_003 + epoch)
        trained.train()
        loss_sum = torch.zeros((), device=torch_device)
        correct = torch.zeros((), device=torch_device)
        seen = 0
        bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not (progress and context.is_main), leave=False)
        stream = batches(train_split, config.batch_size, shuffle=True, generator=generator, drop_last=True,
                         augmentation=augmentation,
                         rank=context.rank, world_size=context.world_size)
        for step, (x, y) in enumerate(stream):
            lr = learning_rate(epoch * steps_per_epoch + step, total_steps, config.lr, config.milestones, config.gamma,
                               config.schedule, config.warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            if config.channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            loss, logits = training_step(objective, trained, optimizer, x, y, autocast)
            loss_sum += loss.float() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            bar.update()
            if step % refresh == 0 or step == steps_per_epoch - 1:
                value = loss.item()
                if not math.isfinite(value):
                    raise LipregError(f"training diverged: loss {value} at epoch {epoch + 1}, step {step + 1}; lower --lr or --lam")
                bar.set_postfix(loss=f"{value:.3f}", acc=f"{correct.item() / seen:.3f}", lr=f"{lr:.4g}")
        bar.close()
        totals = context.mean(torch.stack([loss_sum / seen, correct / seen]))
        test = clean_metrics(model, test_split)
        metrics = {"epoch": epoch + 1, "seconds": time.perf_counter() - started, "lr": lr,
                   "train_loss": totals[0].item(), "train_accuracy": totals[1].item(),
                   "test_loss": test["loss"], "test_accuracy": test["accuracy"]}
        history.append(metrics)
        if progress and context.is_main:
            tqdm.write(f"epoch {epoch + 1}/{config.epochs}: train loss {metrics['train_loss']:.4f} acc {metrics['train_accuracy']:.4f} | "
                       f"test loss {metrics['test_loss']:.4f} acc {metrics['test_accuracy']:.4f} | {metrics['seconds']:.1f}s")
        if out is not None and context.is_main:
            save_checkpoint(checkpoint_path, {"config": config.to_dict(), "epoch": epoch + 1, "history": history,
                                              "model": model.state_dict(), "optimizer": optimizer.state_dict()})
            finished = epoch + 1 == config.epochs
            write_json(out / RUN_JSON, {**record, "status": "finished" if finished else "running", "epochs": history})
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, metrics)
    distributed.teardown(context)
    return TrainResult(model.eval(), dataset, history, out, config.epochs - start_epoch)

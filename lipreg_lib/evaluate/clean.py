"""Clean (unattacked) outputs, accuracy and loss of a model, on the model's device whatever the data's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split, batches
from ..devices import full_float32, model_device
from ..models.modes import eval_mode


@torch.no_grad()
@full_float32()
def logits_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's outputs ``f(x)`` as it is (its mode unchanged), without gradients, computed on the
    model's device in full float32 (as the attacks check their examples) and returned on the device of
    ``x``: ``logits_of(model, x).argmax(1)`` is the label."""
    return model(x.to(model_device(model))).to(x.device)


@torch.no_grad()
@full_float32()
def clean_metrics(model: nn.Module, split: Split, batch_size: int = 1000, flip_tta: bool = False) -> dict[str, float]:
    """``{"loss": mean cross-entropy, "accuracy": fraction correct}`` in eval mode, no gradients, on the
    model's device in full float32.

    ``flip_tta``: test-time augmentation by horizontal flip, logits ``(f(x) + f(flip x)) / 2`` (airbench's;
    reported beside the plain numbers, never used by the attacks)."""
    split = split.to(model_device(model))
    total_loss = torch.zeros((), device=split.x.device)
    correct = torch.zeros((), device=split.x.device, dtype=torch.long)
    with eval_mode(model):
        for x, y in batches(split, batch_size):
            logits = model(x).float()
            if flip_tta:
                logits = (logits + model(x.flip(3)).float()) / 2
            total_loss += F.cross_entropy(logits, y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    return {"loss": total_loss.item() / len(split), "accuracy": correct.item() / len(split)}


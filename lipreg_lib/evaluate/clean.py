"""Clean (unattacked) accuracy and loss of a model on a split."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split, batches
from ..models.modes import eval_mode


@torch.no_grad()
def clean_metrics(model: nn.Module, split: Split, batch_size: int = 1000, flip_tta: bool = False) -> dict[str, float]:
    """``{"loss": mean cross-entropy, "accuracy": fraction correct}`` in eval mode, no gradients.

    ``flip_tta``: test-time augmentation by horizontal flip, logits ``(f(x) + f(flip x)) / 2`` (airbench's;
    reported beside the plain numbers, never used by the attacks)."""
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


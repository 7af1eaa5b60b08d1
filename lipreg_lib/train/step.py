"""One optimisation step of a defence objective: shared by the training loop and the cost benchmark,
so that what is timed is what trains."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn


def training_step(objective, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                  autocast: AbstractContextManager | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``θ ← optimizer(θ, ∇_θ objective(model, x, y))``; returns the detached ``(loss, logits)``."""
    with autocast or nullcontext():
        loss, logits = objective(model, x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()

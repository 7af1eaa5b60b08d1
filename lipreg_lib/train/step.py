"""One optimisation step of a defence objective: shared by the training loop and the cost benchmark,
so that what is timed is what trains."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from torch import nn


@contextmanager
def cudnn_autotuning(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """Within the block, on CUDA, let cuDNN pick the fastest convolution algorithm per input shape
    (``cudnn.benchmark``; measured on an H100, a ResNeXt-34 Lipschitz step 151 → 97 ms, a tulip step
    203 → 150 ms); the previous setting is restored on exit. Only for fixed shapes, as in training: it
    re-tunes for every new shape, so an attack whose batch shrinks as images are fooled ran 50× slower
    with it. The choice can differ between runs, so CUDA training is not bitwise reproducible."""
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled if device.type == "cuda" else previous
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


def training_step(objective, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                  autocast: AbstractContextManager | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``θ ← optimizer(θ, ∇_θ objective(model, x, y))``; returns the detached ``(loss, logits)``."""
    with autocast or nullcontext():
        loss, logits = objective(model, x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()

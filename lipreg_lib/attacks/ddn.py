"""Decoupled Direction and Norm (Rony et al. 2019): a minimal-norm attack, the whole error curve in one run."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..gradients import flat_norms, per_image, unit_directions
from ..validation import check_images, check_positive, check_positive_int
from .driver import drive
from .engine import cosine_annealed
from .result import AttackResult


@torch.no_grad()
def ddn_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 100, gamma: float = 0.05,
              initial_norm: float = 1.0, alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(distances, adversarial)``: at step ``k``, ascend ``δ ← δ + α_k g/‖g‖₂`` (``α_k`` cosine-annealed
    from ``α`` to ``α/100``), then rescale ``δ`` to norm ``m``, where ``m`` shrinks by ``(1 − γ)`` while
    ``x + δ`` is adversarial and grows by ``(1 + γ)`` while it is not. The smallest adversarial ``‖δ‖₂``
    seen is the distance (``0`` if misclassified clean, ``inf`` if never adversarial).
    """
    check_images(x, y)
    n = x.shape[0]
    delta = torch.zeros_like(x)
    norm = torch.full((n,), float(initial_norm), device=x.device)
    distances = torch.full((n,), float("inf"), device=x.device, dtype=torch.float64)
    adversarial = x.clone()
    for k in range(steps + 1):
        with torch.enable_grad():
            delta.requires_grad_(True)
            logits = model(x + delta)
            (gradient,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), delta)
        delta = delta.detach()
        fooled = logits.argmax(1) != y
        size = flat_norms(delta).double()
        better = fooled & (size < distances)
        distances[better] = size[better]
        adversarial[better] = (x + delta)[better]
        if k == steps:
            break
        step = cosine_annealed(alpha, k, steps)
        delta = delta + step * unit_directions(gradient, "l2")
        norm = torch.where(fooled, norm * (1 - gamma), norm * (1 + gamma))
        delta = delta * per_image(norm / flat_norms(delta).clamp_min(1e-12), delta)
        delta = (x + delta).clamp(0, 1) - x
    return distances, adversarial


def ddn(model: nn.Module, split: Split, *, batch_size: int = 500, steps: int = 100, gamma: float = 0.05,
        initial_norm: float = 1.0, alpha: float = 1.0, progress: bool = False) -> AttackResult:
    """:func:`ddn_batch` over a whole split through the attack driver (eval mode, batches, re-check)."""
    check_positive_int("steps", steps)
    for name, value in (("gamma", gamma), ("initial_norm", initial_norm), ("alpha", alpha)):
        check_positive(name, value)
    settings = {"steps": steps, "gamma": gamma, "initial_norm": initial_norm, "alpha": alpha, "search": "minimal-norm"}
    return drive(model, split, "ddn", lambda x, y: ddn_batch(model, x, y, steps, gamma, initial_norm, alpha), settings,
                 batch_size=batch_size, progress=progress)

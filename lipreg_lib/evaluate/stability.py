"""Stability statistics on test data (arXiv 1810.00953, §3, §4): loss gradients, Jacobian norms, certified radii.

Each runs on the model's device (the split is moved there once) in full float32 (:func:`~lipreg_lib.devices.full_float32`)
and returns per-example values on the CPU."""

from __future__ import annotations

import torch
from torch import nn

from ..data import Split, batches
from ..devices import full_float32, model_device
from ..attacks.engine import class_margin
from ..gradients import flat_norms, loss_gradient
from ..models.modes import eval_mode


@full_float32()
def loss_gradient_norms(model: nn.Module, split: Split, batch_size: int = 100) -> torch.Tensor:
    """Per-example ``‖∇_x ℓ(f(x_i), y_i)‖₂`` in eval mode (one backward pass per batch)."""
    split, norms = split.to(model_device(model)), []
    with eval_mode(model):
        for x, y in batches(split, batch_size):
            norms.append(flat_norms(loss_gradient(model, x, y)[0]))
    return torch.cat(norms).cpu()


def batch_mean_convention(norms: torch.Tensor, batch_size: int) -> float:
    """The authors' statistic from per-example norms: ``max_B max_{i∈B} ‖∇ℓ(x_i)‖₂ / |B|`` over
    consecutive batches ``B`` of ``batch_size`` (the gradient of each batch's *mean* loss)."""
    return max((chunk.max() / len(chunk)).item() for chunk in norms.split(batch_size))


@full_float32()
def jacobian_row_norms(model: nn.Module, split: Split, batch_size: int = 100) -> torch.Tensor:
    """Per-example ``‖∇_x f(x_i)‖_{2,∞} = max_k ‖∇_x f_k(x_i)‖₂``, one backward pass per class
    (eval mode makes examples independent, so ``∇_x Σ_i f_k(x_i)`` holds every ``∇ f_k(x_i)``)."""
    split, norms = split.to(model_device(model)), []
    with eval_mode(model):
        for x, _ in batches(split, batch_size):
            leaf = x.requires_grad_(True)
            logits = model(leaf)
            rows = [flat_norms(torch.autograd.grad(logits[:, k].sum(), leaf, retain_graph=True)[0]) for k in range(logits.shape[1])]
            norms.append(torch.stack(rows, 1).max(1).values.detach())
    return torch.cat(norms).cpu()


@torch.no_grad()
@full_float32()
def margins(model: nn.Module, split: Split, batch_size: int = 1000) -> torch.Tensor:
    """``f_y(x) − max_{j≠y} f_j(x)`` per example (negative when misclassified)."""
    split, out = split.to(model_device(model)), []
    with eval_mode(model):
        for x, y in batches(split, batch_size):
            out.append(class_margin(model(x), y))
    return torch.cat(out).cpu()


def certified_radius(margin: torch.Tensor, lipschitz: float) -> torch.Tensor:
    """Weng et al. / arXiv 1810.00953, eq. 2: no perturbation smaller than ``margin / (2 L)`` changes the label,
    when ``L`` bounds the Lipschitz constant of every logit; 0 for misclassified examples."""
    return (margin / (2 * lipschitz)).clamp(min=0)


def stability_statistics(model: nn.Module, split: Split, batch_size: int = 100) -> dict:
    """The stability columns of Table 1: max ‖∇ℓ‖ (both conventions), the mean per-example ‖∇ℓ‖ and
    max ‖∇f‖_{2,∞}, with the batch size the authors' convention used."""
    norms = loss_gradient_norms(model, split, batch_size)
    return {
        "max_loss_gradient": batch_mean_convention(norms, batch_size),
        "max_loss_gradient_per_example": norms.max().item(),
        "mean_loss_gradient_per_example": norms.mean().item(),
        "max_jacobian_norm": jacobian_row_norms(model, split, batch_size).max().item(),
        "gradient_batch_size": batch_size,
    }

"""Penalties on the input gradient of the loss, evaluated at the clean training batch.

Each receives the per-example losses ``ℓ_i`` and gradients ``g_i = ∇_{x_i} ℓ_i`` (differentiable
when :attr:`second_order`), so that several penalties share one gradient computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..gradients import flat_norms, unit_directions


@dataclass(frozen=True)
class LipschitzPenalty:
    """Lipschitz regularisation of the loss (arXiv 1810.00953, eq. 12): ``λ · max_i ‖∇_{x_i} L‖₂``.

    ``per_example=False`` (the authors' convention, default): ``L = (1/B) Σ_j ℓ_j`` is the batch *mean*
    loss, so each gradient carries a factor ``1/B``: penalty ``λ · max_i ‖g_i‖₂ / B``.
    ``per_example=True``: ``L = ℓ_i``, penalty ``λ · max_i ‖g_i‖₂``. Not squared, no target constant.
    """

    lam: float
    per_example: bool = False
    second_order = True

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, losses: torch.Tensor, grads: torch.Tensor,
                 loss=None) -> torch.Tensor:
        scale = 1.0 if self.per_example else 1.0 / x.shape[0]
        return self.lam * scale * flat_norms(grads).max()


@dataclass(frozen=True)
class LipschitzFiniteDifference:
    """The Lipschitz penalty of :class:`LipschitzPenalty` in finite-difference form (no double backward).

    With ``i* = argmax_i ‖g_i‖₂`` and ``v = g_{i*}/‖g_{i*}‖₂`` held fixed, perturb example ``i*``
    alone, ``x' = x + h v e_{i*}``, and use
    ``‖g_{i*}‖₂ ≈ (Σ_j ℓ_j(x') − Σ_j ℓ_j(x)) / h``: penalty ``λ · s · (L(x') − L(x)) / h`` with
    ``L`` the batch-mean loss and ``s = 1`` (authors' convention, ``λ max_i ‖g_i‖₂ / B``) or ``s = B``
    (``per_example``). In train mode batch norm couples the examples, so the sum over ``j`` is what
    matches ``g_{i*} = ∇_{x_{i*}} Σ_j ℓ_j``. Its value and its parameter gradient agree with the
    double-backward form to first order in ``h`` (the gradient of ``max_i ‖g_i‖`` is that of
    ``⟨g_{i*}, v⟩`` at the maximiser: ``v`` may be held fixed).

    The clean loss enters linearly, so :class:`Objective` can reuse the clean parameter gradient
    instead of back-propagating through the clean graph again (:attr:`clean_coefficient`).
    """

    lam: float
    h: float = 0.01
    per_example: bool = False
    second_order = False

    def clean_coefficient(self, batch: int) -> float:
        """The coefficient of ``∇_θ L(x)`` in the penalty's parameter gradient: ``−λ s / h``."""
        return -self.lam * (batch if self.per_example else 1) / self.h

    def perturbed_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, grads: torch.Tensor, loss) -> torch.Tensor:
        """``L(x')``, differentiable in the parameters, at ``x' = x + h v e_{i*}``."""
        norms = flat_norms(grads.detach())
        star = norms.argmax()
        shifted = x.detach().clone()
        shifted[star] += self.h * grads[star].detach() / norms[star].clamp_min(1e-12)
        return loss(model(shifted), y)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, losses: torch.Tensor, grads: torch.Tensor,
                 loss=None) -> torch.Tensor:
        loss = loss or F.cross_entropy
        return -self.clean_coefficient(x.shape[0]) * (self.perturbed_loss(model, x, y, grads, loss) - losses.mean())


@dataclass(frozen=True)
class GradientNormPenalty:
    """Double backpropagation (Drucker & LeCun 1992): ``λ · (1/B) Σ_i ‖∇_{x_i} ℓ_i‖₂²``. At the same λ this is
    twice :class:`FiniteDifferencePenalty`'s limit, which keeps the ``λ/2`` of Finlay & Oberman (2019)."""

    lam: float
    second_order = True

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, losses: torch.Tensor, grads: torch.Tensor,
                 loss=None) -> torch.Tensor:
        return self.lam * flat_norms(grads).pow(2).mean()


@dataclass(frozen=True)
class FiniteDifferencePenalty:
    """Finite-difference gradient regularisation (Finlay & Oberman 2019, arXiv 1905.11468).

    With ``v_i = g_i/‖g_i‖₂`` held fixed (no second-order graph), the directional derivative
    ``d_i ≈ ‖g_i‖₂`` is the forward difference ``(ℓ(x_i + h v_i) − ℓ(x_i)) / h`` (error ``O(h)``);
    penalty ``λ/2 · (1/B) Σ_i d_i²``, which tends to ``λ/2 · E‖g‖₂²`` as ``h → 0``.
    """

    lam: float
    h: float = 0.01
    second_order = False

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, losses: torch.Tensor, grads: torch.Tensor,
                 loss=None) -> torch.Tensor:
        v = unit_directions(grads.detach(), "l2")
        loss = loss or F.cross_entropy
        d = (loss(model(x.detach() + self.h * v), y, reduction="none") - losses) / self.h
        return 0.5 * self.lam * d.pow(2).mean()

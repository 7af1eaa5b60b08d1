"""Adversarial training perturbations (arXiv 1810.00953, §2 and App. A): the model trains on ``x + δ`` only."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..models.modes import eval_mode
from ..gradients import loss_gradient, unit_directions


@dataclass(frozen=True)
class Perturbation:
    """``δ = ε · v*(∇_x ℓ(x))`` computed in eval mode (batch-norm statistics untouched, parameter
    gradients off), ``ℓ`` the plain cross-entropy, as an attacker's (a training objective's label
    smoothing does not enter the direction; see :class:`~lipreg_lib.defences.objective.Objective`).
    ``norm="l2"`` gives ``v* = g/‖g‖₂`` (2-norm AT); ``"linf-unit-l2"`` gives the authors' FGSM step
    ``sign(g)/√n`` (unit Euclidean length). Not clipped to [0,1] unless ``clip``.
    """

    eps: float
    norm: str
    clip: bool = False

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if isinstance(model, nn.parallel.DistributedDataParallel):  # no gradient synchronisation here
            model = model.module
        with eval_mode(model):
            grads, _ = loss_gradient(model, x, y)
        return self.from_gradients(x, grads)

    def from_gradients(self, x: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        """``x + ε v*(g)`` for input gradients ``g`` already computed (clipped to [0,1] with ``clip``)."""
        adversarial = x.detach() + self.eps * unit_directions(grads.detach(), self.norm)
        return (adversarial.clamp(0, 1) if self.clip else adversarial).detach()

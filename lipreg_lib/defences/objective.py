"""A training objective: optional adversarial perturbation plus penalties on the clean batch."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .gradients import input_gradients
from .penalties import FiniteDifferencePenalty, GradientNormPenalty, LipschitzPenalty
from .perturbations import Perturbation

Penalty = LipschitzPenalty | GradientNormPenalty | FiniteDifferencePenalty


@dataclass(frozen=True)
class Objective:
    """``E[ℓ(x + δ(x))] + Σ_k penalty_k(x)``: with no perturbation ``δ = 0`` (baseline when no penalties).

    tulip (PAPER.md §3) is ``Perturbation(ε, "l2")`` with ``LipschitzPenalty(λ)``:
    ``E[ℓ(x + ε g/‖g‖₂)] + λ max_i ‖∇_x ℓ(x_i)‖₂``.
    """

    name: str = "baseline"
    perturbation: Perturbation | None = None
    penalties: tuple[Penalty, ...] = field(default_factory=tuple)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(loss, logits)``, the logits of the batch the model trained on (for accuracy)."""
        logits = None
        penalty = x.new_zeros(())
        if self.penalties:
            clean = x.detach().requires_grad_(True)
            logits = model(clean)
            losses = F.cross_entropy(logits, y, reduction="none")
            second_order = any(p.second_order for p in self.penalties)
            grads = input_gradients(losses, clean, create_graph=second_order)
            for term in self.penalties:
                penalty = penalty + term(model, clean, y, losses, grads)
        if self.perturbation is not None:
            logits = model(self.perturbation(model, x, y))
        elif logits is None:
            logits = model(x)
        return F.cross_entropy(logits, y) + penalty, logits

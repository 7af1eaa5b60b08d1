"""A training objective: optional adversarial perturbation plus penalties on the clean batch."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..gradients import input_gradients
from .penalties import FiniteDifferencePenalty, GradientNormPenalty, LipschitzFiniteDifference, LipschitzPenalty
from .perturbations import Perturbation

Penalty = LipschitzPenalty | LipschitzFiniteDifference | GradientNormPenalty | FiniteDifferencePenalty


@dataclass(frozen=True)
class Objective:
    """``E[ℓ(x + δ(x))] + Σ_k penalty_k(x)``: with no perturbation ``δ = 0`` (baseline when no penalties).

    tulip (arXiv 1810.00953, §3, eq. 12) is ``Perturbation(ε, "l2")`` with ``LipschitzPenalty(λ)``:
    ``E[ℓ(x + ε g/‖g‖₂)] + (λ/B) max_i ‖∇_x ℓ(x_i)‖₂`` in the authors' batch-mean convention (the
    penalty's default; ``per_example=True`` drops the ``1/B``). ``ℓ`` is the cross-entropy, with
    ``label_smoothing`` when the recipe asks for it (the attacks and statistics use the plain one).

    When the only penalty is :class:`LipschitzFiniteDifference`, one backward pass over the clean
    batch yields both the input gradients ``g`` and the clean parameter gradient ``∇_θ L(x)``; the
    penalty's ``−(λs/h) ∇_θ L(x)`` then costs nothing, and with adversarial training the direction
    ``g/‖g‖₂`` of that same pass (train mode) replaces the separate eval-mode gradient
    (``tulip-fd``: three forward-backward passes in all). The returned loss has the objective's value
    and that gradient. So the two adversarial directions differ where the recipe smooths labels or the
    model has batch norm: :class:`Perturbation` steps along the plain cross-entropy's gradient in eval
    mode, as an attacker would, ``tulip-fd`` along the gradient of ``ℓ`` itself (label-smoothed) in train
    mode; without either they coincide (``tests/test_defences.py`` checks tulip-fd against tulip there).
    """

    name: str = "baseline"
    perturbation: Perturbation | None = None
    penalties: tuple[Penalty, ...] = field(default_factory=tuple)
    label_smoothing: float = 0.0

    def loss(self, logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The training loss ``ℓ``: cross-entropy, label-smoothed by :attr:`label_smoothing`."""
        return F.cross_entropy(logits, y, reduction=reduction, label_smoothing=self.label_smoothing)

    @property
    def reuses_clean_pass(self) -> bool:
        return len(self.penalties) == 1 and isinstance(self.penalties[0], LipschitzFiniteDifference)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(loss, logits)``, the logits of the batch the model trained on (for accuracy)."""
        if self.reuses_clean_pass:
            return self._first_order(model, x, y)
        logits = None
        penalty = x.new_zeros(())
        if self.penalties:
            clean = x.detach().requires_grad_(True)
            logits = model(clean)
            losses = self.loss(logits, y, "none")
            second_order = any(p.second_order for p in self.penalties)
            grads = input_gradients(losses, clean, create_graph=second_order)
            for term in self.penalties:
                penalty = penalty + term(model, clean, y, losses, grads, self.loss)
        if self.perturbation is not None:
            logits = model(self.perturbation(model, x, y))
        elif logits is None:
            logits = model(x)
        return self.loss(logits, y) + penalty, logits

    def _first_order(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        (term,) = self.penalties
        params = [p for p in model.parameters() if p.requires_grad]
        clean = x.detach().requires_grad_(True)
        logits = model(clean)
        clean_loss = self.loss(logits, y)
        grads, *clean_param_grads = torch.autograd.grad(clean_loss, [clean, *params])
        grads = grads * x.shape[0]  # g_i = ∇_{x_i} Σ_j ℓ_j
        coefficient = term.clean_coefficient(x.shape[0])
        perturbed = term.perturbed_loss(model, clean, y, grads, self.loss)
        value = perturbed.detach() * -coefficient + clean_loss.detach() * coefficient
        if self.perturbation is None:
            differentiable = -coefficient * perturbed
            weight = 1 + coefficient
        else:
            logits = model(self.perturbation.from_gradients(x, grads))
            adversarial = self.loss(logits, y)
            differentiable = adversarial - coefficient * perturbed
            value = value + adversarial.detach()
            weight = coefficient
        value = value + (clean_loss.detach() if self.perturbation is None else 0)
        # Σ_p ⟨p, w ∇_p L(x)⟩ has gradient w ∇_θ L(x): the clean graph is not traversed again.
        reused = sum((p * (weight * g)).sum() for p, g in zip(params, clean_param_grads))
        total = differentiable + reused
        return value + (total - total.detach()), logits

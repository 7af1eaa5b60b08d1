"""One batched iterative attack in the 2-norm, with pluggable step rules (arXiv 1810.00953, §1, §4).

Every attack here is ``δ_{t+1} = Π_ε(δ_t + α ε · step(∇_δ ℓ(x + δ_t)))``, with ``Π_ε`` scaling ``δ`` into
the Euclidean ball of radius ε and then clipping ``x + δ`` into the box ``[0,1]^n``: a feasible point of their
intersection, though not always the nearest one (the exact projection onto it). The step rules:

- ``l2``: ``g/‖g‖₂`` (steepest ascent in the 2-norm): 1 step of size 1 is the *gradient attack*,
  several steps are PGD-L2;
- ``sign``: ``sign(g)/‖sign(g)‖₂`` (the FGSM direction, scaled to unit Euclidean length): 1 step is
  FGSM, several are I-FGSM.

The ascended loss ``ℓ`` is the cross-entropy (``ce``) or the logit margin
``max_{j≠y} z_j − z_y`` (``margin``, as Carlini & Wagner's), which keeps its gradient where the
softmax saturates. Budgets ``ε`` are per image, and an image leaves the loop as soon as it is
misclassified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..devices import full_float32, model_device
from ..gradients import flat_norms, per_image, unit_directions
from ..validation import LipregError, check_choice, check_positive, check_positive_int

STEP_RULES = ("l2", "sign")
LOSSES = ("ce", "margin")
SCHEDULES = ("constant", "cosine")


def class_margin(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per example ``z_y − max_{j≠y} z_j``: positive where the label wins, negative where another class does."""
    true = scores.gather(1, y[:, None]).squeeze(1)
    return true - scores.scatter(1, y[:, None], float("-inf")).amax(1)


def cosine_annealed(size: float, step: int, steps: int) -> float:
    """``size · (0.01 + 0.99 · (1 + cos(π t / T)) / 2)``: ``size`` at ``t = 0``, ``size/100`` at ``t = T``."""
    return size * (0.01 + 0.99 * (1 + math.cos(math.pi * step / steps)) / 2)


def attack_loss(logits: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """The summed loss ``Σᵢ ℓ(z_i, y_i)`` an attack ascends: cross-entropy, or ``max_{j≠y} z_j − z_y``."""
    if loss == "ce":
        return F.cross_entropy(logits, y, reduction="sum")
    return -class_margin(logits, y).sum()


def project(delta: torch.Tensor, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``Π_ε``: scale ``δ`` into the ball ``‖δ‖₂ ≤ ε`` then clip ``x + δ`` into ``[0,1]``."""
    scale = (eps / flat_norms(delta).clamp_min(1e-12)).clamp(max=1)
    delta = delta * per_image(scale, delta)
    return (x + delta).clamp(0, 1) - x


def step_direction(g: torch.Tensor, rule: str) -> torch.Tensor:
    """The unit-Euclidean-length ascent direction of ``rule`` for gradients ``g``: ``g/‖g‖₂`` or ``sign(g)/‖sign(g)‖₂``."""
    return unit_directions(g, "l2" if rule == "l2" else "sign-unit-l2")


@dataclass(frozen=True)
class IterativeAttack:
    """A fixed-budget attack: ``steps`` steps of relative size ``step_size`` (×ε) with ``rule`` on ``loss``."""

    name: str
    rule: str = "l2"
    steps: int = 20
    step_size: float = 0.125
    random_start: bool = False
    loss: str = "ce"
    schedule: str = "constant"

    def __post_init__(self) -> None:
        check_choice("step rule", self.rule, STEP_RULES)
        check_choice("attack loss", self.loss, LOSSES)
        check_choice("step-size schedule", self.schedule, SCHEDULES)
        check_positive_int("steps", self.steps)
        check_positive("step_size", self.step_size)

    def relative_step(self, step: int) -> float:
        """Step ``t``'s size relative to ε: ``step_size``, or cosine-annealed from it (``t = 0``) towards
        ``step_size/100`` (reached at ``t = steps``, one past the last step taken)."""
        if self.schedule == "constant":
            return self.step_size
        return cosine_annealed(self.step_size, step, self.steps)

    @torch.no_grad()
    @full_float32()
    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x_adv, success)``: ``‖x_adv − x‖₂ ≤ ε`` per image, ``success`` where ``f(x_adv) ≠ y``
        (computed on the model's device in full float32, returned on the device of ``x``)."""
        home, device = x.device, model_device(model)
        x, y = x.to(device), y.to(device)
        eps = torch.as_tensor(eps, dtype=x.dtype).to(x.device).expand(x.shape[0]).clone()
        bad = (eps < 0) | ~torch.isfinite(eps)
        if bool(bad.any()):
            raise LipregError(f"attack budgets must be finite and >= 0, got {eps[bad][0].item()} (and {int(bad.sum()) - 1} more)")
        delta = torch.zeros_like(x)
        if self.random_start:
            noise = torch.randn_like(x)
            radius = eps * torch.rand_like(eps) ** (1 / x[0].numel())
            delta = project(unit_directions(noise, "l2") * per_image(radius, x), x, eps)
        adversarial = x.clone()
        success = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        active = torch.arange(x.shape[0], device=x.device)
        for step in range(self.steps + 1):
            xa, ya, da, ea = x[active], y[active], delta[active], eps[active]
            with torch.enable_grad():
                da = da.requires_grad_(True)
                logits = model(xa + da)
                fooled = logits.argmax(1) != ya
                gradient = None
                if step < self.steps:
                    (gradient,) = torch.autograd.grad(attack_loss(logits, ya, self.loss), da)
            done = active[fooled]
            adversarial[done] = (xa + da.detach())[fooled]
            success[done] = True
            if step == self.steps:
                adversarial[active[~fooled]] = (xa + da.detach())[~fooled]
                break
            keep = ~fooled
            active, xa, da, ea, gradient = active[keep], xa[keep], da.detach()[keep], ea[keep], gradient[keep]
            if active.numel() == 0:
                break
            delta[active] = project(da + self.relative_step(step) * per_image(ea, da) * step_direction(gradient, self.rule), xa, ea)
        return adversarial.to(home), success.to(home)


ATTACKS = {
    "fgsm": IterativeAttack("fgsm", "sign", steps=1, step_size=1.0),
    "gradient": IterativeAttack("gradient", "l2", steps=1, step_size=1.0),
    "ifgsm": IterativeAttack("ifgsm", "sign", steps=20, step_size=0.125),
    "pgd-l2": IterativeAttack("pgd-l2", "l2", steps=20, step_size=0.125),
}


def get_attack(name: str, **overrides) -> IterativeAttack:
    """A registered attack, with ``steps``, ``step_size``, ``random_start``, ``loss`` or ``schedule`` overridden if given."""
    check_choice("attack", name, ATTACKS)
    base = ATTACKS[name]
    if base.steps == 1 and overrides.get("steps") not in (None, 1):
        several = "ifgsm" if base.rule == "sign" else "pgd-l2"
        raise LipregError(f"{name!r} is a one-step attack, got steps = {overrides['steps']!r}; for several steps use {several!r}")
    values = {"name": base.name, "rule": base.rule, "steps": base.steps, "step_size": base.step_size,
              "random_start": base.random_start, "loss": base.loss, "schedule": base.schedule, **{k: v for k, v in overrides.items() if v is not None}}
    return IterativeAttack(**values)

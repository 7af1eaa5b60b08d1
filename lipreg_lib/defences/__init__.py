"""Training objectives of PAPER.md §2, §3, §6, composable from a spec such as ``at-l2+lip``.

Components: ``baseline``; ``at-fgsm`` / ``at-l2`` (adversarial training, at most one); ``lip``
(Lipschitz penalty of the loss), ``gradnorm`` (squared gradient norm), ``fd`` (finite differences);
``tulip`` is shorthand for ``at-l2+lip``. The tanh logit layer is a model option (``tanh_head``).
"""

from __future__ import annotations

from .gradients import flat_norms, input_gradients, loss_gradient, unit_directions
from .objective import Objective
from .penalties import FiniteDifferencePenalty, GradientNormPenalty, LipschitzPenalty
from .perturbations import Perturbation
from ..validation import LipregError, check_choice, check_nonnegative, check_positive

COMPONENTS = ("baseline", "at-fgsm", "at-l2", "lip", "gradnorm", "fd", "tulip")
ALIASES = {"tulip": ("at-l2", "lip")}


def make_defence(
    spec: str,
    eps: float = 0.01,
    lam: float = 0.1,
    h: float = 0.01,
    *,
    clip: bool = False,
    per_example: bool = False,
    fd_scheme: str = "forward",
) -> Objective:
    """Build the :class:`Objective` named by ``spec`` (components joined by ``+``)."""
    eps = check_nonnegative("eps", eps)
    lam = check_nonnegative("lam", lam)
    h = check_positive("h", h)
    check_choice("finite-difference scheme", fd_scheme, ("forward", "central"))
    parts: list[str] = []
    for part in spec.strip().lower().split("+"):
        check_choice("defence", part, COMPONENTS)
        parts += ALIASES.get(part, (part,))
    parts = [p for p in dict.fromkeys(parts) if p != "baseline"]
    attacks = [p for p in parts if p.startswith("at-")]
    if len(attacks) > 1:
        raise LipregError(f"defence {spec!r} combines {' and '.join(attacks)}; use at most one adversarial training")
    perturbation = None
    if attacks:
        perturbation = Perturbation(eps, "l2" if attacks[0] == "at-l2" else "linf-unit-l2", clip)
    penalties = tuple(
        {"lip": lambda: LipschitzPenalty(lam, per_example), "gradnorm": lambda: GradientNormPenalty(lam),
         "fd": lambda: FiniteDifferencePenalty(lam, h, fd_scheme)}[p]()
        for p in parts if not p.startswith("at-")
    )
    return Objective("+".join(parts) or "baseline", perturbation, penalties)


__all__ = [
    "COMPONENTS", "FiniteDifferencePenalty", "GradientNormPenalty", "LipschitzPenalty", "Objective",
    "Perturbation", "flat_norms", "input_gradients", "loss_gradient", "make_defence", "unit_directions",
]

"""Training objectives of arXiv 1810.00953, §2–3; Finlay & Oberman 2019, arXiv 1905.11468, composable from a spec such as ``at-l2+lip``.

Components: ``baseline``; ``at-fgsm`` / ``at-l2`` (adversarial training, at most one); ``lip``
(Lipschitz penalty of the loss), ``lip-fd`` (the same in finite-difference form, no double
backward), ``gradnorm`` (squared gradient norm), ``fd`` (finite differences of the squared norm);
``tulip`` is shorthand for ``at-l2+lip`` and ``tulip-fd`` for ``at-l2+lip-fd``. The tanh logit layer is a model option (``tanh_head``).
"""

from __future__ import annotations

from ..gradients import flat_norms, input_gradients, loss_gradient, unit_directions
from .objective import Objective
from .penalties import FiniteDifferencePenalty, GradientNormPenalty, LipschitzFiniteDifference, LipschitzPenalty
from .perturbations import Perturbation
from ..validation import LipregError, check_choice, check_nonnegative, check_positive

COMPONENTS = ("baseline", "at-fgsm", "at-l2", "lip", "lip-fd", "gradnorm", "fd", "tulip", "tulip-fd")
ALIASES = {"tulip": ("at-l2", "lip"), "tulip-fd": ("at-l2", "lip-fd")}


def make_defence(
    spec: str,
    eps: float = 0.01,
    lam: float = 0.1,
    h: float = 0.01,
    *,
    clip: bool = False,
    per_example: bool = False,
    label_smoothing: float = 0.0,
) -> Objective:
    """Build the :class:`Objective` named by ``spec`` (components joined by ``+``)."""
    eps = check_nonnegative("eps", eps)
    lam = check_nonnegative("lam", lam)
    h = check_positive("h", h)
    parts: list[str] = []
    for part in spec.strip().lower().split("+"):
        check_choice("defence", part, COMPONENTS)
        parts += ALIASES.get(part, (part,))
    parts = [p for p in dict.fromkeys(parts) if p != "baseline"]
    attacks = [p for p in parts if p.startswith("at-")]
    if len(attacks) > 1:
        raise LipregError(f"defence {spec!r} combines {' and '.join(attacks)}; use at most one adversarial training")
    others = [p for p in parts if not p.startswith("at-") and p != "lip-fd"]
    if "lip-fd" in parts and others:
        raise LipregError(f"defence {spec!r}: lip-fd cannot be combined with {', '.join(others)}; it must be the only "
                          "penalty (use lip for several)")
    perturbation = None
    if attacks:
        perturbation = Perturbation(eps, "l2" if attacks[0] == "at-l2" else "linf-unit-l2", clip)
    penalties = tuple(
        {"lip": lambda: LipschitzPenalty(lam, per_example), "lip-fd": lambda: LipschitzFiniteDifference(lam, h, per_example),
         "gradnorm": lambda: GradientNormPenalty(lam),
         "fd": lambda: FiniteDifferencePenalty(lam, h)}[p]()
        for p in parts if not p.startswith("at-")
    )
    return Objective("+".join(parts) or "baseline", perturbation, penalties, label_smoothing)


__all__ = [
    "COMPONENTS", "FiniteDifferencePenalty", "GradientNormPenalty", "LipschitzFiniteDifference", "LipschitzPenalty", "Objective",
    "Perturbation", "flat_norms", "input_gradients", "loss_gradient", "make_defence", "unit_directions",
]

"""Attacks in the Euclidean norm (arXiv 1810.00953, §1, §4), all returning per-image minimal distances.

``fgsm``, ``gradient``, ``ifgsm``, ``pgd-l2``: one iterative engine with two step rules, made
minimal by bisection over ε; ``deepfool``, ``boundary``: foolbox; ``ddn``: a minimal-norm attack.
"""

from __future__ import annotations

from torch import nn

from ..data import Split
from ..validation import check_choice
from .ddn import ddn, ddn_batch
from .engine import ATTACKS, STEP_RULES, IterativeAttack, get_attack, project, step_direction
from .foolbox_attacks import FOOLBOX_ATTACKS, foolbox_minimal, foolbox_pgd_grid
from .minimal import minimal_distance, minimal_distance_batch
from .result import AttackResult

ALL_ATTACKS = (*ATTACKS, *FOOLBOX_ATTACKS, "ddn")


def run_attack(model: nn.Module, split: Split, name: str, *, steps: int | None = None, batch_size: int = 500, progress: bool = False,
               **options) -> AttackResult:
    """Per-image minimal distances of ``split`` under attack ``name`` (any of :data:`ALL_ATTACKS`);
    ``progress`` shows a bar over the batches (iterative attacks)."""
    check_choice("attack", name, ALL_ATTACKS)
    if name in FOOLBOX_ATTACKS:
        return foolbox_minimal(model, split, name, batch_size=batch_size, steps=steps)
    if name == "ddn":
        return ddn(model, split, batch_size=batch_size, **({"steps": steps} if steps else {}), **options)
    attack = get_attack(name, steps=steps, step_size=options.pop("step_size", None), random_start=options.pop("random_start", None))
    return minimal_distance(model, split, attack, batch_size=batch_size, progress=progress, **options)


__all__ = [
    "ALL_ATTACKS", "ATTACKS", "FOOLBOX_ATTACKS", "STEP_RULES", "AttackResult", "IterativeAttack", "ddn", "ddn_batch",
    "foolbox_minimal", "foolbox_pgd_grid", "get_attack", "minimal_distance", "minimal_distance_batch", "project", "run_attack", "step_direction",
]

"""Attacks in the Euclidean norm (arXiv 1810.00953, §1, §4), all returning per-image minimal distances.

``fgsm``, ``gradient``, ``ifgsm``, ``pgd-l2``: one iterative engine with two step rules, made
minimal by a search over ε (bisection; several budgets a round on a GPU); ``deepfool``, ``boundary``, ``foolbox-ddn``: foolbox; ``ddn``: a minimal-norm attack.
"""

from __future__ import annotations

from torch import nn

from ..data import Split
from ..validation import LipregError, check_choice, check_positive_int
from .ddn import ddn, ddn_batch
from .driver import checked, drive, recheck
from .engine import ATTACKS, LOSSES, SCHEDULES, STEP_RULES, IterativeAttack, attack_loss, get_attack, project, step_direction
from .foolbox_attacks import BLACK_BOX_ATTACKS, FOOLBOX_ATTACKS, foolbox_minimal, foolbox_pgd_grid
from .minimal import minimal_distance, minimal_distance_batch
from .result import AttackResult

ALL_ATTACKS = (*ATTACKS, *FOOLBOX_ATTACKS, "ddn")


ATTACK_OPTIONS = ("step_size", "random_start", "loss", "schedule")  # of IterativeAttack
SEARCH_OPTIONS = ("initial_eps", "max_eps", "iterations", "rtol", "budgets_per_round", "keep_adversarial")  # of minimal_distance
DDN_OPTIONS = ("gamma", "initial_norm", "alpha")


def check_attack(name: str, steps: int | None = None) -> None:
    """``name`` is one of :data:`ALL_ATTACKS` and ``steps`` (``None``: the attack's default) a number of
    steps it takes: a positive integer, and 1 for a one-step attack. Refused by name before any work."""
    check_choice("attack", name, ALL_ATTACKS)
    if steps is not None:
        check_positive_int("steps", steps)
    if name in ATTACKS:
        get_attack(name, steps=steps)


def run_attack(model: nn.Module, split: Split, name: str, *, steps: int | None = None, batch_size: int = 500, progress: bool = False,
               **options) -> AttackResult:
    """Per-image minimal distances of ``split`` under attack ``name`` (any of :data:`ALL_ATTACKS`);
    ``progress`` shows a bar over the batches (iterative attacks). ``options`` go to the attack or its
    search; one that the attack does not take is refused with its name, never silently dropped. It runs on
    the model's device (:func:`drive`); the result's tensors are on the CPU."""
    check_attack(name, steps)
    accepted = () if name in FOOLBOX_ATTACKS else DDN_OPTIONS if name == "ddn" else ATTACK_OPTIONS + SEARCH_OPTIONS
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise LipregError(f"attack {name!r} takes no option {', '.join(map(repr, unknown))}"
                          f" (it takes {', '.join(accepted) if accepted else 'only steps, batch_size and progress'})")
    if name in FOOLBOX_ATTACKS:
        return foolbox_minimal(model, split, name, batch_size=batch_size, steps=steps, progress=progress)
    if name == "ddn":
        return ddn(model, split, batch_size=batch_size, progress=progress, **({"steps": steps} if steps is not None else {}), **options)
    attack = get_attack(name, steps=steps, **{key: options.pop(key) for key in ATTACK_OPTIONS if key in options})
    return minimal_distance(model, split, attack, batch_size=batch_size, progress=progress, **options)


__all__ = [
    "ALL_ATTACKS", "ATTACKS", "BLACK_BOX_ATTACKS", "FOOLBOX_ATTACKS", "STEP_RULES", "AttackResult", "IterativeAttack", "LOSSES", "SCHEDULES", "attack_loss", "check_attack", "checked", "ddn", "ddn_batch", "drive",
    "foolbox_minimal", "foolbox_pgd_grid", "get_attack", "minimal_distance", "minimal_distance_batch", "project", "recheck", "run_attack", "step_direction",
]

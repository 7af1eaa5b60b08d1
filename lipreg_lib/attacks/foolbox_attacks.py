"""DeepFool, the Boundary attack and DDN through foolbox 3, returned as :class:`AttackResult`."""

from __future__ import annotations

import torch
from torch import nn

from ..data import Split
from ..devices import model_device
from ..models.modes import eval_mode
from ..validation import LipregError, check_choice
from .driver import drive
from .result import AttackResult

FOOLBOX_ATTACKS = ("deepfool", "boundary", "foolbox-ddn")
BLACK_BOX_ATTACKS = ("boundary",)  # need only the model's decisions, so gradient masking cannot stop them
DEFAULT_STEPS = {"deepfool": 50, "boundary": 500, "foolbox-ddn": 100}


def _wrapped(model: nn.Module):
    """``(foolbox, fb.PyTorchModel)`` for ``model`` (already in eval mode) on the model's device."""
    try:
        import foolbox
    except ImportError:
        raise LipregError(f"the foolbox attacks ({', '.join(FOOLBOX_ATTACKS)}) need foolbox: pip install foolbox==3.3.4") from None
    return foolbox, foolbox.PyTorchModel(model, bounds=(0, 1), device=model_device(model))


def foolbox_minimal(model: nn.Module, split: Split, name: str, *, batch_size: int = 500, steps: int | None = None,
                    overshoot: float = 0.02, progress: bool = False) -> AttackResult:
    """Minimal L2 adversarial examples from foolbox's ``L2DeepFoolAttack`` (50 steps; its final step is
    scaled by ``1 + overshoot``, so distances on a linear model come out ``overshoot`` too large),
    ``BoundaryAttack`` (black box, 500 steps as in the paper) or ``DDNAttack`` (100 steps; the peer of
    our ``ddn``), through the attack driver: foolbox's own ``success`` is not trusted but re-checked."""
    check_choice("foolbox attack", name, FOOLBOX_ATTACKS)
    with eval_mode(model):  # foolbox warns when wrapping a model in train mode
        fb, wrapped = _wrapped(model)
    steps = DEFAULT_STEPS[name] if steps is None else steps
    if name == "deepfool":
        attack = fb.attacks.L2DeepFoolAttack(steps=steps, overshoot=overshoot)
    elif name == "foolbox-ddn":
        attack = fb.attacks.DDNAttack(steps=steps)
    else:
        attack = fb.attacks.BoundaryAttack(steps=steps)

    def batch_attack(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if name == "boundary":
            clipped, success = _boundary(fb, wrapped, attack, x, y)
        else:
            _, clipped, success = attack(wrapped, x, y, epsilons=None)
        claimed = torch.where(success, 0.0, float("inf"))  # the driver measures the distances itself
        return claimed, clipped

    settings = {"library": f"foolbox {fb.__version__}", "steps": steps, "search": "minimal-norm"}
    if name == "deepfool":
        settings["overshoot"] = overshoot
    return drive(model, split, name, batch_attack, settings, batch_size=batch_size, progress=progress)


def _boundary(fb, wrapped, attack, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The Boundary attack from foolbox's own starting points (blended uniform noise). foolbox raises when
    that initialisation fails for any image (a robust model may classify even pure noise as ``y``);
    here such images are failures of the attack, and the others are attacked."""
    _, start, started = fb.attacks.LinearSearchBlendedUniformNoiseAttack()(wrapped, x, y, epsilons=None)
    for _ in range(3):  # re-checked on the very batch the attack will see: a start on the boundary can flip with the batch (GPU)
        kept = started.nonzero().squeeze(1)
        adversarial = wrapped(start[kept]).argmax(-1) != y[kept]
        if bool(adversarial.all()):
            break
        started[kept[~adversarial]] = False
    clipped, success = x.clone(), torch.zeros_like(started)
    if bool(started.any()):
        _, found, fooled = attack(wrapped, x[started], y[started], epsilons=None, starting_points=start[started])
        clipped[started], success[started] = found, fooled
    return clipped, success


def foolbox_pgd_grid(model: nn.Module, split: Split, eps_grid: list[float], *, steps: int = 20, batch_size: int = 500) -> AttackResult:
    """The peer for cross-checks: foolbox's ``L2PGD`` (``steps``, relative step 2.5/steps, no random
    start) run once per budget of ``eps_grid``; each image's example is the one found at the smallest
    budget that fooled the model (so the distance's resolution is that of the grid), re-checked by the
    attack driver like every other attack."""
    grid = sorted(eps_grid)
    with eval_mode(model):  # foolbox warns when wrapping a model in train mode
        fb, wrapped = _wrapped(model)
    attack = fb.attacks.L2ProjectedGradientDescentAttack(steps=steps, rel_stepsize=2.5 / steps, random_start=False)

    def batch_attack(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, clipped, success = attack(wrapped, x, y, epsilons=grid)
        claimed = torch.full((len(x),), float("inf"), dtype=torch.float64, device=x.device)
        adversarial = x.clone()
        for examples, fooled in zip(clipped, success):  # grid ascending: keep the first success
            first = fooled & ~torch.isfinite(claimed)
            adversarial[first], claimed[first] = examples[first], 0.0  # the driver measures the distance
        return claimed, adversarial

    settings = {"library": f"foolbox {fb.__version__}", "steps": steps, "grid": grid, "search": "grid"}
    return drive(model, split, "foolbox-pgd-l2", batch_attack, settings, batch_size=batch_size)

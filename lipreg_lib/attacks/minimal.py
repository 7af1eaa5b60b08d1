"""Per-image minimal adversarial distance: bisection over ε around any fixed-budget attack."""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import Split, batches
from ..defences.gradients import flat_norms
from ..models.modes import eval_mode
from ..validation import check_images, check_positive, check_positive_int
from .engine import IterativeAttack
from .result import AttackResult


@torch.no_grad()
def minimal_distance_batch(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: IterativeAttack, *,
    initial_eps: float = 1.0, max_eps: float | None = None, iterations: int = 20, rtol: float = 0.01,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(distances, adversarial)`` for one batch.

    1. Misclassified clean images get distance 0.
    2. An upper budget ``hi`` is found per image by doubling from ``initial_eps`` up to ``max_eps``
       (default ``√n``, the diameter of the unit cube); images never fooled keep distance ``inf``.
    3. Bisection on ``[lo, hi]``, each image stopping once ``hi − lo ≤ rtol·hi`` (at most ``iterations`` steps).
    After every success ``hi`` drops to the norm of the adversarial example found, which the early exit
    of the attack often puts well below the budget, so the bracket shrinks faster than by halving.
    The distance is the Euclidean norm of the best adversarial example found (``= hi``).
    """
    check_images(x, y)
    max_eps = max_eps or x[0].numel() ** 0.5
    n = x.shape[0]
    distances = torch.full((n,), float("inf"), device=x.device, dtype=torch.float64)
    adversarial = x.clone()
    wrong = model(x).argmax(1) != y
    distances[wrong] = 0.0
    lo = torch.zeros(n, device=x.device)
    hi = torch.full((n,), float(initial_eps), device=x.device)

    def run(index: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
        found, success = attack(model, x[index], y[index], budget)
        winners = index[success]
        norms = flat_norms(found[success] - x[winners]).double()
        better = norms < distances[winners]
        distances[winners[better]] = norms[better]
        adversarial[winners[better]] = found[success][better]
        return success

    pending = (~wrong).nonzero().squeeze(1)
    while pending.numel():  # search for an upper budget
        success = run(pending, hi[pending])
        hi[pending[success]] = distances[pending[success]].float()
        lo[pending[~success]] = hi[pending[~success]]
        pending = pending[~success]
        hi[pending] = hi[pending] * 2
        pending = pending[hi[pending] <= max_eps]
    for _ in range(iterations):
        active = (torch.isfinite(distances) & (distances > 0) & (hi - lo > rtol * hi)).nonzero().squeeze(1)
        if active.numel() == 0:
            break
        middle = (lo[active] + hi[active]) / 2
        success = run(active, middle)
        hi[active[success]] = torch.minimum(middle[success], distances[active[success]].float())
        lo[active[~success]] = middle[~success]
    return distances, adversarial


def minimal_distance(
    model: nn.Module, split: Split, attack: IterativeAttack, *, batch_size: int = 500, keep_adversarial: bool = True,
    progress: bool = False, **options,
) -> AttackResult:
    """Run :func:`minimal_distance_batch` over a whole split in eval mode; see it for ``options``;
    ``progress`` shows a bar with an ETA over the batches."""
    check_positive_int("batch_size", batch_size)
    for key in ("initial_eps", "rtol"):
        if key in options:
            check_positive(key, options[key])
    with eval_mode(model):
        total = -(-len(split) // batch_size)
        stream = tqdm(batches(split, batch_size), total=total, desc=f"{attack.name} minimal distances", unit="batch",
                      disable=not progress, leave=False)
        parts = [minimal_distance_batch(model, x, y, attack, **options) for x, y in stream]
    distances = torch.cat([d for d, _ in parts])
    adversarial = torch.cat([a for _, a in parts]) if keep_adversarial else torch.empty(0)
    settings = {"rule": attack.rule, "steps": attack.steps, "step_size": attack.step_size, "random_start": attack.random_start,
                "search": "bisection", **options}
    return AttackResult(attack.name, distances.cpu(), adversarial.cpu(), settings)

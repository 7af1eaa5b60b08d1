"""Error under attack at a fixed budget ε (the columns of Table 3, arXiv 1810.00953, §5)."""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from ..attacks import IterativeAttack, checked
from ..data import Split, batches
from ..devices import full_float32, model_device
from ..models.modes import eval_mode
from ..validation import check_positive_int


@torch.no_grad()
def error_at_budget(model: nn.Module, split: Split, attack: IterativeAttack, eps: float, batch_size: int = 500,
                    progress: bool = False) -> float:
    """``100 · P[f(x') ≠ y]`` (%), ``x'`` the attack's output with budget ``‖x' − x‖₂ ≤ ε``, in eval mode.

    Images misclassified clean count as errors (the attack stops at step 0 on them); every returned ``x'``
    is re-checked as the minimal-distance driver re-checks (:func:`~lipreg_lib.attacks.checked`: classified
    other than ``y`` and inside the image box), so an attack's claims cannot move the count.
    ``progress`` shows a bar with an ETA over the batches.
    """
    check_positive_int("batch_size", batch_size)
    split, wrong = split.to(model_device(model)), 0
    with eval_mode(model), full_float32():
        stream = tqdm(batches(split, batch_size), total=-(-len(split) // batch_size), desc=f"{attack.name} at ε = {eps}",
                      unit="batch", disable=not progress, leave=False)
        for x, y in stream:
            adversarial, _ = attack(model, x, y, torch.full((x.shape[0],), float(eps), device=x.device))
            distances, _ = checked(model, x, y, adversarial, torch.zeros(x.shape[0], device=x.device))   # 0 or ‖δ‖: an error
            wrong += int(torch.isfinite(distances).sum())
    return 100 * wrong / len(split)

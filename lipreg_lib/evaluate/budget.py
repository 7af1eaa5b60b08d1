"""Error under attack at a fixed budget ε (the columns of Table 3, arXiv 1810.00953, §5)."""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from ..attacks import IterativeAttack
from ..data import Split, batches
from ..devices import full_float32, model_device
from ..models.modes import eval_mode


@torch.no_grad()
def error_at_budget(model: nn.Module, split: Split, attack: IterativeAttack, eps: float, batch_size: int = 500,
                    progress: bool = False) -> float:
    """``100 · P[f(x') ≠ y]`` (%), ``x'`` the attack's output with budget ``‖x' − x‖₂ ≤ ε``, in eval mode.

    Images misclassified clean count as errors (the attack stops at step 0 on them); every success is
    re-checked on the returned ``x'``, so an attack that claims success falsely cannot lower accuracy.
    ``progress`` shows a bar with an ETA over the batches.
    """
    split, wrong = split.to(model_device(model)), 0
    with eval_mode(model), full_float32():
        stream = tqdm(batches(split, batch_size), total=-(-len(split) // batch_size), desc=f"{attack.name} at ε = {eps}",
                      unit="batch", disable=not progress, leave=False)
        for x, y in stream:
            adversarial, _ = attack(model, x, y, torch.full((x.shape[0],), float(eps), device=x.device))
            wrong += int((model(adversarial).argmax(1) != y).sum())
    return 100 * wrong / len(split)

"""A gradient-masking check that can fail (Athalye, Carlini & Wagner 2018; arXiv 1810.00953, §4).

A defence can look robust because its gradients are uninformative (a saturated or flattened loss, a
non-differentiable input transform) rather than because its decision boundary is far away. A black-box
attack needs no gradient, so on a masked model it finds what the white-box attack misses:

1. **failures**: correctly classified images the white-box attack cannot fool but the black-box one
   can, as a share of the correctly classified images; a share above ``max_failures`` is masking;
2. **closer points**: on the images both fool, the median ratio of black-box to white-box distance;
   below ``min_ratio`` the gradient attack is being led astray.

Without masking the white-box attack fools every image the black-box one does and finds points at
least as close (a 1000-step Boundary attack lands 1.5–3.5× farther than PGD-L2 on undefended nets).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..attacks import run_attack
from ..data import Split

MAX_FAILURES = 0.05
MIN_RATIO = 0.8


def masking_check(model: nn.Module, split: Split, *, white: str = "pgd-l2", black: str = "boundary", black_steps: int = 1000,
                  white_distances: torch.Tensor | None = None, max_failures: float = MAX_FAILURES, min_ratio: float = MIN_RATIO) -> dict:
    """Compare the white-box and black-box minimal distances of ``split`` image by image (``white_distances``
    may pass the white-box attack's distances already computed on the same images). Returns the counts,
    the median ratio, the thresholds and ``verdict``: ``"masking"`` or ``"none"``."""
    if white_distances is None:
        white_distances = run_attack(model, split, white).distances
    white_distances = white_distances.double().cpu()
    black_distances = run_attack(model, split, black, steps=black_steps).distances.double().cpu()
    correct = (white_distances > 0) | (black_distances > 0)
    missed = correct & torch.isinf(white_distances) & torch.isfinite(black_distances)
    both = correct & torch.isfinite(white_distances) & torch.isfinite(black_distances)
    ratio = (black_distances[both] / white_distances[both]).median().item() if bool(both.any()) else math.nan
    failures = missed.sum().item() / max(int(correct.sum()), 1)
    masked = failures > max_failures or (math.isfinite(ratio) and ratio < min_ratio)
    return {"white": white, "black": black, "black_steps": black_steps, "n": len(split), "correct": int(correct.sum()),
            "white_failed_black_fooled": int(missed.sum()), "failure_share": failures, "both_fooled": int(both.sum()),
            "median_black_over_white": None if math.isnan(ratio) else ratio, "max_failures": max_failures, "min_ratio": min_ratio,
            "verdict": "masking" if masked else "none"}


class InputQuantised(nn.Module):
    """A deliberately masked model, to show that :func:`masking_check` can fail: ``net(round(x·levels)/levels)``.
    The rounding has gradient 0 everywhere, so gradient attacks see nothing, yet a small change of the
    input still flips the label wherever it crosses a rounding step."""

    def __init__(self, net: nn.Module, levels: int = 8) -> None:
        super().__init__()
        self.net, self.levels = net, levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.round(x * self.levels) / self.levels)

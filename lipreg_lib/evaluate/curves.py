"""Error curves and their summaries (arXiv 1810.00953, Def. 4.1), computed from per-image distances only."""

from __future__ import annotations

import math

import torch

def error_curve(distances: torch.Tensor, eps: list[float] | torch.Tensor) -> torch.Tensor:
    """``ε ↦ P[d̂(x) ≤ ε]`` (Definition 4.1): the fraction of images whose distance ``d̂`` found by the attack is at
    most ε (``d̂ = 0`` for images misclassified clean, ``inf`` when the attack failed). Since ``d̂`` is an upper bound
    on the true minimal distance ``d``, the curve is a lower bound on the true one. Monotone by construction."""
    eps = torch.as_tensor(eps, dtype=torch.float64)
    return (distances.double().view(1, -1) <= eps.view(-1, 1)).double().mean(1)


def error_at(distances: torch.Tensor, eps: float) -> float:
    """Error (%) at one ε."""
    return 100 * error_curve(distances, [eps]).item()


def median_distance(distances: torch.Tensor) -> float:
    """The ε where the error curve crosses 50% (the lower median of the distances; may be ``inf``)."""
    return torch.sort(distances.double()).values[(len(distances) - 1) // 2].item()


def summary(distances: torch.Tensor) -> dict:
    """% error at ε = 0 and 0.1, median distance, counts (JSON-friendly: ``inf`` written as ``None``)."""
    median = median_distance(distances)
    return {
        "n": len(distances), "error_eps0": error_at(distances, 0.0), "error_eps0.1": error_at(distances, 0.1),
        "median_distance": median if math.isfinite(median) else None,
        "not_found": int((~torch.isfinite(distances)).sum()),
    }

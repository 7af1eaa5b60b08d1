"""One result type for every attack: per-image minimal adversarial distances."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class AttackResult:
    """Per-image outcome of a minimal-distance attack.

    ``distances[i]`` is the Euclidean norm ``‖x'_i − x_i‖₂`` of the adversarial example returned in
    ``adversarial[i]``; it is ``0`` when ``x_i`` is already misclassified and ``inf`` (never 0) when the
    attack found nothing within its budget, so a failed attack can never look like a success.
    """

    attack: str
    distances: torch.Tensor
    adversarial: torch.Tensor
    settings: dict

    @property
    def found(self) -> torch.Tensor:
        return torch.isfinite(self.distances)

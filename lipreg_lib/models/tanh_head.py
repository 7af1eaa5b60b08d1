"""The pre-softmax "sigmoid" layer of arXiv 1810.00953, §4.3 and App. A.1."""

from __future__ import annotations

import torch
from torch import nn


class TanhHead(nn.Module):
    """``z ↦ |t| · tanh(BN(z) / |t|)``: batch-norm over the logits without learnable parameters, then
    a scaled tanh with one learnable scalar ``t`` (initialised to 1); arXiv 1810.00953, §4.3 and App. A.1.
    Logits are squashed into ``(-|t|, |t|)``, so margins and the loss are bounded; the tanh's slope is at
    most 1, but the loss gradient is not bounded by it (the batch norm rescales the logits).
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(num_classes, affine=False)
        self.t = nn.Parameter(torch.ones(()))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        scale = self.t.abs()
        return scale * torch.tanh(self.norm(logits) / scale)

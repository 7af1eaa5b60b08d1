"""Batched training augmentation on the device: no per-image Python loop (airbench style)."""

from __future__ import annotations

import torch

from .splits import Augmentation


def augment(x: torch.Tensor, spec: Augmentation, generator: torch.Generator) -> torch.Tensor:
    """Apply flip, pad-and-crop and cutout to a batch ``x`` of shape (B, C, H, W), each image drawn independently.

    - flip: ``x[..., ::-1]`` with probability 1/2;
    - crop: zero-pad by ``p`` pixels, then take the H×W window at offsets ``(dy, dx) ∈ {0..2p}²``;
    - cutout: zero a ``s×s`` square centred uniformly in the image (clipped at the border).
    """
    if not spec.active:
        return x
    batch, _, height, width = x.shape
    device = x.device

    def uniform_ints(high: int) -> torch.Tensor:
        return torch.randint(high, (batch,), generator=generator, device=device)

    if spec.flip:
        flip = uniform_ints(2).bool().view(batch, 1, 1, 1)
        x = torch.where(flip, x.flip(3), x)
    if spec.crop_padding > 0:
        p = spec.crop_padding
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        rows = uniform_ints(2 * p + 1).view(batch, 1) + torch.arange(height, device=device)
        cols = uniform_ints(2 * p + 1).view(batch, 1) + torch.arange(width, device=device)
        index = torch.arange(batch, device=device).view(batch, 1, 1)
        x = padded.permute(0, 2, 3, 1)[index, rows.unsqueeze(2), cols.unsqueeze(1)].permute(0, 3, 1, 2)
    if spec.cutout > 0:
        half = spec.cutout // 2
        cy = uniform_ints(height).view(batch, 1, 1)
        cx = uniform_ints(width).view(batch, 1, 1)
        ys = torch.arange(height, device=device).view(1, height, 1)
        xs = torch.arange(width, device=device).view(1, 1, width)
        hole = (ys >= cy - half) & (ys < cy - half + spec.cutout) & (xs >= cx - half) & (xs < cx - half + spec.cutout)
        x = x.masked_fill(hole.unsqueeze(1), 0)
    return x.contiguous()

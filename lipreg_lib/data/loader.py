"""Mini-batches drawn from a split that already lives on the device."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .augment import augment
from .splits import Augmentation, Split, to_float


def batches(
    split: Split,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
    augmentation: Augmentation | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` float batches in [0,1] from ``split``.

    With ``shuffle`` the order is a permutation drawn from ``generator``; every rank of a
    distributed run draws the same permutation and keeps ``batch[rank::world_size]`` of each global
    batch, so together the ranks see exactly the batches a single process would. ``drop_last`` drops
    a final incomplete batch (only when the split holds at least one full batch).
    """
    n = len(split)
    device = split.x.device
    if shuffle:
        order = torch.randperm(n, generator=generator, device=generator.device if generator else "cpu").to(device)
    else:
        order = torch.arange(n, device=device)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size][rank::world_size]
        x = to_float(split.x[index])
        if augmentation is not None and augmentation.active:
            x = augment(x, augmentation, generator)
        yield x, split.y[index]

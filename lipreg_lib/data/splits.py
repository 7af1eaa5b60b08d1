"""In-memory dataset splits: whole splits are tensors, moved to the device once."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..validation import LipregError


@dataclass(frozen=True)
class Augmentation:
    """The training augmentation of arXiv 1810.00953, App. A: horizontal flip, pad-and-crop, cutout (pixels)."""

    flip: bool = False
    crop_padding: int = 0
    cutout: int = 0

    @property
    def active(self) -> bool:
        return self.flip or self.crop_padding > 0 or self.cutout > 0


#: Named training augmentations a run can ask for instead of its dataset's own (``"dataset"``).
#: ``flip-translate``: the fast recipe's flip and 2-pixel translation (airbench), no cutout.
AUGMENTATIONS = {"flip-translate": Augmentation(flip=True, crop_padding=2)}


@dataclass(frozen=True)
class Split:
    """Inputs ``x`` (uint8 images (N, C, H, W) or float features (N, D)) and int64 labels ``y``."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise LipregError(f"split has {self.x.shape[0]} inputs but {self.y.shape[0]} labels")

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x.to(device), self.y.to(device))

    def head(self, n: int | None) -> Split:
        """The first ``n`` examples (all of them if ``n`` is None): the images an evaluation attacks."""
        return self if n is None else Split(self.x[:n], self.y[:n])

    def subset(self, n: int | None, seed: int = 0) -> Split:
        """The first ``n`` examples of a seeded random permutation (all of them if ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        order = order.to(self.x.device)
        return Split(self.x[order], self.y[order])

    def floats(self) -> torch.Tensor:
        """Inputs as float32 in [0, 1]: uint8 pixels divided by 255, features unchanged."""
        return to_float(self.x)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels ``p`` ↦ ``p / 255`` (no mean/std normalisation: ε is a distance in [0,1]^n)."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


@dataclass(frozen=True)
class Dataset:
    """A named dataset: train and test splits, the number of classes and its training augmentation."""

    name: str
    train: Split
    test: Split
    num_classes: int
    augmentation: Augmentation = field(default_factory=Augmentation)
    provenance: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

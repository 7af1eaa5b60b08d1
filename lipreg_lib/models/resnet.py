"""CIFAR-style ResNet-34 and ResNeXt-34 of arXiv 1810.00953, App. A.

Both have 3 stages of 5 blocks of two 3×3 convolutions. Counting the first convolution, the 30 block
convolutions, the two 1×1 projection shortcuts at the stage changes and the final linear layer gives
the 34 weight layers of the name. ResNeXt's blocks hold ``cardinality`` parallel basic branches whose
outputs are **averaged** (not concatenated, not bottleneck).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]


class BranchBlock(nn.Module):
    """``y = relu(shortcut(x) + mean_b branch_b(x))``, each branch ``conv-BN-ReLU-conv-BN``."""

    def __init__(self, cin: int, cout: int, stride: int, cardinality: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*_conv_bn(cin, cout, stride), nn.ReLU(), *_conv_bn(cout, cout)) for _ in range(cardinality)
        )
        self.shortcut = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout else nn.Identity()
        )
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.branches[0](x)
        for other in self.branches[1:]:
            branch = branch + other(x)
        return self.activation(self.shortcut(x) + branch / len(self.branches))


class ResNet(nn.Module):
    """Stem conv, 3 stages of ``blocks`` :class:`BranchBlock` (strides 1, 2, 2), global pool, linear."""

    def __init__(self, num_classes: int, in_channels: int, widths: tuple[int, int, int], cardinality: int, blocks: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(in_channels, widths[0]), nn.ReLU())
        stages, cin = [], widths[0]
        for index, width in enumerate(widths):
            for block in range(blocks):
                stages.append(BranchBlock(cin, width, 2 if index > 0 and block == 0 else 1, cardinality))
                cin = width
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def resnet34(num_classes: int, input_shape: tuple[int, ...], width: int = 16) -> ResNet:
    """ResNet-34: widths w/2w/4w (16/32/64), one branch per block."""
    return ResNet(num_classes, input_shape[0], (width, 2 * width, 4 * width), cardinality=1)


def resnext34(num_classes: int, input_shape: tuple[int, ...], cardinality: int | None = None, width: int = 32) -> ResNet:
    """ResNeXt-34 (C×32d): ``cardinality`` averaged branches (2 for ≤10 classes, 4 otherwise), widths w/2w/4w."""
    cardinality = cardinality or (2 if num_classes <= 10 else 4)
    return ResNet(num_classes, input_shape[0], (width, 2 * width, 4 * width), cardinality)

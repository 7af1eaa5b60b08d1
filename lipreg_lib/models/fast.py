"""A fast CIFAR-sized network in the style of airbench (Keller Jordan, 2024): few, wide, cheap layers.

Used by the fast CIFAR-10 protocol (``grids/cifar10-fast.yaml``), which has to train in minutes on
two CPU cores, where the training steps of one epoch of the paper's ResNeXt-34 take over ten minutes
(``data/results/cpu_step_paper_models.json``, shown in chapter 8).
"""

from __future__ import annotations

from torch import nn


class Scale(nn.Module):
    """``z ↦ s·z`` with a fixed ``s``: shrinks the initial logits (airbench's 1/9 output scale), so
    training starts from an almost uniform prediction instead of large random logit gaps."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, z):
        return self.scale * z


def fast_cnn(num_classes: int, input_shape: tuple[int, ...], width: int = 32) -> nn.Sequential:
    """A 2×2 stem convolution (``w`` channels), then three blocks of
    conv3×3 – maxpool2 – BN – GELU – conv3×3 – BN – GELU with widths ``w, 4w, 4w``, a global max-pool
    and a bias-free linear layer whose output is scaled by 1/9.

    ``width=32`` gives widths 32/128/128 (≈ 0.5 M parameters); ``width=64`` is airbench94's 64/256/256.
    Choices and why: pooling straight after the first convolution of a block quarters the cost of the
    second; GELU instead of ReLU keeps the input gradient continuous (the defences differentiate it);
    no whitening initialisation (airbench's first-layer trick), so the network is an ordinary
    ``nn.Sequential`` that every defence and attack of the library handles as is.
    """
    channels = input_shape[0]
    widths = (width, 4 * width, 4 * width)

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(cout), nn.GELU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.GELU(),
        ]

    layers: list[nn.Module] = [nn.Conv2d(channels, width, 2, padding=0, bias=False), nn.BatchNorm2d(width), nn.GELU()]
    cin = width
    for cout in widths:
        layers += block(cin, cout)
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes, bias=False), Scale(1 / 9))

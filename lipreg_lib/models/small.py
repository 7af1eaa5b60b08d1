"""Small networks for the 2-D sets, digits and MNIST-sized images."""

from __future__ import annotations

import math

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "softplus": nn.Softplus, "tanh": nn.Tanh}


def mlp(num_classes: int, input_shape: tuple[int, ...], width: int = 64, depth: int = 2, activation: str = "relu") -> nn.Sequential:
    """Fully connected ``depth`` hidden layers of ``width`` units; ``softplus``/``tanh`` give a smooth model."""
    layers: list[nn.Module] = [nn.Flatten()]
    features = math.prod(input_shape)
    for _ in range(depth):
        layers += [nn.Linear(features, width), ACTIVATIONS[activation]()]
        features = width
    return nn.Sequential(*layers, nn.Linear(features, num_classes))


def small_cnn(num_classes: int, input_shape: tuple[int, ...], width: int = 32) -> nn.Sequential:
    """Two conv-BN-ReLU stages (widths ``w``, ``2w``), each ending in a 2×2 max-pool, then a 128-unit layer."""
    channels, height, width_px = input_shape

    def stage(cin: int, cout: int) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.MaxPool2d(2),
        ]

    flat = 2 * width * (height // 4) * (width_px // 4)
    return nn.Sequential(
        *stage(channels, width), *stage(width, 2 * width), nn.Flatten(),
        nn.Linear(flat, 128), nn.ReLU(), nn.Linear(128, num_classes),
    )

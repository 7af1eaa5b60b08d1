"""AllCNN-C (Springenberg et al. 2015) as trained in arXiv 1810.00953, App. A."""

from __future__ import annotations

from torch import nn


def allcnn(num_classes: int, input_shape: tuple[int, ...], width: int = 96) -> nn.Sequential:
    """Nine convolutions (widths 96/96/96↓, 192/192/192↓, 192, 192 1×1, classes 1×1), each followed by
    batch-norm without affine parameters and a ReLU (the class convolution by batch-norm only), then
    global average pooling. ``↓`` marks the stride-2 convolutions that replace pooling.
    """
    channels = input_shape[0]
    wide = 2 * width
    plan = [(channels, width, 3, 1), (width, width, 3, 1), (width, width, 3, 2),
            (width, wide, 3, 1), (wide, wide, 3, 1), (wide, wide, 3, 2),
            (wide, wide, 3, 1), (wide, wide, 1, 1)]
    layers: list[nn.Module] = []
    for cin, cout, kernel, stride in plan:
        layers += [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False),
                   nn.BatchNorm2d(cout, affine=False), nn.ReLU()]
    layers += [nn.Conv2d(wide, num_classes, 1, bias=False), nn.BatchNorm2d(num_classes, affine=False),
               nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)

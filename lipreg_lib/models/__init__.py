"""Model registry: ``build(name, num_classes, input_shape, tanh_head=False, **options)``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..validation import LipregError, check_choice, check_positive_int
from .allcnn import allcnn
from .fast import fast_cnn
from .resnet import BranchBlock, ResNet, resnet34, resnext34
from .small import mlp, small_cnn
from .tanh_head import TanhHead

MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "small-cnn": small_cnn,
    "allcnn": allcnn,
    "fast-cnn": fast_cnn,
    "resnet34": resnet34,
    "resnext34": resnext34,
}
IMAGE_MODELS = ("small-cnn", "fast-cnn", "allcnn", "resnet34", "resnext34")


def build(name: str, num_classes: int, input_shape: tuple[int, ...], tanh_head: bool = False, **options) -> nn.Module:
    """Build model ``name`` for inputs of ``input_shape`` ((C, H, W) images, (D,) features).

    With ``tanh_head`` the logits pass through :class:`TanhHead` (arXiv 1810.00953, App. A), available on every model.
    """
    check_choice("model", name, MODELS)
    check_positive_int("num_classes", num_classes)
    if name in IMAGE_MODELS and len(input_shape) != 3:
        raise LipregError(f"model {name!r} needs image inputs (C, H, W), got input shape {tuple(input_shape)}; use 'mlp'")
    model = MODELS[name](num_classes, tuple(input_shape), **options)
    return nn.Sequential(model, TanhHead(num_classes)) if tanh_head else model


def weight_layers(model: nn.Module) -> int:
    """Convolution and linear layers of the network, counting one branch of each residual block and its
    shortcut (the convention that names ResNet-34 and ResNeXt-34; parallel branches count once)."""
    if isinstance(model, BranchBlock):
        return weight_layers(model.branches[0]) + weight_layers(model.shortcut)
    if isinstance(model, (nn.Conv2d, nn.Linear)):
        return 1
    return sum(weight_layers(child) for child in model.children())


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["IMAGE_MODELS", "MODELS", "ResNet", "TanhHead", "build", "parameter_count", "weight_layers"]

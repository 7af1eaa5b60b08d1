import pytest
import torch

from lipreg_lib.models import TanhHead, build, parameter_count, weight_layers
from lipreg_lib.validation import LipregError

CIFAR = (3, 32, 32)


@pytest.mark.parametrize(
    "name,classes,shape,layers",
    [("mlp", 2, (2,), 3), ("small-cnn", 10, (1, 28, 28), 6), ("small-cnn", 10, (1, 8, 8), 6),
     ("fast-cnn", 10, CIFAR, 8), ("allcnn", 10, CIFAR, 9), ("resnet34", 10, CIFAR, 34), ("resnext34", 10, CIFAR, 34), ("resnext34", 100, CIFAR, 34)],
)
def test_shapes_depth_and_parameters(name, classes, shape, layers):
    model = build(name, classes, shape).eval()
    assert model(torch.rand(3, *shape)).shape == (3, classes)
    assert weight_layers(model) == layers
    assert parameter_count(model) == sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize("width", [8, 32])
def test_fast_cnn_has_the_documented_widths(width):
    """A 2×2 stem of w channels, blocks of widths w, 4w, 4w (two 3×3 convolutions each), a bias-free
    linear layer: the parameter count of that description, and logits scaled down at initialisation."""
    w, wide = width, 4 * width
    convs = 3 * w * 4 + 9 * (w * w + w * w) + 9 * (w * wide + wide * wide) + 9 * (wide * wide + wide * wide)
    norms = 2 * (w + 2 * w + 2 * wide + 2 * wide)
    model = build("fast-cnn", 10, CIFAR, width=width)
    assert parameter_count(model) == convs + norms + wide * 10
    assert model.eval()(torch.rand(8, *CIFAR)).abs().max() < 1.0


def test_resnext_averages_its_branches():
    model = build("resnext34", 10, CIFAR)
    block = model.stages[0]
    assert len(block.branches) == 2 and len(build("resnext34", 100, CIFAR).stages[0].branches) == 4
    x = torch.randn(2, 32, 8, 8)
    block.eval()
    expected = torch.relu(block.shortcut(x) + (block.branches[0](x) + block.branches[1](x)) / 2)
    assert torch.allclose(block(x), expected, atol=1e-6)


def test_resnet_widths_and_stride():
    model = build("resnet34", 10, CIFAR)
    widths = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1)]
    assert widths == [32, 64]


def test_allcnn_batch_norm_has_no_affine_parameters():
    norms = [m for m in build("allcnn", 10, CIFAR).modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 9 and not any(m.affine for m in norms)


def test_tanh_head_bounds_logits_by_t_and_learns_t():
    model = build("mlp", 3, (4,), tanh_head=True)
    head = model[1]
    assert isinstance(head, TanhHead) and head.t.item() == 1
    with torch.no_grad():
        head.t.fill_(-2.5)
    out = model(torch.randn(64, 4) * 100)
    assert out.abs().max() < 2.5
    out.sum().backward()
    assert head.t.grad is not None and head.t.grad != 0


def test_tanh_head_is_batch_norm_then_scaled_tanh():
    head = TanhHead(4)
    z = torch.randn(16, 4) * 3
    normed = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)
    assert torch.allclose(head(z), torch.tanh(normed), atol=1e-5)


def test_bad_model_arguments_name_the_value():
    with pytest.raises(LipregError, match=r"unknown model 'vgg'; choose from: allcnn, fast-cnn, mlp"):
        build("vgg", 10, CIFAR)
    with pytest.raises(LipregError, match=r"needs image inputs .* got input shape \(2,\)"):
        build("resnet34", 2, (2,))
    with pytest.raises(LipregError, match="num_classes must be an integer >= 1, got 0"):
        build("mlp", 0, (2,))

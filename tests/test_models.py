import pytest
import torch

from lipreg_lib.models import TanhHead, build, parameter_count, weight_layers
from lipreg_lib.validation import LipregError

CIFAR = (3, 32, 32)


@pytest.mark.parametrize(
    "name,classes,shape,layers",
    [("mlp", 2, (2,), 3), ("small-cnn", 10, (1, 28, 28), 6), ("small-cnn", 10, (1, 8, 8), 6),
     ("allcnn", 10, CIFAR, 9), ("resnet34", 10, CIFAR, 34), ("resnext34", 10, CIFAR, 34), ("resnext34", 100, CIFAR, 34)],
)
def test_shapes_depth_and_parameters(name, classes, shape, layers):
    model = build(name, classes, shape).eval()
    assert model(torch.rand(3, *shape)).shape == (3, classes)
    assert weight_layers(model) == layers
    print(f"{name} {classes} classes: {parameter_count(model):,} parameters")


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
    with pytest.raises(LipregError, match=r"unknown model 'vgg'; choose from: allcnn, mlp"):
        build("vgg", 10, CIFAR)
    with pytest.raises(LipregError, match=r"needs image inputs .* got input shape \(2,\)"):
        build("resnet34", 2, (2,))
    with pytest.raises(LipregError, match="num_classes must be an integer >= 1, got 0"):
        build("mlp", 0, (2,))

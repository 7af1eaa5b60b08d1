"""Upper and lower estimates of a network's Lipschitz constant (arXiv 1810.00953, §3, §3.5).

- :func:`product_bound`: ``∏_i ‖W_i‖₂`` with each operator norm from power iteration on the layer
  operator itself (``conv2d`` and its adjoint ``conv_transpose2d`` on the layer's input shape), so
  padding and stride are exact; residual blocks give ``‖shortcut‖ + mean_b ‖branch_b‖``.
- :func:`lemma33_estimate`: the paper's Lemma 3.3, ``‖W_K ⋯ W_1‖_{2,∞}`` of the linearised network
  (activations removed, batch-norm as its fixed eval-mode affine map). **Not a bound**: the product
  can cancel (see the book's chapter 5 and ``tests/test_lipschitz.py``).
- :func:`absolute_bound`: the valid variant ``‖ |W_K| ⋯ |W_1| ‖_{2,∞}``: the same linearised
  network with every weight replaced by its absolute value. For activations with ``|σ'| ≤ 1``,
  ``|∇f| ≤ |W_K| ⋯ |W_1|`` entry-wise, so every row norm of the Jacobian is bounded.
- :func:`empirical_lower_bound`: ``max_i ‖∇f(x_i)‖_{2,∞}`` on data, a lower bound (eq. 11).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..devices import model_device
from ..evaluate.stability import jacobian_row_norms
from ..models.modes import eval_mode
from ..models.resnet import BranchBlock, ResNet
from ..models.tanh_head import TanhHead
from ..validation import LipregError

_ONE_LIPSCHITZ = (nn.ReLU, nn.Softplus, nn.Tanh, nn.Flatten, nn.Identity, nn.Dropout)


def _batch_norm_scale(norm: nn.modules.batchnorm._BatchNorm) -> torch.Tensor:
    scale = 1 / torch.sqrt(norm.running_var + norm.eps)
    return scale * norm.weight if norm.affine else scale


def _power_iteration(operator, adjoint, shape: tuple[int, ...], iterations: int = 100) -> float:
    v = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for _ in range(iterations):
        v = adjoint(operator(v))
        v = v / v.norm()
    return operator(v).norm().item()


@torch.no_grad()
def operator_norm(layer: nn.Module, input_shape: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
    """``(‖layer‖₂, output shape)`` for a linear layer acting on inputs of ``input_shape`` (no batch dim)."""
    if isinstance(layer, nn.Conv2d):
        weight = layer.weight.detach().cpu().double()

        def operator(v):
            return F.conv2d(v, weight, None, layer.stride, layer.padding, layer.dilation, layer.groups)

        out_shape = tuple(operator(torch.zeros(1, *input_shape, dtype=torch.float64)).shape[1:])

        def adjoint(u):
            extra = [input_shape[i + 1] - ((out_shape[i + 1] - 1) * layer.stride[i] - 2 * layer.padding[i] + layer.dilation[i] * (layer.kernel_size[i] - 1) + 1) for i in range(2)]
            return F.conv_transpose2d(u, weight, None, layer.stride, layer.padding, tuple(extra), layer.groups, layer.dilation)

        return _power_iteration(operator, adjoint, tuple(input_shape)), out_shape
    if isinstance(layer, nn.Linear):
        return torch.linalg.matrix_norm(layer.weight.detach().double(), ord=2).item(), (layer.out_features,)
    if isinstance(layer, (nn.AdaptiveAvgPool2d, nn.AvgPool2d)):
        out_shape = tuple(layer(torch.zeros(1, *input_shape)).shape[1:])

        def pool(v):
            return layer(v)

        def pool_adjoint(u):
            v = torch.zeros(1, *input_shape, dtype=u.dtype, requires_grad=True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad((layer(v) * u).sum(), v)
            return g

        return _power_iteration(pool, pool_adjoint, tuple(input_shape)), out_shape
    raise LipregError(f"no operator norm for layer {type(layer).__name__}")


@torch.no_grad()
def product_bound(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Upper bound ``∏ ‖W_i‖₂`` on the 2-norm Lipschitz constant of ``model`` (eval mode), layer by layer."""

    def bound(module: nn.Module, shape: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
        if isinstance(module, nn.Sequential) or isinstance(module, ResNet):
            total = 1.0
            for child in module.children():
                factor, shape = bound(child, shape)
                total *= factor
            return total, shape
        if isinstance(module, BranchBlock):
            shortcut, out_shape = bound(module.shortcut, shape)
            branches = [bound(b, shape)[0] for b in module.branches]
            return shortcut + sum(branches) / len(branches), out_shape
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            return _batch_norm_scale(module).abs().max().item(), shape
        if isinstance(module, TanhHead):
            return _batch_norm_scale(module.norm).abs().max().item(), shape  # |t| tanh(·/|t|) is 1-Lipschitz
        if isinstance(module, nn.MaxPool2d):
            if module.kernel_size != module.stride:
                raise LipregError(f"product bound: only non-overlapping max-pooling (kernel = stride) is 1-Lipschitz here, "
                                  f"got kernel {module.kernel_size} and stride {module.stride}")
            out = module(torch.zeros(1, *shape))
            return 1.0, tuple(out.shape[1:])
        if isinstance(module, _ONE_LIPSCHITZ):
            return 1.0, (int(torch.tensor(shape).prod()),) if isinstance(module, nn.Flatten) else shape
        return operator_norm(module, shape)

    with eval_mode(model):
        return bound(model, tuple(input_shape))[0]


def linearised(model: nn.Module, absolute: bool = False) -> nn.Module:
    """A copy of ``model`` with activations removed and batch-norm frozen (eval mode); with
    ``absolute``, every weight and batch-norm scale replaced by its absolute value and biases zeroed.
    Models with max-pooling (``small-cnn``, ``fast-cnn``) are refused: max-pooling is not entry-wise."""
    copy_ = copy.deepcopy(model).eval()
    for name, module in list(copy_.named_modules()):
        if isinstance(module, nn.MaxPool2d):
            raise LipregError(f"the linearised network (Lemma 3.3 and its absolute-value bound) needs linear layers and "
                              f"entry-wise activations; {type(model).__name__} has max-pooling ({name})")
        if isinstance(module, (nn.ReLU, nn.Softplus, nn.Tanh)):
            parent, _, child = name.rpartition(".")
            setattr(copy_.get_submodule(parent) if parent else copy_, child, nn.Identity())
        if isinstance(module, TanhHead):
            parent, _, child = name.rpartition(".")
            setattr(copy_.get_submodule(parent) if parent else copy_, child, module.norm)
    if absolute:
        with torch.no_grad():
            for module in copy_.modules():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    module.weight.abs_()
                    if module.bias is not None:
                        module.bias.zero_()
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    scale = _batch_norm_scale(module).abs()
                    module.running_mean.zero_()
                    if module.affine:
                        module.running_var.fill_(1 - module.eps)
                        module.weight.copy_(scale)
                        module.bias.zero_()
                    else:
                        module.running_var.copy_(1 / scale**2 - module.eps)
    return copy_


def _row_norms_of_linear_map(network: nn.Module, input_shape: tuple[int, ...]) -> float:
    """``‖M‖_{2,∞}`` (largest row 2-norm) of the affine map ``x ↦ Mx + b`` that ``network`` computes,
    in float64 (products of absolute weights overflow float32 in deep networks)."""
    network = network.double()
    probe = torch.zeros(1, *input_shape, dtype=torch.float64, device=model_device(network), requires_grad=True)
    out = network(probe)
    rows = [torch.autograd.grad(out[0, k], probe, retain_graph=True)[0].norm() for k in range(out.shape[1])]
    return torch.stack(rows).max().item()


def lemma33_estimate(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """The paper's Lemma 3.3 value ``‖W_K ⋯ W_1‖_{2,∞}`` (linearised network). Not a valid bound."""
    return _row_norms_of_linear_map(linearised(model), input_shape)


def absolute_bound(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """The valid variant ``‖ |W_K| ⋯ |W_1| ‖_{2,∞} ≥ max_x ‖∇f(x)‖_{2,∞}`` (1-Lipschitz entry-wise activations)."""
    return _row_norms_of_linear_map(linearised(model, absolute=True), input_shape)


def empirical_lower_bound(model: nn.Module, split: Split, batch_size: int = 100) -> float:
    """``max_i ‖∇f(x_i)‖_{2,∞}`` over the split: a lower bound on ``L(f)`` in the (2,∞) norm (eq. 11)."""
    return jacobian_row_norms(model, split, batch_size).max().item()

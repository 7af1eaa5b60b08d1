"""Input gradients of the per-example loss, their norms and unit directions: the quantity every
defence, attack and stability statistic is built on (the ground floor: it imports only torch and
:mod:`.devices`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .devices import model_device


def input_gradients(losses: torch.Tensor, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """Per-example gradients ``g_i = ∇_{x_i} ℓ(x_i)`` from the per-example losses ``ℓ_i`` (a gradient of ``Σ_i ℓ_i``).

    With ``create_graph`` the result stays differentiable (double backpropagation).
    """
    (grads,) = torch.autograd.grad(losses.sum(), x, create_graph=create_graph, retain_graph=True)
    return grads


def per_image(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape per-example ``values`` of shape (B,) to broadcast against a batch ``like`` of shape (B, ...)."""
    return values.view((-1,) + (1,) * (like.dim() - 1))


def flat_norms(v: torch.Tensor) -> torch.Tensor:
    """Per-example Euclidean norms ``‖v_i‖₂`` of a batch of any shape."""
    return v.flatten(1).norm(dim=1)


def unit_directions(g: torch.Tensor, norm: str) -> torch.Tensor:
    """The first-order worst perturbation of unit size, ``v* = argmax_{‖v‖≤1} ⟨g, v⟩`` (arXiv 1810.00953, §1).

    - ``"l2"``: ``v* = g / ‖g‖₂`` (the gradient attack direction);
    - ``"linf"``: ``v* = sign(g)`` (FGSM);
    - ``"linf-unit-l2"``: ``sign(g) / √n``, the authors' FGSM training step (unit Euclidean length
      when no component of ``g`` is zero);
    - ``"sign-unit-l2"``: ``sign(g) / ‖sign(g)‖₂``, exactly unit length even where components of ``g``
      vanish (blank pixels): the FGSM step of the attacks, whose budget is a Euclidean ball to be used
      in full. The two differ only by the count of zero components.
    Zero gradients give a zero direction.
    """
    if norm == "l2":
        return g / per_image(flat_norms(g).clamp_min(1e-12), g)
    if norm == "linf":
        return g.sign()
    if norm == "linf-unit-l2":
        return g.sign() / g[0].numel() ** 0.5
    if norm == "sign-unit-l2":
        return unit_directions(g.sign(), "l2")
    raise ValueError(f"unknown direction norm {norm!r}; choose from: l2, linf, linf-unit-l2, sign-unit-l2")


def loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(g, logits)``: per-example ``∇_x ℓ`` at ``x`` with the model as it is (no parameter gradients touched),
    computed on the model's device and returned on the device of ``x``, in the float32 precision in force: on a
    GPU its default, where TF32 convolutions can put ``∇_x ℓ`` off by several per cent of its largest entry
    (7.5 % on the device test's digits network on an H200), so the attacks and evaluation statistics call it
    under :func:`~lipreg_lib.devices.full_float32`."""
    device = model_device(model)
    with torch.enable_grad():
        leaf = x.detach().to(device).requires_grad_(True)
        logits = model(leaf)
        grads = input_gradients(F.cross_entropy(logits, y.to(device), reduction="none"), leaf)
    return grads.to(x.device), logits.detach().to(x.device)

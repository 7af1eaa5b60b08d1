"""Where a model computes (the ground floor: it imports only torch).

The library's convention, so that a model trained on a GPU works with data that never left the CPU (a
chapter's tensors) and code written on a CPU runs unchanged where a GPU is present:

- a function that takes a model and a split (``run_attack`` and every attack through the driver, the
  stability statistics, clean metrics, the Lipschitz estimates) runs on the model's device, moving the
  split there once, and returns its per-image results on the CPU;
- a function that takes a model and tensors (``loss_gradient``, ``logits_of``, an iterative attack called
  on a batch) computes on the model's device and returns on the device the tensors came from;
- the building blocks inside them (the driver's ``checked``, the ``*_batch`` attacks, the defences'
  objectives in a training step) take tensors already on the model's device.

Attacks, their re-checks and the evaluation statistics compute in full float32 on a GPU
(:func:`full_float32`, on the CPU too where a reduced precision was asked for); training keeps the
GPU's default (TF32 convolutions).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter or buffer; the CPU for a model with neither."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


NEW_PRECISION_API = hasattr(torch.backends.cuda.matmul, "fp32_precision") and hasattr(torch.backends.cudnn, "conv")  # torch ≥ 2.9


def precision_leaves() -> list[object]:
    """The per-operation ``fp32_precision`` settings of torch ≥ 2.9 that decide whether float32 products
    and convolutions may run in reduced precision: cuBLAS, cuDNN's convolutions and RNNs, and oneDNN's (the
    CPU's) products, convolutions and RNNs. A leaf set explicitly wins over its parents, which
    :func:`full_float32` leaves alone (``torch.backends.mkldnn.fp32_precision`` reads oneDNN's level but
    writes the global one)."""
    backends = torch.backends
    leaves = [backends.cuda.matmul, backends.cudnn.conv, getattr(backends.cudnn, "rnn", None),
              *(getattr(backends.mkldnn, op, None) for op in ("matmul", "conv", "rnn"))]
    return [leaf for leaf in leaves if hasattr(leaf, "fp32_precision")]


def _restore(leaf: object, value: str) -> None:
    """Give ``leaf`` back the value it reported: inherited from its parents (``"none"``) where that reports
    the same, since a leaf left at ``"none"`` reports its parent's value and writing that back would pin it."""
    leaf.fp32_precision = "none"
    if leaf.fp32_precision != value:
        leaf.fp32_precision = value


@contextmanager
def full_float32() -> Iterator[None]:
    """Float32 matrix products and convolutions without TF32 on CUDA nor bfloat16 on a CPU asked for it,
    then the previous settings back.

    TF32 (PyTorch's default for cuDNN convolutions on Ampere and later GPUs) rounds operands to a 10-bit
    mantissa, ≈ 1e-3 relative error per operand (an input gradient through several layers can be off by
    several per cent: :func:`~lipreg_lib.gradients.loss_gradient`), and its result depends on the
    algorithm cuDNN picks for a batch size.
    An attack's example lies just past the decision boundary, so under TF32 a re-evaluation of it in
    another batch can land on the other side. Attacks, :func:`~lipreg_lib.evaluate.clean.logits_of` and
    the evaluation statistics compute in full float32, where a reported example stays adversarial when
    checked again, except one left on the boundary to within float32 rounding, whose label can still
    change with the batch on a GPU (:func:`~lipreg_lib.attacks.recheck`; training keeps the GPU's default). ``torch.set_float32_matmul_precision("medium")``,
    common advice on GPUs, also puts oneDNN's CPU products in bfloat16 (CPUs with AMX honour it): that is
    switched off too. On torch ≥ 2.9 this sets :func:`precision_leaves` to ``"ieee"`` (their legacy flags
    raise once these were used); on older torch the cuDNN flag and the float32 matmul precision.
    """
    if NEW_PRECISION_API:
        leaves = precision_leaves()
        saved = [leaf.fp32_precision for leaf in leaves]
        for leaf in leaves:
            leaf.fp32_precision = "ieee"
        try:
            yield
        finally:
            for leaf, value in zip(leaves, saved):
                _restore(leaf, value)
        return
    saved_conv, saved_matmul = torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = saved_conv
        torch.set_float32_matmul_precision(saved_matmul)

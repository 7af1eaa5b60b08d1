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


def _tf32_switches() -> tuple[list[tuple[object, str]], object]:
    """The settings that let float32 products and convolutions run in reduced precision, parents before
    children, and the value that forbids it. On torch ≥ 2.9 (whose legacy flags raise once these were
    used): ``fp32_precision`` at every level — all backends, cuDNN (its convolutions, RNNs), cuBLAS, and
    oneDNN on the CPU (its products, convolutions, RNNs) — since a child keeps its own value when its
    parent is set, and ``torch.set_float32_matmul_precision("medium")``, common advice on GPUs, also
    puts oneDNN's CPU products in bfloat16 (CPUs with AMX honour it). On older torch, the ``allow_tf32`` flags."""
    if hasattr(torch.backends.cuda.matmul, "fp32_precision") and hasattr(torch.backends.cudnn, "conv"):
        backends = torch.backends
        levels = [backends, backends.cudnn, backends.cudnn.conv, backends.cudnn.rnn, backends.cuda.matmul,
                  backends.mkldnn, *(getattr(backends.mkldnn, op, None) for op in ("matmul", "conv", "rnn"))]
        return [(level, "fp32_precision") for level in levels if hasattr(level, "fp32_precision")], "ieee"
    return [(torch.backends.cuda.matmul, "allow_tf32"), (torch.backends.cudnn, "allow_tf32")], False


@contextmanager
def full_float32() -> Iterator[None]:
    """Float32 matrix products and convolutions without TF32 on CUDA nor bfloat16 on a CPU asked for it,
    then the previous settings back.

    TF32 (PyTorch's default for cuDNN convolutions on Ampere and later GPUs) rounds operands to a 10-bit
    mantissa, ≈ 1e-3 relative error, and its result depends on the algorithm cuDNN picks for a batch size.
    An attack's example lies just past the decision boundary, so under TF32 a re-evaluation of it in
    another batch can land on the other side. Attacks, :func:`~lipreg_lib.evaluate.clean.logits_of` and
    the evaluation statistics compute in full float32, where a reported example stays adversarial when
    checked again (training keeps the GPU's default).
    """
    switches, off = _tf32_switches()
    saved = [getattr(owner, name) for owner, name in switches]
    for owner, name in switches:
        setattr(owner, name, off)
    try:
        yield
    finally:
        for (owner, name), value in zip(switches, saved):
            setattr(owner, name, value)

"""Where a model computes (the ground floor: it imports only torch).

The library's convention: every function that takes a model and data runs on the model's device,
moving the data there once, and hands per-image results back on the device the data came from (the
CPU for a chapter's tensors). So a model trained on a GPU can be attacked, measured and plotted with
data that never left the CPU, and code written on a CPU runs unchanged where a GPU is present.
Attacks and their re-checks compute in full float32 on a GPU (:func:`full_float32`).
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


@contextmanager
def full_float32() -> Iterator[None]:
    """Float32 matrix products and convolutions without TF32 on CUDA, then the previous settings back.

    TF32 (PyTorch's default for cuDNN convolutions on Ampere and later GPUs) rounds operands to a 10-bit
    mantissa, ≈ 1e-3 relative error, and its result depends on the algorithm cuDNN picks for a batch size.
    An attack's example lies just past the decision boundary, so under TF32 a re-evaluation of it in
    another batch can land on the other side. Attacks and :func:`~lipreg_lib.evaluate.clean.logits_of`
    compute in full float32, where a reported example stays adversarial when checked again.
    """
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

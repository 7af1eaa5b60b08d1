"""Where a model computes (the ground floor: it imports only torch).

The library's convention: every function that takes a model and data runs on the model's device,
moving the data there once, and hands per-image results back on the device the data came from (the
CPU for a chapter's tensors). So a model trained on a GPU can be attacked, measured and plotted with
data that never left the CPU, and code written on a CPU runs unchanged where a GPU is present.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter or buffer; the CPU for a model with neither."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")

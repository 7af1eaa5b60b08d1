"""Import torchvision even when its compiled ops do not match the installed torch.

On machines that pair a CPU-only torch wheel with a torchvision wheel built for CUDA, ``import
torchvision`` fails with ``RuntimeError: operator torchvision::nms does not exist``: torchvision's
Python side registers fake kernels for C++ operators whose schemas were never defined. Defining
the two missing schemas before the import lets the pure-Python parts (datasets, transforms) load;
the C++ detection ops stay unavailable, and lipreg never uses them.

Where torchvision imports normally (Colab, matching wheels) :func:`import_torchvision` does
nothing but import it.
"""

from __future__ import annotations

import sys
from types import ModuleType

import torch

_MISSING_OP = "torchvision::nms does not exist"
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library: torch.library.Library | None = None  # kept alive: dropping it unregisters the schemas


def _define_missing_schemas() -> None:
    global _library
    if _library is None:
        _library = torch.library.Library("torchvision", "DEF")
        for schema in _SCHEMAS:
            _library.define(schema)


def import_torchvision() -> ModuleType:
    """Return the ``torchvision`` module, patching the operator schemas only if the import needs it."""
    try:
        import torchvision
    except RuntimeError as error:
        if _MISSING_OP not in str(error):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        _define_missing_schemas()
        import torchvision
    return torchvision


def was_patched() -> bool:
    """True when :func:`import_torchvision` had to define the missing schemas in this process."""
    return _library is not None

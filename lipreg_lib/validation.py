"""Argument checks shared by the library and the CLI: each error names the bad value."""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable
from pathlib import Path

import torch


class LipregError(ValueError):
    """A user-facing error: bad argument, missing data, corrupt checkpoint."""


def check_choice(kind: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise naming it, the choice it most
    resembles (``'ResNet-34'`` → ``'resnet34'``: names are compared lower-cased, without ``-`` and ``_``)
    and the valid ones."""
    options = sorted(choices)
    if value not in options:
        raise LipregError(f"unknown {kind} {value!r}{_nearest(value, options)}; choose from: {', '.join(options)}")
    return value


def _nearest(value: object, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the option closest to ``value`` in spelling, or nothing."""
    def squash(name: str) -> str:
        return name.lower().replace("-", "").replace("_", "")
    if not isinstance(value, str):
        return ""
    by_squash = {squash(o): o for o in options}
    close = difflib.get_close_matches(squash(value), list(by_squash), n=1, cutoff=0.75)
    return f" (did you mean {by_squash[close[0]]!r}?)" if close else ""


def check_nonnegative(name: str, value: float) -> float:
    """Return ``value`` as float if finite and ``>= 0`` (ε, λ, weight decay…)."""
    value = _finite(name, value)
    if value < 0:
        raise LipregError(f"{name} must be >= 0, got {value!r}")
    return value


def check_positive(name: str, value: float) -> float:
    """Return ``value`` as float if finite and ``> 0`` (step sizes, h, learning rates)."""
    value = _finite(name, value)
    if value <= 0:
        raise LipregError(f"{name} must be > 0, got {value!r}")
    return value


def check_positive_int(name: str, value: int) -> int:
    """Return ``value`` if it is an integer ``>= 1`` (epochs, batch sizes, iterations)."""
    return check_int_at_least(name, value, 1)


def check_int_at_least(name: str, value: int, minimum: int) -> int:
    """Return ``value`` if it is an integer ``>= minimum`` (0 warm-up steps; a grid of at least 2 budgets)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LipregError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_images(x: torch.Tensor, y: torch.Tensor | None = None) -> None:
    """Check a batch ``x`` of shape (B, ...) is finite, and labels ``y`` of shape (B,) match it."""
    if not torch.is_tensor(x) or x.dim() < 2:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise LipregError(f"inputs must be a tensor of shape (batch, ...), got {shape}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise LipregError(f"inputs contain {int((~torch.isfinite(x)).sum())} NaN or infinite values")
    if y is not None and (y.dim() != 1 or y.shape[0] != x.shape[0]):
        raise LipregError(
            f"labels must have shape ({x.shape[0]},) to match inputs {tuple(x.shape)}, got {tuple(y.shape)}"
        )


def check_writable_folder(folder: Path | str, name: str = "folder") -> Path:
    """Return ``folder`` if it is (or can be created as) a writable directory; a file in its place, or a
    parent that cannot be written, is an error naming the path, raised before any work starts."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LipregError(f"{name} {str(folder)!r} is a file, not a folder")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise LipregError(f"{name} {str(folder)!r} cannot be created: {str(existing)!r} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise LipregError(f"{name} {str(folder)!r} is not writable ({str(existing)!r} denies writing)")
    return folder


def check_writable_file(path: Path | str, name: str = "file") -> Path:
    """Return ``path`` if a file can be written there: not a folder, in a folder that is (or can be
    created as) writable; checked before the work whose result it will hold."""
    path = Path(path)
    if path.is_dir():
        raise LipregError(f"{name} {str(path)!r} is a folder, not a file")
    check_writable_folder(path.parent, f"{name} {str(path)!r}: folder")
    return path


def _finite(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise LipregError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise LipregError(f"{name} must be finite, got {value!r}")
    return value

"""Atomic checkpoints loaded with ``weights_only=True``; corrupt or mismatched files give clear errors."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..validation import LipregError

FORMAT = 1


class CheckpointError(LipregError):
    """A checkpoint that cannot be read or does not belong to the run that loads it."""


def atomic_write(path: Path, write: Any) -> None:
    """Write through ``write(file_object)`` to a temporary file in the same folder, then rename:
    a crash leaves either the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, payload: dict) -> None:
    atomic_write(path, lambda stream: stream.write((json.dumps(payload, indent=1, default=str) + "\n").encode()))


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda stream: torch.save({"format": FORMAT, **state}, stream))


def load_checkpoint(path: Path, expected_config: dict | None = None, ignore: tuple[str, ...] = (), defaults: dict | None = None) -> dict:
    """Load ``path`` safely. With ``expected_config``, every option but those in ``ignore`` must match;
    options missing from an older checkpoint count as their ``defaults`` (the values they had then)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or not a lipreg checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a lipreg checkpoint of format {FORMAT}")
    if expected_config is not None:
        saved = {**(defaults or {}), **state.get("config", {})}
        differ = {k: (saved.get(k), v) for k, v in expected_config.items() if k not in ignore and saved.get(k) != v}
        if differ:
            detail = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in differ.items())
            raise CheckpointError(f"checkpoint {str(path)!r} belongs to a different run ({detail})")
    return state

"""Atomic checkpoints loaded with ``weights_only=True``; corrupt or mismatched files give clear errors."""

from __future__ import annotations

from pathlib import Path

import torch

from ..runio import atomic_write
from ..validation import LipregError

FORMAT = 1


class CheckpointError(LipregError):
    """A checkpoint that cannot be read or does not belong to the run that loads it."""


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda stream: torch.save({"format": FORMAT, **state}, stream))


def config_differences(saved: dict, wanted: dict, defaults: dict | None = None) -> dict[str, tuple]:
    """``option → (saved, wanted)`` for every option of ``wanted`` whose saved value differs; options
    missing from an older record count as their ``defaults`` (the values they had then)."""
    saved = {**(defaults or {}), **saved}
    return {k: (saved.get(k), v) for k, v in wanted.items() if saved.get(k) != v}


def _first_sentence(error: Exception) -> str:
    """torch's own first sentence; the advice after it (retry with ``weights_only=False``) would unpickle an untrusted file."""
    text = str(error).strip()
    return text.split(". ")[0].splitlines()[0] if text else ""


def load_checkpoint(path: Path, expected_config: dict | None = None, defaults: dict | None = None) -> dict:
    """Load ``path`` safely. With ``expected_config``, every option must match (:func:`config_differences`)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or not a lipreg checkpoint ({type(error).__name__}: {_first_sentence(error)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a lipreg checkpoint of format {FORMAT}")
    if expected_config is not None:
        differ = config_differences(state.get("config", {}), expected_config, defaults)
        if differ:
            detail = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in differ.items())
            raise CheckpointError(f"checkpoint {str(path)!r} belongs to a different run ({detail})")
    return state

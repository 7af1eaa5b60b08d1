"""What produced a result: git commit, library versions, device, time."""

from __future__ import annotations

import datetime
import platform
import subprocess
from pathlib import Path

import torch


def git_commit(root: Path | None = None) -> str:
    """The commit of the lipreg checkout at ``root`` (default: the one holding this package), suffixed
    ``-dirty`` when tracked files outside ``data/`` differ from it, or ``"unknown"``. Results under
    ``data/`` do not count: a sweep that rewrites one grid's table must not mark the next one dirty."""
    root = root or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/", ":(top,exclude)data"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def versions() -> dict[str, str]:
    import numpy

    from .. import __version__

    return {"lipreg": __version__, "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def provenance(device: torch.device) -> dict:
    """The provenance block written beside every result."""
    return {"git_commit": git_commit(), "device": device_name(device), "versions": versions(), "time": now()}

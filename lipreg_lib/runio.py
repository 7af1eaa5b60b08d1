"""Run I/O: which device runs, what produced a result (git commit, versions, device, time), and
files written atomically, so that a crash, ``kill -9`` or a full disk never leaves a torn one."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch

from .validation import LipregError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → the GPU when there is one, else the CPU; anything else must name the CPU or an available
    CUDA GPU (``cuda:N`` with N below the number of GPUs)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise LipregError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LipregError(f"device {name!r} requested but no CUDA GPU is available; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise LipregError(f"device {name!r} requested but this machine has {torch.cuda.device_count()} CUDA GPU(s): cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return device


def git_commit(root: Path | None = None) -> str:
    """The commit of the lipreg checkout at ``root`` (default: the one holding this package), suffixed
    ``-dirty`` when tracked files outside ``data/`` differ from it, or ``"unknown"``. Results under
    ``data/`` do not count: a sweep that rewrites one grid's table must not mark the next one dirty.
    ``LIPREG_GIT_COMMIT``, when set, is recorded instead: for code run from a copy of a clean checkout
    whose ``.git`` is absent or stale (a container, a rented GPU machine)."""
    if os.environ.get("LIPREG_GIT_COMMIT"):
        return os.environ["LIPREG_GIT_COMMIT"]
    root = root or Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/", ":(top,exclude)data"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def short_commit(commit: str, digits: int = 7) -> str:
    """The first ``digits`` of a recorded commit, keeping its ``-dirty`` suffix (see :func:`git_commit`)."""
    return commit[:digits] + ("-dirty" if commit.endswith("-dirty") and len(commit) > digits + 6 else "")


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux), else the platform's machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model, vector instruction set and thread count: on the CPU a run is
    bit-reproducible only with the same three (another instruction set rounds the products differently,
    and a network trained for an epoch ends elsewhere), and its wall times belong to that model."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({cpu_model()}, {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads)"


def versions() -> dict[str, str]:
    import numpy

    from . import __version__

    return {"lipreg": __version__, "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def provenance(device: torch.device) -> dict:
    """The provenance block written beside every result."""
    return {"git_commit": git_commit(), "device": device_name(device), "versions": versions(), "time": now()}


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

"""Advisory locks on run folders, so two processes never train or evaluate the same run at once."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .validation import LipregError

LOCK_FILE = ".lock"


class RunLocked(LipregError):
    """Another process holds the lock of a run folder (raised only when not waiting)."""


@contextmanager
def run_lock(folder: Path | str, wait: bool = True, name: str = LOCK_FILE) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder/name`` for the duration of the block (``.lock`` guards
    training, ``.eval.lock`` the read-modify-write of ``eval.json``).

    With ``wait`` a second process blocks (saying so on stderr) until the first is done; without it,
    :class:`RunLocked` is raised at once. The kernel releases the lock when a process dies, even by
    ``kill -9``, so a crashed run never leaves a stale lock behind.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise RunLocked(f"run folder {str(folder)!r} is in use by another process") from None
            print(f"[lock] {folder} is in use by another process; waiting for it", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)

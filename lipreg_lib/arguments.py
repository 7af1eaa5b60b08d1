"""argparse types for the command lines of the CLI, the benchmarks and the tools: a bad value exits with
status 2 and a message naming the flag and the value while the arguments are parsed, before any work."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from .runio import resolve_device
from .validation import LipregError, check_int_at_least, check_positive, check_writable_file


def integer(flag: str, minimum: int = 1) -> Callable[[str], int]:
    """An integer ``>= minimum`` (:func:`~lipreg_lib.validation.check_int_at_least`)."""

    def parse(text: str) -> int:
        try:
            return check_int_at_least(flag, int(text), minimum)
        except LipregError as error:   # a ValueError too: caught first
            raise argparse.ArgumentTypeError(str(error)) from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer >= {minimum}, got {text!r}") from None

    return parse


def positive_float(flag: str) -> Callable[[str], float]:
    """A finite number ``> 0`` (:func:`~lipreg_lib.validation.check_positive`)."""

    def parse(text: str) -> float:
        try:
            return check_positive(flag, float(text))
        except ValueError:   # LipregError included
            raise argparse.ArgumentTypeError(f"{flag} must be a number > 0, got {text!r}") from None

    return parse


def device(flag: str = "--device") -> Callable[[str], str]:
    """A device this machine has (:func:`~lipreg_lib.runio.resolve_device`), kept as written (``auto``
    stays ``auto`` for a child process to resolve)."""

    def parse(text: str) -> str:
        try:
            resolve_device(text)
        except LipregError as error:
            raise argparse.ArgumentTypeError(f"{flag}: {error}") from None
        return text

    return parse


def writable_file(flag: str) -> Callable[[str], Path]:
    """A path a file can be written to (:func:`~lipreg_lib.validation.check_writable_file`), checked before
    the work whose result it will hold."""

    def parse(text: str) -> Path:
        try:
            return check_writable_file(text, flag)
        except LipregError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse

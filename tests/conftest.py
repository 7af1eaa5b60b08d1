"""Shared fixtures. Tests on real data read ``LIPREG_DATA_DIR`` and are skipped without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from lipreg_lib.data import load_dataset


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("LIPREG_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("set LIPREG_DATA_DIR to a folder holding the real data sets (lipreg_lib.data.sources.DATA_LAYOUT) to run tests on real data")
    return Path(value)


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's download cache from a test."""
    monkeypatch.setenv("LIPREG_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    torch.manual_seed(0)

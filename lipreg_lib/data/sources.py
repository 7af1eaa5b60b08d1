"""Where each named dataset comes from: the embedded default, a data directory, or a download cache.

Search order for the real datasets: the data directory (``--data-dir`` / ``LIPREG_DATA_DIR``, never
written to; :data:`DATA_LAYOUT`), then the cache (``LIPREG_CACHE_DIR``, default
``~/.cache/lipreg``), then a torchvision download into the cache.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..runio import atomic_write
from ..validation import LipregError, check_choice
from .splits import Augmentation, Dataset, Split

_CIFAR_AUGMENTATION = {"cifar10": Augmentation(True, 4, 16), "cifar100": Augmentation(True, 4, 8)}
_IDX_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
DATA_LAYOUT = ("MNIST/raw/ and FashionMNIST/raw/ with torchvision's four *-ubyte.gz files each, "
               "cifar10/cifar10.npz and cifar100/cifar100.npz (x_train, y_train, x_test, y_test)")
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


class DataNotFoundError(LipregError):
    """A named dataset is neither in the data directory, nor in the cache, nor downloadable."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("LIPREG_CACHE_DIR", Path.home() / ".cache" / "lipreg"))


def default_data_dir() -> Path | None:
    value = os.environ.get("LIPREG_DATA_DIR")
    return Path(value) if value else None


def _from_arrays(name: str, x_train, y_train, x_test, y_test, num_classes: int | None = None, **provenance) -> Dataset:
    def images(x: np.ndarray) -> torch.Tensor:
        if x.ndim == 3:  # (N, H, W) grey images
            x = x[:, None]
        elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):  # NHWC -> NCHW
            x = x.transpose(0, 3, 1, 2)
        if x.dtype != np.uint8:
            x = x.astype(np.float32)
            if not np.isfinite(x).all():
                raise LipregError(f"{name}: inputs contain {int((~np.isfinite(x)).sum())} NaN or infinite values")
            if x.size and (x.min() < 0 or x.max() > 1):
                raise LipregError(f"{name}: float inputs must lie in [0, 1], found [{x.min()}, {x.max()}]")
        return torch.from_numpy(np.require(x, requirements=["C", "W"]))

    def labels(y: np.ndarray, count: int, split: str) -> torch.Tensor:
        if y.shape == (count, 1):  # Keras' layout
            y = y[:, 0]
        if y.shape != (count,):
            raise LipregError(f"{name}: y_{split} must hold one label per image, {count} of them; got shape {y.shape}")
        whole = np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating) and bool(np.all(y == np.round(y))))
        if not whole:
            raise LipregError(f"{name}: y_{split} labels must be whole numbers, got {y.dtype} values such as {y.ravel()[:3].tolist()}")
        if y.size and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes)):
            allowed = f"lie in [0, {num_classes})" if num_classes is not None else "be >= 0"
            raise LipregError(f"{name}: y_{split} labels must {allowed}, found [{y.min()}, {y.max()}]")
        return torch.tensor(y, dtype=torch.int64)

    x_train, x_test = images(np.asarray(x_train)), images(np.asarray(x_test))
    train = Split(x_train, labels(np.asarray(y_train), len(x_train), "train"))
    test = Split(x_test, labels(np.asarray(y_test), len(x_test), "test"))
    if train.x.shape[1:] != test.x.shape[1:]:
        raise LipregError(f"{name}: train inputs {tuple(train.x.shape[1:])} and test inputs {tuple(test.x.shape[1:])} differ in shape")
    classes = num_classes or int(max(train.y.max(), test.y.max())) + 1
    return Dataset(name, train, test, classes, _CIFAR_AUGMENTATION.get(name, Augmentation()), dict(provenance))


def load_digits() -> Dataset:
    """scikit-learn's bundled 8×8 digits (1797 images, 0–16 grey levels → uint8), split 80/20 stratified, seed 0."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_digits()
    x = np.round(bunch.images * (255 / 16)).astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(x, bunch.target, test_size=0.2, random_state=0, stratify=bunch.target)
    return _from_arrays("digits", x_train, y_train, x_test, y_test, 10, source="sklearn.datasets.load_digits")


def load_synthetic(name: str, n: int = 1000, noise: float = 0.1, seed: int = 0) -> Dataset:
    """2-D two-class sets (``moons``, ``circles``) from scikit-learn, rescaled into [0, 1]²."""
    from sklearn import datasets as sk

    make: Callable = {"moons": sk.make_moons, "circles": lambda **kw: sk.make_circles(factor=0.5, **kw)}[name]
    x, y = make(n_samples=2 * n, noise=noise, random_state=seed)
    x = (x - x.min(0)) / (x.max(0) - x.min(0))
    return _from_arrays(name, x[:n], y[:n], x[n:], y[n:], 2, source=f"sklearn.datasets.make_{name}", seed=seed, noise=noise)


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format: magic, dims as big-endian int32, then uint8 data)."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _torchvision_download(name: str, cache_dir: Path) -> list[np.ndarray]:
    """Download through torchvision into ``cache_dir/torchvision``; return x_train, y_train, x_test, y_test."""
    from .._torchvision_compat import import_torchvision

    datasets = import_torchvision().datasets
    cls = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    arrays = []
    for train in (True, False):
        data = cls(str(cache_dir / "torchvision"), train=train, download=True)
        arrays += [np.asarray(data.data), np.asarray(data.targets)]
    return arrays


def _idx_candidates(name: str, data_dir: Path | None, cache_dir: Path) -> list[Path]:
    folder = _IDX_FOLDERS[name]
    roots = ([data_dir] if data_dir else []) + [cache_dir / "torchvision"]
    return [root / folder / "raw" for root in roots]


def _npz_candidates(name: str, data_dir: Path | None, cache_dir: Path) -> list[Path]:
    roots = ([data_dir] if data_dir else []) + [cache_dir]
    return [root / name / f"{name}.npz" for root in roots]


def _missing(name: str, searched: list[Path], error: Exception) -> DataNotFoundError:
    places = "\n  ".join(str(p) for p in searched)
    return DataNotFoundError(
        f"dataset {name!r} not found. Searched:\n  {places}\nand the download failed ({type(error).__name__}: {error}).\n"
        f"Fix: pass --data-dir (or set LIPREG_DATA_DIR) to a folder holding {DATA_LAYOUT}, or run where torchvision can download."
    )


def load_idx_dataset(name: str, data_dir: Path | None, cache_dir: Path) -> Dataset:
    """MNIST or Fashion-MNIST from torchvision's ``raw/*.gz`` layout, read in place (nothing extracted)."""
    candidates = _idx_candidates(name, data_dir, cache_dir)

    def find() -> Path | None:
        return next((c for c in candidates if all((c / f).is_file() for pair in _IDX_FILES.values() for f in pair)), None)

    folder = find()
    if folder is None:
        try:
            arrays = _torchvision_download(name, cache_dir)
        except Exception as error:  # no network, proxy, disk: all reported the same way
            raise _missing(name, candidates, error) from error
        return _from_arrays(name, *arrays, 10, source="torchvision download")
    arrays = [_read_idx(folder / f) for split in ("train", "test") for f in _IDX_FILES[split]]
    return _from_arrays(name, *arrays, 10, source=str(folder))


def load_cifar(name: str, data_dir: Path | None, cache_dir: Path) -> Dataset:
    """CIFAR-10/100 from ``<dir>/<name>/<name>.npz`` (x_train NHWC uint8, y_train, x_test, y_test) or a download."""
    candidates = _npz_candidates(name, data_dir, cache_dir)
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        try:
            x_train, y_train, x_test, y_test = _torchvision_download(name, cache_dir)
        except Exception as error:
            raise _missing(name, candidates, error) from error
        path = cache_dir / name / f"{name}.npz"  # stored once, in the data directory's layout
        atomic_write(path, lambda stream: np.savez(stream, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test))
    return load_npz(path, name=name, num_classes=100 if name == "cifar100" else 10)


def load_npz(path: Path | str, name: str | None = None, num_classes: int | None = None) -> Dataset:
    """Any ``.npz`` holding ``x_train, y_train, x_test, y_test`` (uint8 images or floats in [0,1])."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"npz dataset file {str(path)!r} does not exist")
    try:
        arrays = np.load(path)
    except (OSError, ValueError, EOFError) as error:  # empty, truncated, text or pickled file
        raise LipregError(f"npz dataset file {str(path)!r} is not a readable .npz archive ({type(error).__name__}: {error})") from None
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        raise LipregError(f"npz dataset file {str(path)!r} holds a single array, not the four arrays x_train, y_train, x_test, y_test")
    with arrays:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(arrays.files)
        if missing:
            raise LipregError(f"{path}: missing arrays {sorted(missing)} (found {sorted(arrays.files)})")
        parts = [arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    return _from_arrays(name or f"npz:{path}", *parts, num_classes, source=str(path), sha256=_sha256(path))


DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "moons", "circles", "npz:PATH")
CLASS_NAMES = {  # label -> name, where a label is not its own name
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    "fashion-mnist": ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"),
}


DISPLAY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}


def display_name(dataset: str) -> str:
    """How a reader writes ``dataset`` (``"fashion-mnist"`` → ``"Fashion-MNIST"``); the other names as they are."""
    return DISPLAY_NAMES.get(dataset, dataset)


def class_name(dataset: str, label: int) -> str:
    """The name of class ``label`` of ``dataset`` (the digit itself for the digit data sets)."""
    names = CLASS_NAMES.get(dataset)
    return names[label] if names else str(label)


def load_dataset(name: str, data_dir: Path | str | None = None, cache_dir: Path | str | None = None) -> Dataset:
    """Load a named dataset (see :data:`DATASETS`); ``npz:PATH`` reads any arrays file."""
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    if data_dir is not None and not data_dir.is_dir():  # a typo would otherwise fall through to a download
        raise DataNotFoundError(f"data directory {str(data_dir)!r} (--data-dir or LIPREG_DATA_DIR) is not a folder")
    if name.startswith("npz:"):
        return load_npz(name[4:])
    check_choice("dataset", name, DATASETS[:-1])
    if name == "digits":
        return load_digits()
    if name in ("moons", "circles"):
        return load_synthetic(name)
    if name in _IDX_FOLDERS:
        return load_idx_dataset(name, data_dir, cache_dir)
    return load_cifar(name, data_dir, cache_dir)

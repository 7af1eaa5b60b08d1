import re

import numpy as np
import pytest
import torch

from lipreg_lib.data import Augmentation, DataNotFoundError, Split, augment, batches, load_dataset, to_float
from lipreg_lib.data import sources
from lipreg_lib.validation import LipregError


def test_digits_is_the_embedded_default(digits):
    assert digits.train.x.shape == (1437, 1, 8, 8) and digits.test.x.shape == (360, 1, 8, 8)
    assert digits.train.x.dtype == torch.uint8 and digits.num_classes == 10
    assert torch.bincount(digits.test.y).tolist() == pytest.approx([36] * 10, abs=1)  # stratified
    x = digits.train.floats()
    assert 0 <= x.min() and x.max() == 1  # 16 grey levels mapped to 255


def test_synthetic_sets_are_two_dimensional_in_unit_square():
    moons = load_dataset("moons")
    assert moons.input_shape == (2,) and moons.num_classes == 2
    assert moons.train.x.min() >= 0 and moons.train.x.max() <= 1


def test_to_float_divides_pixels_only():
    assert torch.equal(to_float(torch.tensor([0, 51, 255], dtype=torch.uint8)), torch.tensor([0, 0.2, 1.0]))
    assert torch.equal(to_float(torch.tensor([0.3])), torch.tensor([0.3]))


def _images(n=64, size=8):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1)) + 0.1  # no zero pixels


def test_flip_gives_image_or_its_mirror_and_both_occur():
    x = _images()
    out = augment(x, Augmentation(flip=True), torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 0 < int(mirrored.sum()) < len(x)


def test_crop_is_a_translation_of_the_zero_padded_image():
    x = _images(n=32)
    p = 2
    out = augment(x, Augmentation(crop_padding=p), torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    for i in range(len(x)):
        windows = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(2 * p + 1) for dx in range(2 * p + 1)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert not torch.equal(out, x)


def test_cutout_zeroes_at_most_a_square_and_keeps_the_rest():
    x = _images(size=16)
    out = augment(x, Augmentation(cutout=4), torch.Generator().manual_seed(0))
    zeroed = (out == 0).all(1)  # (B, H, W)
    assert bool(((out == x) | (out == 0)).all())
    counts = zeroed.flatten(1).sum(1)
    assert counts.max() == 16 and counts.min() >= 4  # full square inside, clipped ones at borders


def test_augmentation_is_reproducible_from_the_generator():
    x = _images()
    spec = Augmentation(True, 2, 4)
    a = augment(x, spec, torch.Generator().manual_seed(5))
    b = augment(x, spec, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_distributed_shards_partition_each_batch(digits):
    full = list(batches(digits.train, 32, shuffle=True, generator=torch.Generator().manual_seed(3), drop_last=True))
    shards = [list(batches(digits.train, 32, shuffle=True, generator=torch.Generator().manual_seed(3), drop_last=True, rank=r, world_size=2))
              for r in range(2)]
    assert len(full) == len(shards[0]) == 1437 // 32
    for (x, y), (x0, y0), (x1, y1) in zip(full, *shards):
        assert torch.equal(torch.sort(y).values, torch.sort(torch.cat([y0, y1])).values)
        assert len(y0) == len(y1) == 16


def test_npz_accepts_nhwc_and_float(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "set.npz"
    np.savez(path, x_train=rng.integers(0, 256, (10, 5, 5, 3), dtype=np.uint8), y_train=np.arange(10) % 3,
             x_test=rng.integers(0, 256, (4, 5, 5, 3), dtype=np.uint8), y_test=np.arange(4) % 3)
    data = load_dataset(f"npz:{path}")
    assert data.input_shape == (3, 5, 5) and data.num_classes == 3 and len(data.provenance["sha256"]) == 64
    np.savez(path, x_train=rng.random((6, 4)), y_train=np.zeros(6), x_test=rng.random((2, 4)), y_test=np.ones(2))
    assert load_dataset(f"npz:{path}").input_shape == (4,)


def test_npz_errors_name_the_problem(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((2, 3)), y_train=np.zeros(2))
    with pytest.raises(LipregError, match=r"missing arrays \['x_test', 'y_test'\]"):
        load_dataset(f"npz:{path}")
    np.savez(path, x_train=np.full((2, 3), 7.0), y_train=np.zeros(2), x_test=np.zeros((1, 3)), y_test=np.zeros(1))
    with pytest.raises(LipregError, match=r"\[0, 1\]"):
        load_dataset(f"npz:{path}")
    with pytest.raises(LipregError, match="does not exist"):
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")


def test_npz_files_that_are_not_a_data_set_are_named_before_training(tmp_path):
    path = tmp_path / "set.npz"
    x = np.zeros((4, 3), dtype=np.float32)
    path.write_bytes(b"")
    with pytest.raises(LipregError, match="is not a readable .npz archive"):
        load_dataset(f"npz:{path}")
    np.save(tmp_path / "one.npy", x)
    (tmp_path / "one.npy").rename(path)
    with pytest.raises(LipregError, match="holds a single array"):
        load_dataset(f"npz:{path}")
    for arrays, message in [({"x_train": np.where(np.eye(4, 3) > 0, np.nan, 0.0)}, "inputs contain 3 NaN or infinite values"),
                            ({"y_train": np.array([0, 1, -1, 0])}, "y_train labels must be >= 0, found [-1, 1]"),
                            ({"y_test": np.array([0, 1, 0])}, "y_test must hold one label per image, 4 of them; got shape (3,)"),
                            ({"y_train": np.array([0, 0.5, 1, 0])}, "y_train labels must be whole numbers")]:
        np.savez(path, **{"x_train": x, "y_train": np.arange(4) % 2, "x_test": x, "y_test": np.arange(4) % 2, **arrays})
        with pytest.raises(LipregError, match=re.escape(message)):
            load_dataset(f"npz:{path}")
    np.savez(path, x_train=x, y_train=(np.arange(4) % 2)[:, None], x_test=x, y_test=np.arange(4)[:, None] % 2)  # Keras' (N, 1) labels
    assert load_dataset(f"npz:{path}").train.y.tolist() == [0, 1, 0, 1]


def test_a_data_directory_that_is_not_a_folder_is_named_not_searched(tmp_path):
    with pytest.raises(DataNotFoundError, match=re.escape(f"data directory {str(tmp_path / 'typo')!r}")):
        load_dataset("mnist", data_dir=tmp_path / "typo", cache_dir=tmp_path)


def test_unknown_dataset_lists_choices():
    with pytest.raises(LipregError, match=r"unknown dataset 'svhn'; choose from: cifar10, cifar100"):
        load_dataset("svhn")


def test_missing_offline_data_names_dataset_places_and_fix(tmp_path, monkeypatch):
    def offline(name, cache_dir):
        raise OSError("network unreachable")

    monkeypatch.setattr(sources, "_torchvision_download", offline)
    (tmp_path / "data").mkdir()
    with pytest.raises(DataNotFoundError) as error:
        load_dataset("mnist", data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "'mnist'" in message and str(tmp_path / "data" / "MNIST" / "raw") in message
    assert "network unreachable" in message and "--data-dir" in message


def test_a_downloaded_cifar_is_stored_once_in_the_cache_and_read_from_there_afterwards(tmp_path, monkeypatch):
    calls = []

    def download(name, cache_dir):
        calls.append(name)
        rng = np.random.default_rng(0)
        return (rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), np.arange(20) % 10,
                rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8), np.arange(10) % 10)

    monkeypatch.setattr(sources, "_torchvision_download", download)
    (tmp_path / "empty").mkdir()
    first = load_dataset("cifar10", data_dir=tmp_path / "empty", cache_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir()) == ["cifar10.npz"]  # no temporary left behind
    again = load_dataset("cifar10", data_dir=tmp_path / "empty", cache_dir=tmp_path)
    assert calls == ["cifar10"] and torch.equal(first.train.x, again.train.x) and first.test.y.tolist() == list(range(10))


def test_real_datasets_from_data_dir_without_writing(data_dir, tmp_path):
    before = sorted(p.stat().st_mtime for p in data_dir.rglob("*") if p.is_file())
    mnist = load_dataset("mnist", data_dir, tmp_path)
    assert mnist.train.x.shape == (60000, 1, 28, 28) and mnist.test.x.shape == (10000, 1, 28, 28)
    assert torch.bincount(mnist.test.y).sum() == 10000 and mnist.train.x.max() == 255
    fashion = load_dataset("fashion-mnist", data_dir, tmp_path)
    assert not torch.equal(fashion.train.x[:10], mnist.train.x[:10])
    cifar = load_dataset("cifar10", data_dir, tmp_path)
    assert cifar.train.x.shape == (50000, 3, 32, 32) and cifar.augmentation == Augmentation(True, 4, 16)
    assert torch.bincount(cifar.train.y).tolist() == [5000] * 10
    assert sorted(p.stat().st_mtime for p in data_dir.rglob("*") if p.is_file()) == before
    assert not any(tmp_path.iterdir())  # nothing had to be copied or extracted


def test_split_rejects_mismatched_labels():
    with pytest.raises(LipregError, match="3 inputs but 2 labels"):
        Split(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))

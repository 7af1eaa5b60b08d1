"""The gradient-masking check flags a model whose gradients are useless and clears one whose are not."""

import pytest
import torch
from torch import nn

from lipreg_lib.data import Split
from lipreg_lib.evaluate.masking import InputQuantised, masking_check
from lipreg_lib.train import TrainConfig, train


@pytest.fixture(scope="module")
def trained(digits):
    return train(TrainConfig(epochs=5), dataset=digits, progress=False).model


def test_an_honest_model_passes_and_a_masked_one_is_flagged(trained, digits):
    images = Split(digits.test.x[:40], digits.test.y[:40])
    honest = masking_check(trained, images, black_steps=500)
    assert honest["verdict"] == "none" and honest["white_failed_black_fooled"] == 0 and honest["median_black_over_white"] > 1
    masked = masking_check(InputQuantised(trained).eval(), images, black_steps=500)
    assert masked["verdict"] == "masking"
    assert masked["failure_share"] > 0.5 and masked["correct"] >= 30  # the white-box attack fails where the black box does not


def test_the_black_box_attack_counts_images_it_cannot_start_from_as_failures(trained, digits):
    """Boundary starts from blended noise; where even pure noise keeps the label, foolbox would raise.
    Those images get distance inf, the others are attacked as usual."""
    from lipreg_lib.attacks import run_attack

    class OffGridIsSeven(nn.Module):  # the net on clean images (pixels on the 1/255 grid), 7 on anything else, noise included
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            off_grid = ((x * 255 - (x * 255).round()).abs() > 1e-3).flatten(1).any(1)
            seven = torch.nn.functional.one_hot(torch.full_like(off_grid, 7, dtype=torch.long), 10) * 100.0
            return torch.where(off_grid[:, None], seven, self.net(x))

    images = Split(digits.test.x[:40], digits.test.y[:40])
    distances = run_attack(OffGridIsSeven(trained).eval(), images, "boundary", steps=50).distances
    sevens = images.y == 7
    started = sevens & (distances != 0)   # sevens classified right, so attacked: none can start
    assert started.any() and torch.isinf(distances[started]).all()
    assert torch.isfinite(distances[~sevens]).all()

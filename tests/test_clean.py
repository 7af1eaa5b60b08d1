"""Clean metrics: :func:`lipreg_lib.evaluate.clean.clean_metrics`, with and without flip test-time augmentation."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lipreg_lib.data import Split
from lipreg_lib.evaluate.clean import clean_metrics


def test_flip_tta_averages_the_logits_of_the_image_and_its_horizontal_mirror():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 5, 3))
    split = Split(torch.randint(0, 256, (64, 3, 4, 5), dtype=torch.uint8), torch.randint(0, 3, (64,)))
    x = split.floats()
    for flip_tta, logits in ((False, model(x)), (True, (model(x) + model(x.flip(3))) / 2)):
        metrics = clean_metrics(model, split, batch_size=10, flip_tta=flip_tta)
        assert metrics["loss"] == pytest.approx(F.cross_entropy(logits, split.y).item(), rel=1e-5)
        assert metrics["accuracy"] == pytest.approx((logits.argmax(1) == split.y).float().mean().item())
    vertical = (model(x) + model(x.flip(2))) / 2   # the wrong mirror gives another loss: the test can tell them apart
    assert F.cross_entropy(vertical, split.y).item() != pytest.approx(clean_metrics(model, split, flip_tta=True)["loss"], rel=1e-3)

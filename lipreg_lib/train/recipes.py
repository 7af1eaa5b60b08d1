"""Named training recipes: option sets a run starts from (``--recipe`` on the command line,
``recipe:`` in a grid). Options given explicitly override the recipe's.

- ``paper``: the :class:`TrainConfig` defaults, the authors' optimiser (arXiv 1810.00953, §5: SGD, momentum
  0.9, weight decay 5e-4, learning rate stepped down at fixed fractions of training) on a model and
  data set small enough for a CPU (5 epochs of ``small-cnn`` on the digits unless given).
- ``fast``: CIFAR-10 in minutes on two CPU cores (``fast-cnn``, airbench-style). Each choice and why:
  batch 256 (fewer, larger steps amortise per-step overhead on a CPU); a one-cycle schedule with
  peak lr 0.2 after 20 % of training, then linear decay to 0 (short runs reach low error without
  separate decay phases); Nesterov momentum 0.9; weight decay 5e-4; label smoothing 0.2 (the
  largest single gain in airbench's ablations — it flattens loss gradients, which is why the fast
  protocol runs the gradient-masking check); flip and 2-pixel translation instead of the paper's
  4-pixel crop and 16-pixel cutout (cutout slows short runs down); channels-last memory layout
  (≈ 20 % faster convolutions on the CPU).
"""

from __future__ import annotations

from ..validation import check_choice

RECIPES: dict[str, dict] = {
    "paper": {},
    "fast": {"model": "fast-cnn", "batch_size": 256, "lr": 0.2, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
             "schedule": "one-cycle", "warmup": 0.2, "label_smoothing": 0.2, "augmentation": "flip-translate",
             "channels_last": True},
}


def with_recipe(options: dict) -> dict:
    """``options`` with its ``recipe`` key (if any) expanded: the recipe's values under the explicit ones."""
    options = dict(options)
    name = options.pop("recipe", None)
    if name is None:
        return options
    check_choice("recipe", name, RECIPES)
    return {**RECIPES[name], **options}

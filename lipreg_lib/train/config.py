"""The full configuration of a training run; recorded in ``run.json`` and in every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..data import AUGMENTATIONS, DATASETS
from ..defences import make_defence
from ..models import MODELS
from ..validation import LipregError, check_choice, check_nonnegative, check_positive, check_positive_int
from .recipes import with_recipe
from .schedule import SCHEDULES



@dataclass(frozen=True)
class TrainConfig:
    """Defaults are the paper's protocol (arXiv 1810.00953, §5): SGD lr 0.1, momentum 0.9, batch 128,
    weight decay 5e-4, lr × 0.2 at 30%, 60% and 80% of training (epochs 60/120/160 of 200).

    The fast CIFAR-10 recipe (:data:`lipreg_lib.train.recipes.RECIPES`) changes the schedule to a
    one-cycle ramp (``schedule="one-cycle"``, peak ``lr`` after ``warmup`` of training), Nesterov
    momentum, ``label_smoothing`` of the training loss and ``augmentation="flip-translate"``.
    """

    dataset: str = "digits"
    model: str = "small-cnn"
    defence: str = "baseline"
    eps: float = 0.01
    lam: float = 0.1
    h: float = 0.01
    tanh_head: bool = False
    width: int | None = None
    clip: bool = False
    per_example: bool = False
    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[float, ...] = (0.3, 0.6, 0.8)
    gamma: float = 0.2
    augment: bool = True
    augmentation: str = "dataset"
    schedule: str = "step"
    warmup: float = 0.2
    nesterov: bool = False
    label_smoothing: float = 0.0
    train_subset: int | None = None
    test_subset: int | None = None
    seed: int = 0
    bf16: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))
        for name in ("eps", "lam", "momentum", "weight_decay"):
            check_nonnegative(name, getattr(self, name))
        for name in ("h", "lr", "gamma"):
            check_positive(name, getattr(self, name))
        for name in ("train_subset", "test_subset", "width"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        if not self.dataset.startswith("npz:"):
            check_choice("dataset", self.dataset, DATASETS[:-1])
        check_choice("model", self.model, MODELS)
        make_defence(self.defence, self.eps, self.lam, self.h)  # names every bad component
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("augmentation", self.augmentation, ("dataset", *AUGMENTATIONS))
        if not 0 <= self.warmup < 1:
            raise LipregError(f"warmup is a fraction of training in [0, 1), got {self.warmup!r}")
        if not 0 <= self.label_smoothing < 1:
            raise LipregError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing!r}")
        if any(not 0 < m < 1 for m in self.milestones):
            raise LipregError(f"milestones are fractions of training in (0, 1), got {self.milestones}")
        object.__setattr__(self, "milestones", tuple(float(m) for m in self.milestones))

    def to_dict(self) -> dict:
        return {**asdict(self), "milestones": list(self.milestones)}

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        values = with_recipe(values)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise LipregError(f"unknown training options {unknown}; known: {sorted(known)}")
        return cls(**{**values, "milestones": tuple(values.get("milestones", cls.milestones))})

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
    """The optimiser's defaults are the paper's protocol (arXiv 1810.00953, §5): SGD lr 0.1, momentum 0.9,
    batch 128, weight decay 5e-4, lr × 0.2 at 30%, 60% and 80% of training (epochs 60/120/160 of 200).
    The data, model and length default to a quick run: the small CNN on the 8×8 digits for 5 epochs.

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
        self._check_types()
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
        if self.momentum >= 1:
            raise LipregError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if any(not 0 < m < 1 for m in self.milestones):
            raise LipregError(f"milestones are fractions of training in (0, 1), got {self.milestones}")
        object.__setattr__(self, "milestones", tuple(float(m) for m in self.milestones))

    def _check_types(self) -> None:
        """Each option has its annotated type (a YAML ``"false"`` is a string, not ``False``); integers
        given for a float option become floats."""
        for field in fields(self):
            value, kind = getattr(self, field.name), field.type
            if value is None and kind.endswith("| None"):
                continue
            kind = kind.removesuffix(" | None")
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if kind == "bool" and not isinstance(value, bool):
                raise LipregError(f"{field.name} must be true or false, got {value!r}")
            if kind == "int" and not (number and isinstance(value, int)):
                raise LipregError(f"{field.name} must be an integer, got {value!r}")
            if kind == "float" and not number:
                raise LipregError(f"{field.name} must be a number, got {value!r}")
            if kind == "str" and not isinstance(value, str):
                raise LipregError(f"{field.name} must be a name (a string), got {value!r}")
            if kind.startswith("tuple") and not (isinstance(value, (tuple, list))
                                                 and all(isinstance(m, (int, float)) and not isinstance(m, bool) for m in value)):
                raise LipregError(f"{field.name} must be a list of numbers, got {value!r}")
            if kind == "float":
                object.__setattr__(self, field.name, float(value))

    def to_dict(self) -> dict:
        return {**asdict(self), "milestones": list(self.milestones)}

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        values = with_recipe(values)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise LipregError(f"unknown training options {unknown}; known: {sorted(known)}")
        return cls(**values)  # a list of milestones (JSON, YAML) becomes a tuple in __post_init__

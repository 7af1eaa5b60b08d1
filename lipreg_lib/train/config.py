"""The full configuration of a training run; recorded in ``run.json`` and in every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..validation import LipregError, check_nonnegative, check_positive, check_positive_int


@dataclass(frozen=True)
class TrainConfig:
    """Defaults are the paper's protocol (PAPER.md §5): SGD lr 0.1, momentum 0.9, batch 128,
    weight decay 5e-4, lr × 0.2 at 30%, 60% and 80% of training (epochs 60/120/160 of 200)."""

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
        if any(not 0 < m < 1 for m in self.milestones):
            raise LipregError(f"milestones are fractions of training in (0, 1), got {self.milestones}")
        object.__setattr__(self, "milestones", tuple(float(m) for m in self.milestones))

    def to_dict(self) -> dict:
        return {**asdict(self), "milestones": list(self.milestones)}

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise LipregError(f"unknown training options {unknown}; known: {sorted(known)}")
        return cls(**{**values, "milestones": tuple(values.get("milestones", cls.milestones))})

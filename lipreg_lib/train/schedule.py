"""Step-decay learning rate, scaled to the length of the run."""

from __future__ import annotations

from bisect import bisect_right


def learning_rate(step: int, total_steps: int, base_lr: float, milestones: tuple[float, ...], gamma: float) -> float:
    """``lr(t) = lr₀ · γ^{#{m : m ≤ t/T}}`` for step ``t`` of ``T``: the paper's decays at epochs
    60/120/160 of 200 become milestones 0.3/0.6/0.8 of any run, applied per iteration."""
    return base_lr * gamma ** bisect_right(sorted(milestones), step / max(total_steps, 1))

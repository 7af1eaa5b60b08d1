"""Learning-rate schedules, scaled to the length of the run and applied per iteration."""

from __future__ import annotations

from bisect import bisect_right

SCHEDULES = ("step", "one-cycle")


def learning_rate(step: int, total_steps: int, base_lr: float, milestones: tuple[float, ...], gamma: float,
                  schedule: str = "step", warmup: float = 0.2) -> float:
    """The learning rate at step ``t`` of ``T``.

    - ``"step"`` (the paper's): ``lr(t) = lr₀ · γ^{#{m : m ≤ t/T}}``; the decays at epochs 60/120/160
      of 200 become milestones 0.3/0.6/0.8 of any run.
    - ``"one-cycle"`` (the fast recipe): a linear ramp from 0 to ``lr₀`` over the first ``warmup·T``
      steps, then linearly down to 0 at ``T``: short runs need no separate decay phases.
    """
    progress = step / max(total_steps, 1)
    if schedule == "one-cycle":
        if progress < warmup:
            return base_lr * progress / warmup
        return base_lr * max(1 - progress, 0.0) / (1 - warmup)
    return base_lr * gamma ** bisect_right(sorted(milestones), progress)

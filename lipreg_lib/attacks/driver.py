"""The one contract of every minimal-distance attack: eval mode, batching, and a re-check of every result.

An attack supplies ``batch_attack(x, y) -> (distances, adversarial)`` for one batch; :func:`drive`
runs it over a split with the model in eval mode (the deployed function; the caller's mode comes back),
then trusts nothing it claims: an example the model still classifies as ``y``, or one outside the
image box, gets distance ``inf``; an image misclassified clean gets distance ``0`` and itself as its
example; every other distance is the Euclidean norm ``‖x' − x‖₂`` of the example returned. So a
reported distance is always that of a real, checked adversarial image (foolbox's ``raw, clipped,
success`` contract, with ``success`` recomputed here). :func:`recheck` is the reader's own re-check,
outside the driver's batches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import Split, batches
from ..devices import full_float32, model_device
from ..gradients import flat_norms
from ..models.modes import eval_mode
from ..validation import check_positive_int
from .engine import class_margin
from .result import AttackResult

BOUNDARY_TOLERANCE = 1e-4  # of max(1, max|z|): about 839 float32 epsilons (2⁻²³)

BatchAttack = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@torch.no_grad()
def checked(model: nn.Module, x: torch.Tensor, y: torch.Tensor, adversarial: torch.Tensor,
            claimed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(distances, adversarial)`` after the re-check: ``0`` where ``x`` is misclassified, ``inf`` where
    no attack was claimed (``claimed`` is ``inf``), ``adversarial`` leaves the image box ``[0,1]^n`` or is
    classified ``y``, else ``‖x' − x‖₂``."""
    wrong = model(x).argmax(1) != y
    inside = ((adversarial >= -1e-6) & (adversarial <= 1 + 1e-6)).flatten(1).all(1)  # an image, not just any input
    fooled = (model(adversarial).argmax(1) != y) & torch.isfinite(claimed) & inside
    distances = torch.where(fooled, flat_norms(adversarial - x).double(), torch.full_like(claimed, float("inf"), dtype=torch.float64))
    distances[wrong] = 0.0
    adversarial = torch.where(wrong.view(-1, *[1] * (x.dim() - 1)), x, adversarial)
    return distances, adversarial


@torch.no_grad()
def recheck(model: nn.Module, adversarial: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fooled, on_boundary)`` for examples evaluated again, in one batch of their own, in eval mode and
    full float32 on the model's device: ``fooled`` where another class wins (class margin
    ``z_y − max_{j≠y} z_j < 0``), ``on_boundary`` where ``|z_y − max_{j≠y} z_j| ≤ 10⁻⁴ · max(1, maxⱼ |zⱼ|)``,
    a band treated as within float32 rounding. There the label can change with the batch an example is
    evaluated in on a GPU (cuDNN chooses kernels by the batch's shape): an attack that stops at the first
    crossing (DeepFool) can leave such examples, which the driver's check in its batch and this one may
    then count differently. ``fooled | on_boundary`` holds for every example an attack reports with a
    finite distance; a non-adversarial one fails it. ``y`` holds int64 labels on any device; the results
    are on the CPU."""
    with eval_mode(model), full_float32():
        logits = model(adversarial.to(model_device(model))).float().cpu()
    margin = class_margin(logits, y.cpu())
    scale = logits.abs().amax(1).clamp(min=1.0)
    return margin < 0, margin.abs() <= BOUNDARY_TOLERANCE * scale


def drive(model: nn.Module, split: Split, name: str, batch_attack: BatchAttack, settings: dict, *, batch_size: int = 500,
          keep_adversarial: bool = True, progress: bool = False) -> AttackResult:
    """Run ``batch_attack`` over ``split`` in batches of ``batch_size`` on the model's device (the split is
    moved there once), in eval mode and full float32 (:func:`~lipreg_lib.devices.full_float32`),
    re-checking every batch (:func:`checked`); the result's tensors are on the CPU. ``progress`` shows a
    bar with an ETA over the batches."""
    check_positive_int("batch_size", batch_size)
    split = split.to(model_device(model))
    distances, examples = [], []
    with eval_mode(model), full_float32():
        total = -(-len(split) // batch_size)
        stream = tqdm(batches(split, batch_size), total=total, desc=f"{name} minimal distances", unit="batch",
                      disable=not progress, leave=False)
        for x, y in stream:
            claimed, adversarial = batch_attack(x, y)
            d, adversarial = checked(model, x, y, adversarial.detach(), claimed.double())
            distances.append(d)
            if keep_adversarial:
                examples.append(adversarial)
    adversarial = torch.cat(examples).cpu() if keep_adversarial else torch.empty(0)
    return AttackResult(name, torch.cat(distances).cpu(), adversarial, settings)

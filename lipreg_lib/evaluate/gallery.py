"""A gallery of minimal adversarial examples, stored compactly so the book can show real networks'
examples without their weights: for a few correctly classified test images, the clean image and,
per attack, the perturbation ``δ = x' − x`` of its closest adversarial example ``x'`` (arXiv
1810.00953, §5 and Figure 3).

The clean image is stored as its uint8 pixels; ``δ`` as float16 (a perturbation of a few hundredths
of a pixel would vanish in 8 bits). ``x + δ`` is re-classified after the rounding to float16 and the
record says whether it is still adversarial (``stored_is_adversarial``).
"""

from __future__ import annotations

import base64

import numpy as np
import torch
from torch import nn

from ..attacks import run_attack
from ..data import Split, class_name
from ..validation import LipregError, check_positive_int
from .clean import logits_of


def _encode(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def _decode(text: str, dtype, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).reshape(shape)


@torch.no_grad()
def gallery_record(model: nn.Module, split: Split, dataset: str, attacks: list[str], n: int, **attack_options) -> dict:
    """Attack the first test images of ``split`` with every attack of ``attacks`` and keep the first
    ``n`` that the model classifies correctly and every attack fools; returns the JSON-ready record."""
    check_positive_int("n", n)
    if n > len(split):
        raise LipregError(f"n = {n} exceeds the {len(split)} images given")
    model = model.eval()
    x = split.floats().cpu()  # the attacks' results are on the CPU; logits_of runs the model where it is
    results = {name: run_attack(model, split, name, **attack_options.get(name, {})) for name in attacks}
    usable = torch.ones(len(split), dtype=torch.bool)
    for result in results.values():  # distance 0: misclassified clean (the attack driver's contract); inf: not fooled
        usable &= torch.isfinite(result.distances) & (result.distances > 0)
    chosen = usable.nonzero().flatten()[:n].tolist()
    if len(chosen) < n:
        raise LipregError(f"only {len(chosen)} of {len(split)} images are correctly classified and fooled by every attack; asked for n = {n}")
    images = []
    for i in chosen:
        entry = {"index": i, "label": int(split.y[i]), "clean": _encode(split.x[i].cpu().numpy().astype(np.uint8)), "attacks": {}}
        for name, result in results.items():
            delta = (result.adversarial[i] - x[i]).numpy().astype(np.float16)
            stored = (x[i] + torch.from_numpy(delta.astype(np.float32))).clamp(0, 1)
            predicted = int(logits_of(model, result.adversarial[i : i + 1]).argmax(1))
            entry["attacks"][name] = {"distance": float(result.distances[i]), "predicted": predicted, "delta": _encode(delta),
                                      "stored_is_adversarial": int(logits_of(model, stored[None]).argmax(1)) != int(split.y[i])}
        images.append(entry)
    return {"dataset": dataset, "shape": list(split.x.shape[1:]), "attacks": list(attacks),
            "classes": [class_name(dataset, k) for k in range(int(split.y.max()) + 1)], "images": images}


def gallery_images(record: dict) -> list[tuple[torch.Tensor, int, dict[str, tuple[torch.Tensor, int, float]]]]:
    """The stored examples as ``(clean (C,H,W) in [0,1], label, {attack: (adversarial, predicted, distance)})``."""
    shape = record["shape"]
    out = []
    for entry in record["images"]:
        clean = torch.from_numpy(_decode(entry["clean"], np.uint8, shape).astype(np.float32) / 255)
        adversarial = {name: ((clean + torch.from_numpy(_decode(a["delta"], np.float16, shape).astype(np.float32))).clamp(0, 1),
                              a["predicted"], a["distance"]) for name, a in entry["attacks"].items()}
        out.append((clean, entry["label"], adversarial))
    return out

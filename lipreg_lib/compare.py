"""Our results beside the paper's (PAPER.md §7): which Table 3 row a run corresponds to, whether the
paper's ranking by median distance holds, and whether it holds by more than the seed-to-seed spread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from statistics import mean

from .paper import RANKING, TABLE3

TABLE3_MODELS = {"allcnn": "AllCNN", "resnet34": "ResNet-34", "resnext34": "ResNeXt-34"}


def table3_key(model: str, defence: str, tanh_head: bool) -> tuple[str, str, bool] | None:
    """The :data:`TABLE3` key of one of our runs (``model`` and ``defence`` as in its config), or ``None``
    when the run is not one of Table 3's variants: Table 3 crosses {no penalty, Lipschitz penalty} ×
    {no tanh layer, tanh layer} × {no AT, 2-norm AT} on three models."""
    parts = set(defence.split("+")) - {"baseline"}
    if model not in TABLE3_MODELS or not parts <= {"lip", "at-l2"}:
        return None
    penalty = "lip" in parts
    variant = {(False, False): "baseline", (True, False): "Lipschitz penalty", (False, True): "tanh layer",
               (True, True): "tanh + Lipschitz"}[(penalty, bool(tanh_head))]
    return TABLE3_MODELS[model], variant, "at-l2" in parts


def table3_rows(runs: Iterable[Mapping]) -> list[dict]:
    """One row per run of a CIFAR-10 results table (``runs`` as in ``data/results/<grid>.json``) that is a
    Table 3 variant: our median distance and % errors at ε = 0 and 0.1 beside the paper's."""
    rows = []
    for run in runs:
        key = table3_key(run["model"], run["defence"], run["tanh_head"])
        if key is None:
            continue
        paper = TABLE3[key]
        rows.append({"model": key[0], "variant": key[1], "AT": key[2], "seed": run["seed"],
                     "ours: median": run["median_distance"], "paper: median": paper[0],
                     "ours: % err ε=0": run["error_eps0"], "paper: % err ε=0": paper[1],
                     "ours: % err ε=0.1": run["error_eps0.1"], "paper: % err ε=0.1": paper[2]})
    return rows


def ranking_pairs(values: Mapping[str, Sequence[float]], order: Sequence[str] = RANKING) -> list[dict]:
    """Check the increasing ``order`` (the paper's: baseline < AT-FGSM < AT-L2 < tanh + tulip by median
    distance) on consecutive pairs of the variants present in ``values`` (label → one value per seed).

    ``holds``: the mean over seeds increases, ``mean(a) < mean(b)``. ``separated``: the seeds' ranges
    do not overlap either, ``max(a) < min(b)``, so the order is not within the seed-to-seed noise
    (it needs at least two seeds of each; ``None`` with fewer).
    """
    present = [label for label in order if values.get(label)]
    pairs = []
    for a, b in zip(present, present[1:]):
        va, vb = list(values[a]), list(values[b])
        enough = len(va) > 1 and len(vb) > 1
        pairs.append({"lower": a, "higher": b, "mean_lower": mean(va), "mean_higher": mean(vb), "seeds": (len(va), len(vb)),
                      "holds": mean(va) < mean(vb), "separated": (max(va) < min(vb)) if enough else None})
    return pairs


def describe_pair(pair: Mapping) -> str:
    """One step of :func:`ranking_pairs` in words: ``a 1.716 < b 1.855 (seeds 2/2, separated)``; the
    verdict is ``separated``, ``within seed spread`` or ``one seed`` (too few seeds to tell)."""
    verdict = {True: "separated", False: "within seed spread", None: "one seed"}[pair["separated"]]
    return (f"{pair['lower']} {pair['mean_lower']:.3f} {'<' if pair['holds'] else '≥'} {pair['higher']} {pair['mean_higher']:.3f}"
            f" (seeds {pair['seeds'][0]}/{pair['seeds'][1]}, {verdict})")

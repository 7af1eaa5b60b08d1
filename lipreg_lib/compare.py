"""Our results beside the paper's (PAPER.md §7): which Table 3 row a run corresponds to, whether the
paper's ranking by median distance holds, and whether it holds by more than the seed-to-seed spread;
which of Table 3's directions (each defence against the baseline, AT against none) our runs share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from math import sqrt
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


def rise(errors: tuple[float, float]) -> float:
    """The rise in % error from ε = 0 to ε = 0.1, ``err(0.1) − err(0)``: the share of test images that
    are right when clean and wrong within 2-norm 0.1 (what is left to compare when clean error is high)."""
    return errors[1] - errors[0]


def table3_rows(runs: Iterable[Mapping]) -> list[dict]:
    """One row per run of a CIFAR-10 results table (``runs`` as in ``data/results/<grid>.json``) that is a
    Table 3 variant: our median distance, % errors at ε = 0 and 0.1 and their :func:`rise` beside the paper's."""
    rows = []
    for run in runs:
        key = table3_key(run["model"], run["defence"], run["tanh_head"])
        if key is None:
            continue
        paper = TABLE3[key]
        rows.append({"model": key[0], "variant": key[1], "AT": key[2], "seed": run["seed"],
                     "ours: median": run["median_distance"], "paper: median": paper[0],
                     "ours: % err ε=0": run["error_eps0"], "paper: % err ε=0": paper[1],
                     "ours: % err ε=0.1": run["error_eps0.1"], "paper: % err ε=0.1": paper[2],
                     "ours: rise in % err": rise((run["error_eps0"], run["error_eps0.1"])), "paper: rise in % err": rise(paper[1:])})
    return rows


def table3_directions(runs: Iterable[Mapping]) -> list[dict]:
    """Table 3's directions on our runs: each defence against the baseline of its model and AT column,
    and 2-norm AT against the same variant without it, compared by :func:`rise` (lower is more robust).

    ``paper Δ`` and ``ours Δ`` are the row's rise minus its reference's; ``2 s.e.`` is twice the standard
    error of ours, :math:`\\sqrt{r_1(1-r_1)/n_1 + r_2(1-r_2)/n_2}` for rises ``r`` as fractions of ``n``
    attacked images, as if the two were independent (conservative: both runs attack the same images).
    ``verdict``: ``agrees`` or ``disagrees`` (the signs of the two Δ) when ``|ours Δ|`` exceeds 2 s.e.,
    else ``within noise``. One run per Table 3 row is used (the first seed met).
    """
    ours = {}
    for run in runs:
        key = table3_key(run["model"], run["defence"], run["tanh_head"])
        if key is not None and key not in ours:
            ours[key] = run
    rows = []
    for key, run in ours.items():
        model, variant, adversarial = key
        references = ([((model, "baseline", adversarial), f"{variant} vs baseline")] if variant != "baseline" else []) + \
                     ([((model, variant, False), "AT vs none")] if adversarial else [])
        for reference, comparison in references:
            if reference not in ours:
                continue
            ours_rises = [rise((r["error_eps0"], r["error_eps0.1"])) / 100 for r in (run, ours[reference])]
            noise = 2 * sqrt(sum(r * (1 - r) / n for r, n in zip(ours_rises, (run["eval_n"], ours[reference]["eval_n"]))))
            paper_delta = rise(TABLE3[key][1:]) - rise(TABLE3[reference][1:])
            ours_delta = 100 * (ours_rises[0] - ours_rises[1])
            agree = (paper_delta < 0) == (ours_delta < 0)
            rows.append({"model": model, "row": f"{variant}{' + AT' if adversarial else ''}", "against": comparison,
                         "paper Δ rise": round(paper_delta, 2), "ours Δ rise": round(ours_delta, 2) + 0.0, "2 s.e.": round(100 * noise, 2),
                         "verdict": ("agrees" if agree else "disagrees") if abs(ours_delta) > 100 * noise else "within noise"})
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

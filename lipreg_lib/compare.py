"""Our results beside the paper's (arXiv 1810.00953, Tables 1 and 3): which Table 3 row a run corresponds to, whether the
paper's ranking by median distance holds, and whether it holds by more than the seed-to-seed spread;
which of Table 3's directions (each defence against the baseline, AT against none) our runs share; which
defences to compare at comparable clean accuracy; what a λ grid says at the paper's λ."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from math import sqrt
from statistics import mean

from .paper import COST_BOUND, COST_BOUNDED, RANKING, TABLE3
from .results import by_label, run_errors
from .validation import LipregError

#: Our model → the paper's model whose Table 3 values stand beside it. ``fast-cnn`` (the fast CPU protocol)
#: is set beside ResNet-34, the model of the paper's headline Table 3 numbers (baseline 56.0 % error at
#: ε = 0.1, tanh + Lipschitz 28.7 %); all three of the paper's models share every direction compared here.
TABLE3_MODELS = {"allcnn": "AllCNN", "resnet34": "ResNet-34", "resnext34": "ResNeXt-34", "fast-cnn": "ResNet-34"}
PENALTIES = {"lip", "lip-fd"}  # the Lipschitz penalty, double-backward or finite-difference form


def table3_key(model: str, defence: str, tanh_head: bool) -> tuple[str, str, bool] | None:
    """The :data:`TABLE3` key of one of our runs (``model`` and ``defence`` as in its config), or ``None``
    when the run is not one of Table 3's variants: Table 3 crosses {no penalty, Lipschitz penalty} ×
    {no tanh layer, tanh layer} × {no AT, 2-norm AT} on three models."""
    parts = set(defence.split("+")) - {"baseline"}
    if model not in TABLE3_MODELS or not parts <= PENALTIES | {"at-l2"} or len(parts & PENALTIES) > 1:
        return None
    penalty = bool(parts & PENALTIES)
    variant = {(False, False): "baseline", (True, False): "Lipschitz penalty", (False, True): "tanh layer",
               (True, True): "tanh + Lipschitz"}[(penalty, bool(tanh_head))]
    return TABLE3_MODELS[model], variant, "at-l2" in parts


def _by_key(runs: Iterable[Mapping]) -> dict[tuple[str, str, bool], list[Mapping]]:
    groups: dict[tuple[str, str, bool], list[Mapping]] = {}
    for run in runs:
        key = table3_key(run["model"], run["defence"], run["tanh_head"])
        if key is not None:
            groups.setdefault(key, []).append(run)
    return groups


def table3_rows(runs: Iterable[Mapping]) -> list[dict]:
    """One row per Table 3 variant among ``runs`` (as in ``data/results/<grid>.json``): our median distance
    and % errors at ε = 0 and 0.1 (means over seeds, :func:`run_errors`) beside the paper's."""
    rows = []
    for key, group in _by_key(runs).items():
        paper = TABLE3[key]
        errors = [run_errors(run) for run in group]
        rows.append({"paper model": key[0], "variant": key[1], "AT": key[2], "seeds": len(group),
                     "ours: median": mean(r["median_distance"] for r in group), "paper: median": paper[0],
                     "ours: % err ε=0": mean(e[0] for e in errors), "paper: % err ε=0": paper[1],
                     "ours: % err ε=0.1": mean(e[1] for e in errors), "paper: % err ε=0.1": paper[2]})
    return rows


def seed_variance(groups: Iterable[Sequence[float]]) -> float:
    r"""The pooled within-variant variance of values (one per seed) over the variants that have several
    seeds: :math:`s_p^2 = \sum_g \sum_i (v_{gi} - \bar v_g)^2 / \sum_g (k_g - 1)`; 0 when none has two."""
    groups = [list(g) for g in groups if len(g) > 1]
    dof = sum(len(g) - 1 for g in groups)
    return sum(sum((v - mean(g)) ** 2 for v in g) for g in groups) / dof if dof else 0.0


def table3_directions(runs: Iterable[Mapping]) -> list[dict]:
    """Table 3's directions on our runs, by the % error at ε = 0.1 (:func:`run_errors`; lower is more robust):
    each defence against the baseline of its model and AT column, and 2-norm AT against the same variant
    without it. In the paper every one of these lowers the error.

    ``ours Δ`` is the difference of the means over seeds. Its standard error adds two parts: training noise,
    the pooled seed variance :func:`seed_variance` times ``1/k₁ + 1/k₂`` (``k`` seeds), and test-set noise,
    ``Σ p(1−p)/N`` for error fractions ``p`` on ``N`` images. Every seed of every variant is scored on the same
    ``N`` images, so averaging seeds does not shrink the test term (no ``1/k``); adding the two variants' terms
    treats them as independent, which overstates the noise when they share hard images (a conservative test). ``verdict``: ``agrees`` or
    ``disagrees`` (the signs of the paper's Δ and ours) when ``|ours Δ|`` exceeds 2 s.e., else ``within noise``.
    ``kind``: what the row compares, ``adversarial training`` (AT against none), ``defence alone`` (against the
    baseline, without AT) or ``defence on AT`` (against the baseline with AT). ``seed s.d.``: the pooled
    training noise ``s_p`` in points, the same on every row.
    """
    groups = _by_key(runs)
    errors = {key: [run_errors(run) for run in group] for key, group in groups.items()}
    training = seed_variance([[e[1] / 100 for e in values] for values in errors.values()])
    rows = []
    for key, values in errors.items():
        model, variant, adversarial = key
        references = ([((model, "baseline", adversarial), f"{variant} vs baseline")] if variant != "baseline" else []) + \
                     ([((model, variant, False), "AT vs none")] if adversarial else [])
        for reference, comparison in references:
            if reference not in errors:
                continue
            pair = (values, errors[reference])
            means = [mean(e[1] for e in side) / 100 for side in pair]
            variance = sum(training / len(side) + p * (1 - p) / mean(e[2] for e in side) for p, side in zip(means, pair))
            ours_delta, noise = 100 * (means[0] - means[1]), 200 * sqrt(variance)
            paper_delta = TABLE3[key][2] - TABLE3[reference][2]
            agree = (paper_delta < 0) == (ours_delta < 0)
            kind = "adversarial training" if comparison == "AT vs none" else "defence on AT" if adversarial else "defence alone"
            rows.append({"paper model": model, "row": f"{variant}{' + AT' if adversarial else ''}", "against": comparison, "kind": kind,
                         "seeds": f"{len(values)}/{len(errors[reference])}",
                         "paper Δ % err ε=0.1": round(paper_delta, 2), "ours Δ % err ε=0.1": round(ours_delta, 2) + 0.0,
                         "2 s.e.": round(noise, 2), "seed s.d.": round(100 * sqrt(training), 3), "verdict": ("agrees" if agree else "disagrees") if abs(ours_delta) > noise else "within noise"})
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


def lambda_trade(runs: Iterable[Mapping], paper_lam: float, clear: float | None = None) -> dict:
    """Median distance and clean error against λ in a λ grid (``runs`` differ in ``lam`` and ``seed``; λ = 0
    among them), in the authors' convention of eq. 12 (penalty λ·max‖∇ℓ‖/B, arXiv 1810.00953 §4.1).

    Per λ: ``median`` and ``error`` (clean test error, %) as means over seeds, and each seed's values.
    At ``paper_lam``, against λ = 0 of the same seed: ``changes`` (the median's change in %, one per seed)
    and ``error changes`` (clean error, points); ``change`` and ``error change`` are their means.
    ``moves``: per λ, the mean median's change against λ = 0's, ``100 (m̄_λ / m̄₀ − 1)`` in %. ``spread``: how
    much the seeds' medians at λ = 0 differ, ``100 (max/min − 1)`` in % (0 with one seed). ``noise`` (``None``
    when no λ has two seeds): two standard errors of the difference between two λ's mean medians, in % of
    λ = 0's mean median m̄₀, ``200 s_p √(2/k) / m̄₀``, with ``s_p²`` the seeds' variance of the median pooled over
    every λ (:func:`seed_variance`) and ``k`` the fewest seeds at any λ (the larger noise where they differ):
    a move smaller than this is within the seed-to-seed noise. ``onset``: the smallest λ > 0 from which every
    move is above ``clear`` (a fraction, 0.05 for 5 %; ``None``, the default: above the noise), ``None`` if
    none is or there is no noise to clear. ``best``: the λ with the largest mean median.
    """
    groups: dict[float, dict[int, Mapping]] = {}
    for run in runs:
        groups.setdefault(float(run["lam"]), {})[int(run["seed"])] = run
    if 0.0 not in groups or paper_lam not in groups:
        raise LipregError(f"a λ grid needs λ = 0 and the paper's λ = {paper_lam:g}; it has λ = {sorted(groups)}")
    lams = sorted(groups)
    median = {lam: [groups[lam][s]["median_distance"] for s in sorted(groups[lam])] for lam in lams}
    error = {lam: [groups[lam][s]["test_error"] for s in sorted(groups[lam])] for lam in lams}
    paired = sorted(set(groups[0.0]) & set(groups[paper_lam]))
    changes = [100 * (groups[paper_lam][s]["median_distance"] / groups[0.0][s]["median_distance"] - 1) for s in paired]
    error_changes = [groups[paper_lam][s]["test_error"] - groups[0.0][s]["test_error"] for s in paired]
    means = {lam: mean(median[lam]) for lam in lams}
    fewest = min(len(values) for values in median.values())
    several = any(len(values) > 1 for values in median.values())
    noise = 200 * sqrt(seed_variance(median.values()) * 2 / fewest) / means[0.0] if several else None
    moves = {lam: 100 * (means[lam] / means[0.0] - 1) for lam in lams}
    threshold = noise if clear is None else 100 * clear
    penalised = [lam for lam in lams if lam > 0]
    onset = None if threshold is None else next(
        (lam for i, lam in enumerate(penalised) if all(moves[later] > threshold for later in penalised[i:])), None)
    return {"lams": lams, "median": [means[lam] for lam in lams], "error": [mean(error[lam]) for lam in lams],
            "median seeds": [median[lam] for lam in lams], "error seeds": [error[lam] for lam in lams],
            "seeds": sorted({s for g in groups.values() for s in g}), "changes": changes, "error changes": error_changes,
            "change": mean(changes), "error change": mean(error_changes), "moves": [moves[lam] for lam in lams],
            "spread": 100 * (max(median[0.0]) / min(median[0.0]) - 1), "noise": noise, "onset": onset,
            "best": max(penalised, key=means.get)}


COST_VARIANTS = {  # id: (label, defence spec, tanh head): what benchmarks/defence_cost.py measures
    "baseline": ("baseline", "baseline", False),
    "tanh": ("tanh head", "baseline", True),
    "at-fgsm": ("AT-FGSM", "at-fgsm", False),
    "at-l2": ("AT-L2", "at-l2", False),
    "lip": ("Lipschitz penalty", "lip", False),
    "lip-fd": ("Lipschitz penalty, finite diff. (lip-fd)", "lip-fd", False),
    "gradnorm": ("gradient norm", "gradnorm", False),
    "fd": ("finite difference (fd)", "fd", False),
    "tulip": ("tulip", "tulip", False),
    "tulip-fd": ("tulip, finite diff. (tulip-fd)", "tulip-fd", False),
    "tanh+tulip": ("tanh + tulip", "tulip", True),
}


def cost_rows(benchmarks: Iterable[Mapping]) -> list[dict]:
    """One row per model × precision × defence of ``benchmarks/defence_cost.py`` records, with where it
    ran, its step-time ratio to the baseline of the same run, and whether that meets the paper's
    bound of :data:`COST_BOUND` × (for the defences it covers; ``None`` for the others)."""
    rows = []
    for record in benchmarks:
        where, settings = record["provenance"]["device"], record["settings"]
        autotuned = settings["cudnn_benchmark"] if "cuda" in settings["device"] else None
        for row in record["rows"]:
            variant = row["id"]
            if variant == "baseline":
                continue
            bounded = variant in COST_BOUNDED
            rows.append({"device": where, "model": row["model"], "precision": row["precision"],
                         "batch": settings["batch"], "cudnn_benchmark": autotuned, "defence": row["variant"], "id": variant,
                         "ms_per_step": 1000 * row["seconds"], "time_ratio": row["time_ratio"],
                         "within_paper_bound": row["time_ratio"] <= COST_BOUND if bounded else None})
    return rows


def accuracy_robustness(runs: Iterable[Mapping]) -> dict[str, dict]:
    """Per variant label (seeds averaged): ``test_error`` (% clean error), ``median_distance`` (median
    minimal PGD-L2 distance) and ``seeds``: the two numbers a defence trades against each other."""
    return {label: {"test_error": mean(r["test_error"] for r in group),
                    "median_distance": mean(r["median_distance"] for r in group), "seeds": len(group)}
            for label, group in by_label(runs).items()}


def comparable_accuracy(points: Mapping[str, Mapping], tolerance: float, reference: str = "baseline") -> list[str]:
    """Labels whose clean error is at most ``tolerance`` percentage points above ``reference``'s, the
    most robust (largest median distance) first: the defences one may rank by robustness alone."""
    limit = points[reference]["test_error"] + tolerance
    return sorted((label for label, p in points.items() if p["test_error"] <= limit), key=lambda label: -points[label]["median_distance"])


def pareto_front(points: Mapping[str, Mapping]) -> list[str]:
    """Labels no other variant dominates (at most its clean error and at least its median distance, one
    of them strictly), in order of clean error: the accuracy–robustness trade-offs worth choosing between."""
    def dominates(a: Mapping, b: Mapping) -> bool:
        return (a["test_error"] <= b["test_error"] and a["median_distance"] >= b["median_distance"]
                and (a["test_error"] < b["test_error"] or a["median_distance"] > b["median_distance"]))

    front = [label for label, p in points.items() if not any(dominates(q, p) for other, q in points.items() if other != label)]
    return sorted(front, key=lambda label: points[label]["test_error"])

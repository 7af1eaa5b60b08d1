"""Run-level evaluation, above training and the metrics: ``eval.json`` beside a run holds, per attack,
per-image distances, their summary, and the clean metrics and stability statistics of the same
images; errors at fixed budgets on their own image counts.

Every stored number says what it was computed on (``n`` images: the first ``n`` of the run's test
split, the attack's settings, provenance), and :func:`entry_matches` tells a caller whether a stored
entry answers its request, so nothing is reused for a request it does not answer.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from .attacks import ATTACKS, check_attack, get_attack, run_attack
from .evaluate.budget import error_at_budget
from .evaluate.clean import clean_metrics
from .evaluate.curves import summary
from .evaluate.masking import masking_check
from .evaluate.stability import stability_statistics
from .locks import run_lock
from .results import distances
from .runio import provenance, resolve_device, write_json
from .train import load_run
from .validation import LipregError, check_positive, check_positive_int

EVAL_JSON = "eval.json"
EVAL_LOCK = ".eval.lock"


def entry_matches(entry: dict | None, n: int | None, steps: int | None) -> bool:
    """Whether a stored attack entry was made on the first ``n`` test images (all when ``None``) with
    ``steps`` attack steps (any when ``None``), and holds the clean and stability numbers of those images."""
    if entry is None or "stability" not in entry or "clean" not in entry:
        return False
    same_images = entry.get("requested_n", entry["n"]) == n and entry["stability"].get("n") == entry["n"]
    return same_images and (steps is None or entry["settings"].get("steps") == steps)


def budget_matches(entry: dict | None, n: int | None, steps: int | None, test_size: int) -> bool:
    """Whether a stored fixed-budget error was made on ``n`` images (``None``: the whole test split of
    ``test_size``) with ``steps`` steps."""
    return entry is not None and entry["n"] == (n or test_size) and (steps is None or entry["steps"] == steps)


def check_budgets(attack: str, budgets, budget_n: int | None) -> tuple[float, ...]:
    """The fixed budgets ε as floats, checked: each > 0, an iterative attack to measure them, and
    ``budget_n`` only with budgets to measure (alone it would be silently ignored)."""
    budgets = tuple(check_positive("budget ε", eps) for eps in budgets)
    if budget_n is not None:
        check_positive_int("budget_n", budget_n)
        if not budgets:
            raise LipregError(f"budget_n = {budget_n} is given without budgets to measure (--budgets / evaluate.budgets)")
    if budgets and attack not in ATTACKS:
        raise LipregError(f"fixed budgets need one of the iterative attacks ({', '.join(ATTACKS)}), got {attack!r}")
    return budgets


def check_image_counts(counts: dict[str, int | None], available: int, where: str) -> None:
    """Each count of test images to attack (``None``: all of them) is at most the ``available`` ones."""
    for name, count in counts.items():
        if count is not None and count > available:
            raise LipregError(f"{name} = {count} exceeds {where}")


def evaluate_run(run_dir: Path | str, attack: str = "pgd-l2", n: int | None = None, *, data_dir: Path | str | None = None,
                 device: str = "auto", steps: int | None = None, batch_size: int = 500, budgets: tuple[float, ...] = (),
                 budget_n: int | None = None, progress: bool = False) -> dict:
    """Attack the first ``n`` test images (all by default) of the run in ``run_dir`` for minimal
    distances, and, for each ε in ``budgets``, measure the error under the same attack at that budget
    on the first ``budget_n`` images (all by default). Merge both into ``eval.json`` under the run's
    lock (other attacks and budgets already there are kept). Returns the attack's entry."""
    check_attack(attack, steps)
    if n is not None:
        check_positive_int("n", n)
    budgets = check_budgets(attack, budgets, budget_n)
    run_dir = Path(run_dir)
    model, dataset, config = load_run(run_dir, device, data_dir)
    torch_device = resolve_device(device)
    full = dataset.test.subset(config.test_subset, config.seed)
    check_image_counts({"n": n, "budget_n": budget_n}, len(full), f"the run's {len(full)} test images")
    test = full.head(n).to(torch_device)
    started = time.perf_counter()
    result = run_attack(model, test, attack, steps=steps, batch_size=batch_size, progress=progress)
    seconds = time.perf_counter() - started
    entry = {"attack": result.attack, **summary(result.distances), "settings": result.settings, "requested_n": n,
             "images": f"the first {len(test)} of the run's test split", "seconds": seconds,
             "distances": [d if math.isfinite(d) else None for d in result.distances.tolist()],
             "clean": {**clean_metrics(model, test), "n": len(test)}, "stability": {**stability_statistics(model, test), "n": len(test)},
             "provenance": provenance(torch_device)}
    fixed = {}
    if budgets:
        chosen = get_attack(attack, steps=steps)
        images = full.head(budget_n).to(torch_device)
        for eps in budgets:
            fixed[str(float(eps))] = {"error": error_at_budget(model, images, chosen, eps, batch_size, progress), "n": len(images),
                                      "steps": chosen.steps, "provenance": provenance(torch_device)}
    path = run_dir / EVAL_JSON
    with run_lock(run_dir, name=EVAL_LOCK):
        report = json.loads(path.read_text()) if path.exists() else {"run": config.to_dict(), "attacks": {}}
        report.pop("clean", None), report.pop("stability", None)  # written by earlier versions for the last n only
        report["attacks"][attack] = entry
        report.setdefault("budgets", {}).setdefault(attack, {}).update(fixed)
        write_json(path, report)
    return entry


def masking_matches(entry: dict | None, n: int, black: str, steps: int) -> bool:
    """Whether a stored masking check was made on ``n`` images with the ``black`` attack of ``steps`` steps."""
    return entry is not None and (entry["n"], entry["black"], entry["black_steps"]) == (n, black, steps)


def check_masking_run(run_dir: Path | str, attack: str = "pgd-l2", n: int = 100, *, black: str = "boundary", steps: int = 1000,
                      data_dir: Path | str | None = None, device: str = "auto") -> dict:
    """:func:`~lipreg_lib.evaluate.masking.masking_check` on the first ``n`` test images of a run, reusing the
    white-box distances of its ``eval.json`` entry for ``attack`` (which must cover at least ``n`` images);
    stored in ``eval.json`` under ``masking``/``attack``."""
    check_positive_int("masking n", n)
    run_dir = Path(run_dir)
    path = run_dir / EVAL_JSON
    entry = json.loads(path.read_text())["attacks"].get(attack) if path.exists() else None
    if entry is None or entry["n"] < n:
        stored = f"it has one of {entry['n']}" if entry else "it has none"
        raise LipregError(f"the masking check of {str(run_dir)!r} needs a {attack} evaluation of at least {n} images first ({stored})")
    model, dataset, config = load_run(run_dir, device, data_dir)
    test = dataset.test.subset(config.test_subset, config.seed).head(n).to(resolve_device(device))
    white = distances(entry)[:n]
    result = {**masking_check(model, test, white=attack, black=black, black_steps=steps, white_distances=white),
              "provenance": provenance(resolve_device(device))}
    with run_lock(run_dir, name=EVAL_LOCK):
        report = json.loads(path.read_text())
        report.setdefault("masking", {})[attack] = result
        write_json(path, report)
    return result

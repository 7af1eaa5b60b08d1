"""Resumable sweeps over a grid of training configurations, ending in one tidy results table.

A grid file (YAML, or TOML by extension ``.toml``)::

    name: mnist                      # results go to <results>/<name>.csv and <name>.json
    base: {dataset: mnist, model: small-cnn, epochs: 2, eps: 0.1, lam: 0.1}
    protocol: "why these settings"   # free text, copied into the results
    evaluate: {attack: pgd-l2, n: null, steps: 10, budgets: [0.1], budget_n: null}
    runs:                            # explicit variants (each merged over base) ...
      - {defence: baseline}
      - {defence: tulip, tanh_head: true, label: "tanh + tulip"}
    grid: {lam: [0, 0.1, 1]}         # ... and/or a Cartesian product over these options
    seeds: [0, 1]                    # every variant for each seed (default [base seed]); a run may
                                     # name its own seeds: {defence: baseline, seeds: [0, 1, 2]}

Each variant trains into ``<runs>/<name>/<variant>/`` (``run.json``, ``checkpoint.pt``, then
``eval.json``). A finished run is skipped, an interrupted one resumed, an evaluation already in
``eval.json`` reused if it was made on the grid's ``n`` images with its ``steps`` (else redone), so
running the same command again continues where it stopped. ``evaluate.budgets`` adds the error under
the attack at each fixed ε on the first ``budget_n`` test images (all by default); ``evaluate.masking``
(``{n, black, steps}``) adds the gradient-masking check of :mod:`lipreg_lib.evaluate.masking`. A grid may start
from a recipe (``base: {recipe: fast, ...}``). Two sweeps over the same folders never train a run twice:
each run folder is locked while it trains.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import multiprocessing
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
import yaml

from .attacks import BLACK_BOX_ATTACKS, check_attack
from .data import load_dataset
from .reports import EVAL_JSON, budget_matches, check_budgets, check_image_counts, check_masking_run, entry_matches, evaluate_run, masking_matches
from .locks import RunLocked, run_lock
from .results import SCHEMA, TABLE_COLUMNS, percent_error
from .runio import atomic_write, provenance, resolve_device, write_json
from .train import RUN_JSON, TrainConfig, check_fits, config_differences, train
from .validation import LipregError, check_choice, check_positive_int, check_writable_folder


def load_grid(path: Path | str) -> dict:
    """Read and check a grid file; errors name the file and the problem."""
    path = Path(path)
    if path.is_dir():
        raise LipregError(f"grid file {str(path)!r} is a folder, not a grid file")
    if not path.is_file():
        raise LipregError(f"grid file {str(path)!r} does not exist")
    text = path.read_text()
    if path.suffix == ".toml" and sys.version_info < (3, 11):
        raise LipregError(f"grid file {str(path)!r}: TOML grids need Python >= 3.11 (tomllib); write the grid in YAML")
    try:
        if path.suffix == ".toml":
            import tomllib

            grid = tomllib.loads(text)
        else:
            grid = yaml.safe_load(text)
    except Exception as error:
        raise LipregError(f"grid file {str(path)!r} is not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {error}") from None
    if not isinstance(grid, dict) or "name" not in grid or not ({"runs", "grid"} & set(grid)):
        raise LipregError(f"grid file {str(path)!r} needs a 'name' and 'runs' and/or 'grid'")
    unknown = set(grid) - {"name", "base", "protocol", "evaluate", "runs", "grid", "seeds"}
    if unknown:
        raise LipregError(f"grid file {str(path)!r}: unknown keys {sorted(unknown)}")
    problem = _structure_problem(grid)
    if problem:
        raise LipregError(f"grid file {str(path)!r}: {problem}")
    return grid


def _structure_problem(grid: dict) -> str | None:
    """What is wrong with the shape of a grid (the values are checked by :class:`TrainConfig`), or ``None``."""
    def is_seeds(value) -> bool:
        return isinstance(value, list) and bool(value) and all(isinstance(s, int) and not isinstance(s, bool) for s in value)

    name = grid["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        return f"'name' must be a file name of letters, digits, '.', '_' and '-' (it names the results), got {name!r}"
    if not isinstance(grid.get("base", {}), dict):
        return f"'base' must be a mapping of training options, got {grid['base']!r}"
    if not isinstance(grid.get("protocol", ""), str):
        return f"'protocol' must be text, got {grid['protocol']!r}"
    runs = grid.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
        return f"'runs' must be a list of mappings of training options, got {runs!r}"
    for run in runs:
        if not isinstance(run.get("label", ""), str):
            return f"a run's 'label' must be text, got {run['label']!r}"
        if "seeds" in run and not is_seeds(run["seeds"]):
            return f"a run's 'seeds' must be a list of integers, got {run['seeds']!r}"
    product = grid.get("grid", {})
    if not isinstance(product, dict) or not all(isinstance(v, list) and v for v in product.values()):
        return f"'grid' must map training options to non-empty lists of values, got {product!r}"
    if not runs and not product:
        return "'runs' and 'grid' name no run"
    if "seeds" in grid and not is_seeds(grid["seeds"]):
        return f"'seeds' must be a list of integers, got {grid['seeds']!r}"
    return None


def variants(grid: dict) -> list[tuple[str, TrainConfig]]:
    """``(label, config)`` for every variant and seed of ``grid``, configs validated up front (an error
    names the grid, the run's label and its seed)."""
    base = dict(grid.get("base", {}))
    explicit = [dict(run) for run in grid.get("runs", [])]
    product = grid.get("grid", {})
    combos = [dict(zip(product, values)) for values in itertools.product(*product.values())] if product else []
    seeds = grid.get("seeds", [base.get("seed", 0)])
    out = []
    for overrides in explicit + combos:
        label = overrides.pop("label", None) or ",".join(f"{k}={v}" for k, v in overrides.items()) or "base"
        for seed in overrides.pop("seeds", seeds):
            try:
                out.append((label, TrainConfig.from_dict({**base, **overrides, "seed": seed})))
            except LipregError as error:
                raise LipregError(f"grid {grid.get('name')!r}, run {label!r} (seed {seed}): {error}") from None
    return out


def _folder(label: str, seed: int) -> str:
    return re.sub(r"[^A-Za-z0-9.=,+-]+", "_", label) + f"-seed{seed}"


def check_distinct_folders(runs: list[tuple[str, int]]) -> None:
    """Every ``(label, seed)`` of a grid must get a run folder of its own: labels that differ only in
    characters a folder name cannot hold (``'λ = 1'`` and ``'μ = 1'``), or a label given twice, would
    share one, and the second would silently reuse the first's results."""
    owners: dict[str, list[str]] = {}
    for label, seed in runs:
        owners.setdefault(_folder(label, seed), []).append(f"{label!r} (seed {seed})")
    clashes = {folder: names for folder, names in owners.items() if len(names) > 1}
    if clashes:
        detail = "; ".join(f"{' and '.join(names)} -> {folder!r}" for folder, names in clashes.items())
        raise LipregError(f"runs of the grid would share a run folder: {detail}; give them distinct labels")


EVALUATE_KEYS = {"attack": "pgd-l2", "n": None, "steps": None, "budgets": [], "budget_n": None, "masking": None}
MASKING_KEYS = {"n": 100, "black": "boundary", "steps": 1000}


def evaluation_settings(grid: dict) -> dict:
    """The grid's ``evaluate:`` block over its defaults, every key and value checked before any work."""
    given = grid.get("evaluate", {}) or {}
    if not isinstance(given, dict):
        raise LipregError(f"'evaluate' must be a mapping of {sorted(EVALUATE_KEYS)}, got {given!r}")
    unknown = sorted(set(given) - set(EVALUATE_KEYS))
    if unknown:
        raise LipregError(f"unknown keys {unknown} in 'evaluate'; known: {sorted(EVALUATE_KEYS)}")
    settings = {**EVALUATE_KEYS, **given}
    for key in ("n", "steps", "budget_n"):
        if settings[key] is not None:
            check_positive_int(f"evaluate.{key}", settings[key])
    check_attack(settings["attack"], settings["steps"])   # a one-step attack refuses evaluate.steps > 1
    if not isinstance(settings["budgets"], list):
        raise LipregError(f"evaluate.budgets must be a list of ε, got {settings['budgets']!r}")
    settings["budgets"] = list(check_budgets(settings["attack"], settings["budgets"], settings["budget_n"]))
    if settings["masking"] is not None:
        if not isinstance(settings["masking"], dict) or set(settings["masking"]) - set(MASKING_KEYS):
            raise LipregError(f"evaluate.masking must be a mapping with keys among {sorted(MASKING_KEYS)}, got {settings['masking']!r}")
        settings["masking"] = {**MASKING_KEYS, **settings["masking"]}
        check_positive_int("evaluate.masking.n", settings["masking"]["n"])
        check_positive_int("evaluate.masking.steps", settings["masking"]["steps"])
        check_choice("black-box attack", settings["masking"]["black"], BLACK_BOX_ATTACKS)
        if settings["n"] is not None and settings["n"] < settings["masking"]["n"]:
            raise LipregError(f"evaluate.masking.n = {settings['masking']['n']} exceeds evaluate.n = {settings['n']}")
    return settings


def check_data(configs: list[TrainConfig], evaluation: dict, data_dir) -> None:
    """Before any training: every data set of the grid loads, each run's subsets fit in it, and its test
    split holds the images the evaluation attacks (``n``, ``budget_n``, the masking check's ``n``)."""
    datasets: dict = {}
    counts = {"evaluate.n": evaluation["n"], "evaluate.budget_n": evaluation["budget_n"],
              "evaluate.masking.n": (evaluation["masking"] or {}).get("n")}
    for config in configs:
        if config.dataset not in datasets:
            datasets[config.dataset] = load_dataset(config.dataset, data_dir)
        dataset = datasets[config.dataset]
        check_fits(config, dataset)
        test_size = config.test_subset or len(dataset.test)
        check_image_counts(counts, test_size, f"the {test_size} test images of {config.dataset!r}")


def run_variant(folder: Path, config: TrainConfig, evaluation: dict, *, data_dir, device: str, progress: bool,
                evaluate: bool = True) -> None:
    """Train (or resume, or skip when finished) and, if ``evaluate``, evaluate one variant in ``folder``.
    Another process working on the same folder is waited for, then its work is reused: a run is never
    trained twice."""
    while not _finished(folder):
        try:
            print(f"[sweep] training {folder}", flush=True)
            result = train(config, folder, data_dir=data_dir, device=device, resume=True, progress=progress)
            print(f"[sweep] trained {folder}: {result.epochs_run} epochs", flush=True)
        except RunLocked:
            print(f"[sweep] {folder} is being trained by another process; waiting for it", flush=True)
            with run_lock(folder):
                pass
    if not evaluate:
        return
    attacked, checked = _evaluated(folder, evaluation)
    if not attacked:
        print(f"[sweep] evaluating {folder} with {evaluation['attack']}", flush=True)
        evaluate_run(folder, evaluation["attack"], evaluation["n"], data_dir=data_dir, device=device, steps=evaluation["steps"],
                     budgets=tuple(evaluation["budgets"]), budget_n=evaluation["budget_n"], progress=progress)
    masking = evaluation["masking"]
    if not checked:
        print(f"[sweep] checking {folder} for gradient masking ({masking['black']}, {masking['steps']} steps)", flush=True)
        check_masking_run(folder, evaluation["attack"], data_dir=data_dir, device=device, **masking)


def _finished(folder: Path) -> bool:
    record = folder / RUN_JSON
    return record.exists() and json.loads(record.read_text()).get("status") == "finished"


def check_folder_holds(folder: Path, config: TrainConfig) -> None:
    """A run folder already written must hold this very configuration (options missing from an older
    record count as their defaults); otherwise its results would be reused for another run."""
    record = folder / RUN_JSON
    if not record.exists():
        return
    differ = config_differences(json.loads(record.read_text())["config"], config.to_dict(), TrainConfig().to_dict())
    if differ:
        detail = ", ".join(f"{k}: folder {a!r} vs grid {b!r}" for k, (a, b) in differ.items())
        raise LipregError(f"run folder {str(folder)!r} holds a different run ({detail}); move it away or change the grid's runs dir")


def _report(folder: Path) -> dict:
    path = folder / EVAL_JSON
    return json.loads(path.read_text()) if path.exists() else {"attacks": {}}


def _run_variant_in_child(folder: Path, config: TrainConfig, evaluation: dict, data_dir, device: str, threads: int,
                          evaluate: bool) -> None:
    torch.set_num_threads(threads)
    run_variant(folder, config, evaluation, data_dir=data_dir, device=device, progress=False, evaluate=evaluate)


def run_sweep(grid_path: Path | str, runs_dir: Path | str = "runs", results_dir: Path | str = "results", *,
              data_dir: Path | str | None = None, device: str = "auto", progress: bool = True, jobs: int = 1,
              collect: bool = False, train_only: bool = False) -> list[dict]:
    """Train and evaluate every variant of the grid (resumably), then write the results table.

    ``collect`` trains and evaluates nothing: it writes the table of the variants already finished and
    evaluated as the grid asks, and lists the others under ``missing`` (a partial table says so).
    ``train_only`` trains every variant and evaluates none, then writes the same partial table: train
    where there are cores, evaluate later where the attacks are fast (a GPU) with a plain sweep.

    ``jobs > 1`` runs that many variants at once, each in its own process with ``cores / jobs`` threads
    (on a GPU, several small trainings side by side use it better than one). Everything in the grid
    (every option of every variant, the evaluation block, the folders) is checked before any work starts.
    """
    check_positive_int("jobs", jobs)
    grid = load_grid(grid_path)
    evaluation = evaluation_settings(grid)
    expanded = variants(grid)
    resolve_device(device)
    root = Path(runs_dir) / grid["name"]
    for folder in (root, Path(results_dir)):
        check_writable_folder(folder)
    work = [(root / _folder(label, config.seed), config) for label, config in expanded]
    check_distinct_folders([(label, config.seed) for label, config in expanded])
    for folder, config in work:
        check_folder_holds(folder, config)
    if not collect:  # the runs still to train or evaluate
        check_data([config for folder, config in work if not _complete(folder, evaluation)], evaluation, data_dir)
    order = sorted(range(len(work)), key=lambda i: work[i][1].seed != expanded[0][1].seed)  # first seed of every variant first
    if collect:
        pass
    elif jobs == 1:
        for folder, config in (work[i] for i in order):
            run_variant(folder, config, evaluation, data_dir=data_dir, device=device, progress=progress, evaluate=not train_only)
    else:
        threads = max(1, torch.get_num_threads() // jobs)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(_run_variant_in_child, *work[i], evaluation, data_dir, device, threads, not train_only) for i in order]
            for future in futures:
                future.result()
    rows, missing = [], []
    for (label, config), (folder, _) in zip(expanded, work):
        if _complete(folder, evaluation):
            rows.append(_row(label, config, folder, json.loads((folder / RUN_JSON).read_text()), _report(folder), evaluation))
        else:
            missing.append({"label": label, "seed": config.seed})
    if missing and not (collect or train_only):
        raise LipregError(f"{len(missing)} runs of {grid['name']!r} are not finished: {missing}")
    _write_results(grid, evaluation, rows, Path(results_dir), resolve_device(device), missing)
    return rows


def _evaluated(folder: Path, evaluation: dict) -> tuple[bool, bool]:
    """``(attacked, checked)`` for a trained run: whether its ``eval.json`` holds the attack entry and the
    fixed-budget errors the grid asks for, and whether it holds the masking check asked for (or none is)."""
    report = _report(folder)
    attack = evaluation["attack"]
    test_size = json.loads((folder / RUN_JSON).read_text())["dataset"]["test_size"]
    budgets = report.get("budgets", {}).get(attack, {})
    masking = evaluation["masking"]
    attacked = (entry_matches(report["attacks"].get(attack), evaluation["n"], evaluation["steps"])
                and all(budget_matches(budgets.get(str(eps)), evaluation["budget_n"], evaluation["steps"], test_size)
                        for eps in evaluation["budgets"]))
    return attacked, not masking or masking_matches(report.get("masking", {}).get(attack), **masking)


def _complete(folder: Path, evaluation: dict) -> bool:
    """Whether a variant is trained and evaluated as the grid asks."""
    return _finished(folder) and all(_evaluated(folder, evaluation))


def _row(label: str, config: TrainConfig, folder: Path, record: dict, report: dict, evaluation: dict) -> dict:
    entry = report["attacks"][evaluation["attack"]]
    budgets = report.get("budgets", {}).get(evaluation["attack"], {})
    epochs = record["epochs"]
    row = {
        "label": label, "seed": config.seed, "dataset": config.dataset, "model": config.model, "defence": record["defence"],
        "tanh_head": config.tanh_head, "eps": config.eps, "lam": config.lam, "epochs": config.epochs, "train_subset": config.train_subset,
        "test_error": percent_error(epochs[-1]["test_accuracy"]), "error_eps0": entry["error_eps0"], "error_eps0.1": entry["error_eps0.1"],
        "median_distance": entry["median_distance"], "not_found": entry["not_found"],
        "max_loss_gradient": entry["stability"]["max_loss_gradient"],
        "max_loss_gradient_per_example": entry["stability"]["max_loss_gradient_per_example"],
        "max_jacobian_norm": entry["stability"]["max_jacobian_norm"],
        "epoch_seconds": sum(e["seconds"] for e in epochs) / len(epochs), "train_seconds": sum(e["seconds"] for e in epochs),
        "eval_n": entry["n"], "run": str(folder), "distances": entry["distances"],
        "provenance": {"training": record["provenance"], "evaluation": entry["provenance"]},
    }
    if evaluation["masking"]:
        check = report["masking"][evaluation["attack"]]
        row.update({"masking": check["verdict"], "masking_failure_share": check["failure_share"],
                    "masking_ratio": check["median_black_over_white"], "masking_n": check["n"]})
    for eps in evaluation["budgets"]:
        fixed = budgets[str(eps)]
        row[f"budget_error_eps{eps}"] = fixed["error"]
        row["budget_n"] = fixed["n"]
    return row


def _write_results(grid: dict, evaluation: dict, rows: list[dict], results_dir: Path, device, missing: list[dict]) -> None:
    """``<name>.csv`` (one row per run) and ``<name>.json`` (the grid, protocol, provenance of the table and of
    each run's training and evaluation, per-image distances)."""
    origin = provenance(device)  # before writing: the commit the results came from
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TABLE_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(results_dir / f"{grid['name']}.csv", lambda stream: stream.write(buffer.getvalue().encode()))
    rounded = [{**row, "distances": [None if d is None else round(d, 5) for d in row["distances"]]} for row in rows]
    write_json(results_dir / f"{grid['name']}.json", {"schema": SCHEMA, "grid": grid, "evaluation": evaluation, "provenance": origin, "runs": rounded,
                                                       "missing": missing})

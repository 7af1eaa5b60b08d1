"""Resumable sweeps over a grid of training configurations, ending in one tidy results table.

A grid file (YAML, or TOML by extension ``.toml``)::

    name: mnist                      # results go to <results>/<name>.csv and <name>.json
    base: {dataset: mnist, model: small-cnn, epochs: 2, eps: 0.1, lam: 0.1}
    protocol: "why these settings"   # free text, copied into the results
    evaluate: {attack: pgd-l2, n: null, steps: 10}
    runs:                            # explicit variants (each merged over base) ...
      - {defence: baseline}
      - {defence: tulip, tanh_head: true, label: "tanh + tulip"}
    grid: {lam: [0, 0.1, 1]}         # ... and/or a Cartesian product over these options
    seeds: [0, 1]                    # every variant for each seed (default [base seed])

Each variant trains into ``<runs>/<name>/<variant>/`` (``run.json``, ``checkpoint.pt``, then
``eval.json``). A finished run is skipped, an interrupted one resumed, an evaluation already in
``eval.json`` reused if it was made on the grid's ``n`` images with its ``steps`` (else redone), so
running the same command again continues where it stopped.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from pathlib import Path

import yaml

from .evaluate.report import EVAL_JSON, evaluate_run
from .train import RUN_JSON, TrainConfig, provenance, resolve_device, train
from .train.checkpoint import atomic_write, write_json
from .validation import LipregError

COLUMNS = ["label", "seed", "dataset", "model", "defence", "tanh_head", "eps", "lam", "epochs", "train_subset", "test_accuracy",
           "error_eps0", "error_eps0.1", "median_distance", "not_found", "max_loss_gradient", "max_loss_gradient_per_example",
           "max_jacobian_norm", "epoch_seconds", "train_seconds", "eval_n", "run"]


def load_grid(path: Path | str) -> dict:
    """Read and check a grid file; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise LipregError(f"grid file {str(path)!r} does not exist")
    text = path.read_text()
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
    return grid


def variants(grid: dict) -> list[tuple[str, TrainConfig]]:
    """``(label, config)`` for every variant and seed of ``grid``, configs validated up front."""
    base = dict(grid.get("base", {}))
    explicit = [dict(run) for run in grid.get("runs", [])]
    product = grid.get("grid", {})
    combos = [dict(zip(product, values)) for values in itertools.product(*product.values())] if product else []
    seeds = grid.get("seeds", [base.get("seed", 0)])
    out = []
    for overrides in explicit + combos:
        label = overrides.pop("label", None) or ",".join(f"{k}={v}" for k, v in overrides.items()) or "base"
        for seed in seeds:
            out.append((label, TrainConfig.from_dict({**base, **overrides, "seed": seed})))
    return out


def _folder(label: str, seed: int) -> str:
    return re.sub(r"[^A-Za-z0-9.=,+-]+", "_", label) + f"-seed{seed}"


def run_sweep(grid_path: Path | str, runs_dir: Path | str = "runs", results_dir: Path | str = "data/results", *,
              data_dir: Path | str | None = None, device: str = "auto", progress: bool = True) -> list[dict]:
    """Train and evaluate every variant of the grid (resumably), then write the results table."""
    grid = load_grid(grid_path)
    evaluation = {"attack": "pgd-l2", "n": None, "steps": None, **grid.get("evaluate", {})}
    root = Path(runs_dir) / grid["name"]
    rows = []
    for label, config in variants(grid):
        folder = root / _folder(label, config.seed)
        record_path = folder / RUN_JSON
        finished = record_path.exists() and json.loads(record_path.read_text()).get("status") == "finished"
        if not finished:
            print(f"[sweep] training {folder}", flush=True)
            train(config, folder, data_dir=data_dir, device=device, resume=True, progress=progress)
        report_path = folder / EVAL_JSON
        report = json.loads(report_path.read_text()) if report_path.exists() else {"attacks": {}}
        if not _matches(report["attacks"].get(evaluation["attack"]), evaluation):
            print(f"[sweep] evaluating {folder} with {evaluation['attack']}", flush=True)
            evaluate_run(folder, evaluation["attack"], evaluation["n"], data_dir=data_dir, device=device, steps=evaluation["steps"])
            report = json.loads(report_path.read_text())
        rows.append(_row(label, config, folder, json.loads(record_path.read_text()), report, evaluation["attack"]))
    _write_results(grid, evaluation, rows, Path(results_dir), resolve_device(device))
    return rows


def _matches(entry: dict | None, evaluation: dict) -> bool:
    """Whether an ``eval.json`` entry was made with the grid's image count and attack steps
    (entries older than ``requested_n`` count as made on their ``n`` images)."""
    if entry is None:
        return False
    steps = entry["settings"].get("steps")
    return entry.get("requested_n", entry["n"]) == evaluation["n"] and (evaluation["steps"] is None or steps == evaluation["steps"])


def _row(label: str, config: TrainConfig, folder: Path, record: dict, report: dict, attack: str) -> dict:
    entry = report["attacks"][attack]
    epochs = record["epochs"]
    return {
        "label": label, "seed": config.seed, "dataset": config.dataset, "model": config.model, "defence": record["defence"],
        "tanh_head": config.tanh_head, "eps": config.eps, "lam": config.lam, "epochs": config.epochs, "train_subset": config.train_subset,
        "test_accuracy": epochs[-1]["test_accuracy"], "error_eps0": entry["error_eps0"], "error_eps0.1": entry["error_eps0.1"],
        "median_distance": entry["median_distance"], "not_found": entry["not_found"],
        "max_loss_gradient": report["stability"]["max_loss_gradient"],
        "max_loss_gradient_per_example": report["stability"]["max_loss_gradient_per_example"],
        "max_jacobian_norm": report["stability"]["max_jacobian_norm"],
        "epoch_seconds": sum(e["seconds"] for e in epochs) / len(epochs), "train_seconds": sum(e["seconds"] for e in epochs),
        "eval_n": entry["n"], "run": str(folder), "distances": entry["distances"],
        "provenance": {"training": record["provenance"], "evaluation": entry["provenance"]},
    }


def _write_results(grid: dict, evaluation: dict, rows: list[dict], results_dir: Path, device) -> None:
    """``<name>.csv`` (one row per run) and ``<name>.json`` (the grid, protocol, provenance of the table and of
    each run's training and evaluation, per-image distances)."""
    origin = provenance(device)  # before writing: the commit the results came from
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(results_dir / f"{grid['name']}.csv", lambda stream: stream.write(buffer.getvalue().encode()))
    rounded = [{**row, "distances": [None if d is None else round(d, 5) for d in row["distances"]]} for row in rows]
    write_json(results_dir / f"{grid['name']}.json", {"grid": grid, "evaluation": evaluation, "provenance": origin, "runs": rounded})

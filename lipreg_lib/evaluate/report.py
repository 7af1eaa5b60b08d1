"""``eval.json`` beside a run: per-image distances and summaries per attack, stability statistics."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ..attacks import run_attack
from ..train import load_run, provenance, resolve_device, write_json
from .clean import clean_metrics
from .stability import stability_statistics

EVAL_JSON = "eval.json"


def evaluate_run(run_dir: Path | str, attack: str = "pgd-l2", n: int | None = None, *, data_dir: Path | str | None = None,
                 device: str = "auto", steps: int | None = None, batch_size: int = 500) -> dict:
    """Attack the first ``n`` test images (all by default) of the run in ``run_dir`` and merge the
    result into its ``eval.json`` (other attacks already there are kept). Returns the attack's entry."""
    run_dir = Path(run_dir)
    model, dataset, config = load_run(run_dir, device, data_dir)
    torch_device = resolve_device(device)
    test = dataset.test.subset(config.test_subset, config.seed)
    if n is not None:
        test = type(test)(test.x[:n], test.y[:n])
    test = test.to(torch_device)
    started = time.perf_counter()
    result = run_attack(model, test, attack, steps=steps, batch_size=batch_size)
    seconds = time.perf_counter() - started
    entry = {**result.summary(), "requested_n": n, "seconds": seconds, "distances": [d if math.isfinite(d) else None for d in result.distances.tolist()],
             "provenance": provenance(torch_device)}
    path = run_dir / EVAL_JSON
    report = json.loads(path.read_text()) if path.exists() else {"run": config.to_dict(), "attacks": {}}
    report["attacks"][attack] = entry
    report["clean"] = clean_metrics(model, test)
    report["stability"] = stability_statistics(model, test)
    write_json(path, report)
    return entry

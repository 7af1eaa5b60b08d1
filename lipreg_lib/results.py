"""The files lipreg writes, their fields and units, and the one place that reads results tables back.

**Units.** Errors are percentages (0–100); distances are Euclidean norms in pixel space (pixels in
[0, 1]); times are seconds; an attack that found nothing has distance ``inf``, stored as ``null`` in
JSON. Fractions (0–1) appear in two places only: the accuracies of a run's training history, and the
masking check's ``failure_share``, stored beside the fraction threshold it is compared with.

``run.json`` (beside each checkpoint, written by ``train``): ``config`` (every :class:`TrainConfig`
option), ``defence``, ``status`` (``"running"`` or ``"finished"``), ``dataset``
(``name``, ``train_size``, ``test_size``), ``model``, ``provenance`` (commit, device, versions,
time) and ``epochs``: one record per epoch with ``epoch``, ``seconds``, ``lr``, ``train_loss``,
``train_accuracy``, ``test_loss`` and ``test_accuracy`` (accuracies as fractions).

``eval.json`` (beside it, written by ``evaluate``): ``attacks[name]`` with ``n`` (the first ``n``
images of the run's test split), ``distances``, ``median_distance``, ``error_eps0`` and
``error_eps0.1`` (%, on those ``n``), ``not_found``, ``clean`` and ``stability`` (with their own
``n``), ``settings`` and ``provenance``; ``budgets[attack][ε]`` = ``{error (%), n, steps}`` (a
fixed-budget attack, usually on the whole test split); ``masking[attack]`` = the gradient-masking
check (``verdict``, ``failure_share`` (a fraction), ``median_black_over_white``, ``n``, attack and steps).

``<grid>.csv`` and ``<grid>.json`` (written by ``sweep``): one row per run with the fields of
:data:`TABLE_COLUMNS`; the JSON adds per-image ``distances``, each run's ``provenance`` (training and
evaluation), the grid, its evaluation block, ``missing`` runs and :data:`SCHEMA`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import torch

from .evaluate.curves import error_curve
from .validation import LipregError

SCHEMA = 2  # 1 (before 2026-11-26): the tables had test_accuracy, a fraction, where they now have test_error (%)
TABLE_COLUMNS = [
    "label", "seed", "dataset", "model", "defence", "tanh_head", "eps", "lam", "epochs", "train_subset",
    "test_error",  # % error on the run's test split (its test_subset, else all of it), clean, from the training record
    "error_eps0", "error_eps0.1", "median_distance", "not_found",  # on the eval_n attacked images
    "max_loss_gradient", "max_loss_gradient_per_example", "max_jacobian_norm", "epoch_seconds", "train_seconds", "eval_n",
    "budget_error_eps0.1", "budget_n",  # % error under the fixed budget ε = 0.1 on budget_n images
    "masking", "masking_failure_share", "masking_ratio", "masking_n", "run",
]


def percent_error(accuracy: float) -> float:
    """A fraction correct as the % error the tables report: ``100 (1 − accuracy)``."""
    return 100 * (1 - accuracy)


def upgrade_row(row: Mapping, source: str = "a results table") -> dict:
    """A table row of any schema as a row of the current one (schema 1 rows get ``test_error``)."""
    row = dict(row)
    if "test_error" not in row:
        if not isinstance(row.get("test_accuracy"), (int, float)):
            raise LipregError(f"{source}: a row without test_error or a numeric test_accuracy; not a lipreg results table")
        row["test_error"] = percent_error(row.pop("test_accuracy"))
    return row


def upgrade_table(record: dict, source: str = "a results table") -> dict:
    """A parsed ``<grid>.json`` of any schema up to :data:`SCHEMA`, as the current schema."""
    schema = record.get("schema", 1) if isinstance(record, dict) else None
    if not isinstance(record, dict) or "runs" not in record or not isinstance(schema, int) or schema > SCHEMA:
        found = f"schema {schema!r}" if isinstance(record, dict) and "runs" in record else "no 'runs' list"
        raise LipregError(f"{source} is not a lipreg results table of schema ≤ {SCHEMA} (it has {found}); a newer lipreg wrote it?")
    return {**record, "schema": SCHEMA, "runs": [upgrade_row(run, source) for run in record["runs"]]}


def read_results(path: Path | str) -> dict:
    """A results file read from ``path``: a ``<grid>.json`` table (one with ``runs``) in the current
    schema (:func:`upgrade_table`), any other record (a benchmark's, the chapter times) as written."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise LipregError(f"cannot read results file {str(path)!r}: {error}") from None
    return upgrade_table(record, repr(str(path))) if isinstance(record, dict) and "runs" in record else record


def distances(run: Mapping) -> torch.Tensor:
    """A row's per-image minimal distances as a float64 tensor (``null`` → ``inf``: nothing found)."""
    return torch.tensor([math.inf if d is None else d for d in run["distances"]], dtype=torch.float64)


def run_errors(run: Mapping) -> tuple[float, float, int]:
    """``(% error at ε = 0, % error at ε = 0.1, images)`` of one row: on the ``budget_n`` images when the
    grid measured the fixed budget (``budget_error_eps0.1``; the clean error is ``test_error``, on the run's
    test split), else from the minimal distances of the ``eval_n`` attacked images."""
    if run.get("budget_error_eps0.1") is not None:
        return run["test_error"], run["budget_error_eps0.1"], run["budget_n"]
    return run["error_eps0"], run["error_eps0.1"], run["eval_n"]


def by_label(runs: Iterable[Mapping]) -> dict[str, list[Mapping]]:
    """Rows grouped by variant label, seeds together, in the order the labels first appear."""
    groups: dict[str, list[Mapping]] = {}
    for run in runs:
        groups.setdefault(run["label"], []).append(run)
    return groups


def first_seed_distances(runs: Iterable[Mapping]) -> dict[str, torch.Tensor]:
    """``label → per-image minimal distances`` of the first row (seed 0) of every variant, in label order."""
    return {label: distances(group[0]) for label, group in by_label(runs).items()}


def errors_at(runs: Iterable[Mapping], epsilons: Sequence[float]) -> dict[str, list[float]]:
    """``label → % error at each ε`` of ``epsilons`` from the rows' per-image minimal distances (the
    ``eval_n`` attacked images), the mean over the seeds of each label."""
    grid = torch.tensor(list(epsilons), dtype=torch.float64)
    return {label: [float(v) for v in torch.stack([100 * error_curve(distances(run), grid) for run in group]).mean(0)]
            for label, group in by_label(runs).items()}

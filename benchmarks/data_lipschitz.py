"""The data Lipschitz constant of a training set: lipreg's blocked search vs a plain chunked baseline.

The baseline is scikit-learn's ``pairwise_distances_chunked`` (brute force, all N² pairs in chunks),
reducing each chunk to the nearest training point of another label. Both must agree on the distance
(to :data:`AGREEMENT`, relative: float32 products against float64); a disagreement is an error and
nothing is written.

    python benchmarks/data_lipschitz.py --dataset mnist --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lipreg_lib import arguments
from lipreg_lib.data import load_dataset
from lipreg_lib.lipschitz import data_lipschitz
from lipreg_lib.runio import provenance, write_json
from lipreg_lib.validation import LipregError

AGREEMENT = 1e-5


def sklearn_baseline(x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import pairwise_distances_chunked

    best = np.inf
    start = 0
    for chunk in pairwise_distances_chunked(x, x, working_memory=1024, n_jobs=1):
        rows = slice(start, start + len(chunk))
        chunk[y[rows, None] == y[None, :]] = np.inf
        chunk[chunk == 0] = np.inf
        best = min(best, float(chunk.min()))
        start += len(chunk)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist", help="a data set name of lipreg_lib.data.load_dataset")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=arguments.writable_file("--out"), default="data/results/data_lipschitz_benchmark.json")
    args = parser.parse_args()
    try:
        train = load_dataset(args.dataset, args.data_dir).train
    except LipregError as error:
        parser.error(str(error))
    threads = torch.get_num_threads()

    start = time.perf_counter()
    ours = data_lipschitz(train.x, train.y)
    ours_seconds = time.perf_counter() - start

    x = train.floats().flatten(1).numpy()
    start = time.perf_counter()
    baseline = sklearn_baseline(x, train.y.numpy())
    baseline_seconds = time.perf_counter() - start

    print(f"{args.dataset}: {len(train)} training images, {threads} threads")
    print("| method | seconds | min distance | L(data) |")
    print("|---|---|---|---|")
    print(f"| lipreg data_lipschitz (blocked, i ≤ j, exact re-check) | {ours_seconds:.1f} | {ours.min_distance:.6f} | {ours.lipschitz:.4f} |")
    print(f"| scikit-learn pairwise_distances_chunked (all pairs) | {baseline_seconds:.1f} | {baseline:.6f} | {1 / baseline:.4f} |")
    difference = abs(ours.min_distance - baseline)
    print(f"speed-up: {baseline_seconds / ours_seconds:.2f}×; the distances differ by {difference:.2e}")
    if difference > AGREEMENT * baseline:
        raise SystemExit(f"the two methods disagree: {ours.min_distance!r} against {baseline!r} (more than {AGREEMENT:g} apart, "
                         f"relative); nothing written")
    write_json(args.out, {"dataset": args.dataset, "n": len(train), "threads": threads, "speedup": baseline_seconds / ours_seconds,
                          "difference": difference, "command": sys.argv,
                          "ours": {"seconds": ours_seconds, "min_distance": ours.min_distance, "pair": list(ours.pair)},
                          "baseline": {"seconds": baseline_seconds, "min_distance": baseline},
                          "provenance": provenance(torch.device("cpu"))})


if __name__ == "__main__":
    main()

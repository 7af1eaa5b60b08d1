"""The Lipschitz constant of the data (arXiv 1810.00953, eq. 13) and nearest-other-label distances."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ..data import to_float
from ..validation import LipregError

_TOLERANCE = 1e-2  # absolute slack on squared distances for float32 rounding; candidates are re-checked in float64


@dataclass
class DataLipschitz:
    """``L(data) = 1 / min{‖x_i − x_j‖₂ : y_i ≠ y_j}``; ``duplicates`` counts identical inputs with different labels
    (dropped), ``duplicate_pairs`` lists the first 20 of them."""

    lipschitz: float
    min_distance: float
    pair: tuple[int, int]
    duplicates: int
    duplicate_pairs: list[tuple[int, int]]


def _blocks(n: int, size: int):
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _squared_distances(a: torch.Tensor, b: torch.Tensor, na: torch.Tensor, nb: torch.Tensor) -> torch.Tensor:
    return (na[:, None] + nb[None, :] - 2 * a @ b.T).clamp_min_(0)


def nearest_other_label(queries: torch.Tensor, query_labels: torch.Tensor, reference: torch.Tensor, reference_labels: torch.Tensor,
                        chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query, ``min_j ‖q_i − r_j‖₂`` over references with a different label, and that ``j``
    (the data stability distance of arXiv 1810.00953, §4); ``inf`` (index 0) where no reference has another
    label. Chunked products; each winner recomputed in float64."""
    q = to_float(queries).flatten(1)
    r = to_float(reference).flatten(1)
    nq, nr = (q * q).sum(1), (r * r).sum(1)
    best = torch.full((len(q),), float("inf"), device=q.device)
    index = torch.zeros(len(q), dtype=torch.long, device=q.device)
    for start, stop in _blocks(len(r), chunk):
        d2 = _squared_distances(q, r[start:stop], nq, nr[start:stop])
        d2[query_labels[:, None] == reference_labels[None, start:stop]] = float("inf")
        value, where = d2.min(1)
        better = value < best
        best[better], index[better] = value[better], where[better] + start
    exact = (q.double() - r[index].double()).norm(dim=1)
    exact[torch.isinf(best)] = math.inf
    return exact, index


def pair_distance(x: torch.Tensor, i: int, j: int) -> float:
    """``‖x_i − x_j‖₂`` computed exactly: integer arithmetic for uint8 pixels (then ÷ 255), float64 otherwise."""
    if x.dtype == torch.uint8:
        diff = x[i].long() - x[j].long()
        return math.sqrt(int((diff * diff).sum())) / 255
    return (x[i].double() - x[j].double()).norm().item()


def data_lipschitz(x: torch.Tensor, y: torch.Tensor, chunk: int = 4096, progress: bool = False) -> DataLipschitz:
    """Exact ``min_{y_i ≠ y_j} ‖x_i − x_j‖₂`` over all pairs of a training split.

    Blocks ``i ≤ j`` of the squared-distance matrix come from float32 matrix products on the device.
    Every pair within a rounding tolerance of the smallest float32 value is then measured directly
    (:func:`pair_distance`), so the returned pair and distance are exact. Pairs at distance 0
    (duplicate inputs with different labels, as in CIFAR-100) are counted, reported and excluded.
    """
    if len(x) != len(y) or y.unique().numel() < 2:
        raise LipregError(f"the data's Lipschitz constant needs images of at least two labels, one label each; "
                          f"got {len(x)} images, {len(y)} labels, {y.unique().numel()} distinct")
    flat = to_float(x).flatten(1)
    norms = (flat * flat).sum(1)
    spans = _blocks(len(flat), chunk)

    def block(i: int, j: int) -> torch.Tensor:
        (a0, a1), (b0, b1) = spans[i], spans[j]
        d2 = _squared_distances(flat[a0:a1], flat[b0:b1], norms[a0:a1], norms[b0:b1])
        invalid = y[a0:a1, None] == y[None, b0:b1]
        if i == j:
            invalid |= torch.ones_like(invalid).tril_()
        return d2.masked_fill_(invalid, float("inf"))

    def pairs_below(i: int, j: int, d2: torch.Tensor, bound: float) -> list[tuple[int, int]]:
        return [(spans[i][0] + a, spans[j][0] + b) for a, b in (d2 <= bound).nonzero().tolist()]

    duplicates: set[tuple[int, int]] = set()
    minima: list[tuple[float, int, int]] = []
    pairs = [(i, j) for i in range(len(spans)) for j in range(i, len(spans))]
    for i, j in tqdm(pairs, desc="pairwise distance blocks", unit="block", disable=not progress, leave=False):
        d2 = block(i, j)
        for a, b in pairs_below(i, j, d2, _TOLERANCE):  # possible duplicates: decide exactly
            if pair_distance(x, a, b) == 0:
                duplicates.add((a, b))
                d2[a - spans[i][0], b - spans[j][0]] = float("inf")
        minima.append((d2.min().item(), i, j))
    best32 = min(m for m, _, _ in minima)
    if not math.isfinite(best32):
        raise LipregError(f"every pair of images with different labels is a duplicate ({len(duplicates)} pairs): no distance to invert")
    candidates = [pair for value, i, j in minima if value <= best32 + _TOLERANCE
                  for pair in pairs_below(i, j, block(i, j), best32 + _TOLERANCE) if pair not in duplicates]
    distance, pair = min((pair_distance(x, a, b), (a, b)) for a, b in candidates)
    return DataLipschitz(1 / distance, distance, pair, len(duplicates), sorted(duplicates)[:20])

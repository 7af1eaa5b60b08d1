"""Per-image minimal-distance PGD-L2: lipreg's bisection engine vs foolbox 3, same model, images, steps.

foolbox has no per-image budget, so its minimal distance comes from running ``L2PGD`` once per budget
of a grid (its multi-epsilon API) and keeping, per image, the first budget that fooled the model.
Two foolbox settings are timed: a coarse grid of ``--budgets`` budgets (about as many ``steps``-step
attacks per image as lipreg's doubling + bisection makes), and a fine grid with 2% spacing
(a resolution like ours).

    python benchmarks/attack_speed.py --data-dir ../shared/data --n 500     # MNIST small CNN
    python benchmarks/attack_speed.py --n 360                                # digits, offline
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from lipreg_lib.attacks import foolbox_pgd_grid, get_attack, minimal_distance
from lipreg_lib.data import Split, load_dataset
from lipreg_lib.evaluate.curves import median_distance
from lipreg_lib.train import TrainConfig, provenance, resolve_device, train, write_json


def geometric_grid(low: float, high: float, count: int) -> list[float]:
    return [low * (high / low) ** (k / (count - 1)) for k in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="with it: MNIST small CNN; without: digits")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--budgets", type=int, default=12, help="attacks per image for the same-budget foolbox run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("data/results/attack_speed.json"))
    args = parser.parse_args()

    device = resolve_device(args.device)
    name = "mnist" if args.data_dir else "digits"
    dataset = load_dataset(name, args.data_dir)
    config = TrainConfig(dataset=name, epochs=1 if name == "mnist" else 5, train_subset=20000 if name == "mnist" else None)
    model = train(config, dataset=dataset, device=args.device, progress=False).model.to(device).eval()
    test = Split(dataset.test.x[: args.n], dataset.test.y[: args.n]).to(device)
    rows = []

    def record(label: str, run, attacks_per_image: str) -> None:
        start = time.perf_counter()
        distances = run()
        seconds = time.perf_counter() - start
        rows.append({"method": label, "seconds": seconds, "images_per_second": len(test) / seconds,
                     "median_distance": median_distance(distances), "not_found": int((~torch.isfinite(distances)).sum()),
                     "attacks_per_image": attacks_per_image})

    attack = get_attack("pgd-l2", steps=args.steps)
    record("lipreg bisection PGD-L2", lambda: minimal_distance(model, test, attack, keep_adversarial=False).distances,
           "doubling + bisection to 1%, each image stops on its own")
    coarse = geometric_grid(0.1, 5.0, args.budgets)
    record(f"foolbox L2PGD, {args.budgets}-budget grid", lambda: foolbox_pgd_grid(model, test, coarse, steps=args.steps).distances,
           f"{args.budgets} (grid ratio {coarse[1] / coarse[0]:.2f})")
    ours = rows[0]["median_distance"]
    fine = [ours * 0.6 * 1.02 ** k for k in range(int(math.log(1 / 0.6 * 1.6) / math.log(1.02)) + 1)]
    record("foolbox L2PGD, 2% grid", lambda: foolbox_pgd_grid(model, test, fine, steps=args.steps).distances,
           f"{len(fine)} (0.6–1.6 × our median)")

    print(f"{name}, {len(test)} images, {args.steps}-step PGD-L2, device {device}")
    print("| method | images/s | × foolbox coarse grid | median distance | not found | attacks per image |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        row["speedup_vs_foolbox_coarse"] = row["images_per_second"] / rows[1]["images_per_second"]
        print(f"| {row['method']} | {row['images_per_second']:.1f} | {row['speedup_vs_foolbox_coarse']:.2f} | "
              f"{row['median_distance']:.4f} | {row['not_found']} | {row['attacks_per_image']} |")
    write_json(args.out, {"dataset": name, "n": len(test), "steps": args.steps, "rows": rows, "provenance": provenance(device)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

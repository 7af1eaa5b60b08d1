"""Per-image minimal-distance attacks: speed and precision of lipreg's against foolbox 3, same model and images.

foolbox has no per-image budget, so its PGD minimal distance comes from running ``L2PGD`` once per
budget of a grid (its multi-epsilon API) and keeping, per image, the first budget that fooled the
model. Two grids are timed: a coarse one of ``--budgets`` budgets (about as many ``steps``-step
attacks per image as lipreg's doubling + bisection makes) and a fine one with 2 % spacing (a
resolution like ours: the peer at equal precision). foolbox's DDN with ``--reference-steps`` steps
joins the reference for precision: each image's best distance is the smallest any method found, and
a method's precision is the share of images (correctly classified ones) where its distance is more
than 5 % above that best. Every method first runs once on a few images, untimed (CUDA start-up,
cuDNN autotuning), then once timed.

    python benchmarks/attack_speed.py --data-dir ../shared/data --n 500     # MNIST small CNN
    python benchmarks/attack_speed.py --n 360 --out data/results/attack_speed_digits.json   # digits, offline
    python benchmarks/attack_speed.py --n 360 --device cuda --out data/results/attack_speed_digits_cuda.json
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
import time
from pathlib import Path

import torch

from lipreg_lib import arguments
from lipreg_lib.attacks import ddn, foolbox_minimal, foolbox_pgd_grid, get_attack, minimal_distance, minimal_distance_batch, run_attack
from lipreg_lib.attacks.engine import cosine_annealed
from lipreg_lib.data import load_dataset
from lipreg_lib.evaluate.curves import median_distance
from lipreg_lib.reports import check_image_counts
from lipreg_lib.runio import provenance, resolve_device, write_json
from lipreg_lib.train import TrainConfig, train
from lipreg_lib.validation import LipregError

TOLERANCE = 0.05  # "more than 5 % above the best distance"


def default(function, name: str):
    """The default of ``function``'s parameter ``name``: the rows' labels name the library's settings, not copies."""
    return inspect.signature(function).parameters[name].default


def geometric_grid(low: float, high: float, count: int) -> list[float]:
    return [low * (high / low) ** (k / (count - 1)) for k in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="with it: MNIST small CNN; without: digits")
    parser.add_argument("--n", type=arguments.integer("--n"), default=None,
                        help="test images attacked (default: 500, or the whole test set if smaller)")
    parser.add_argument("--steps", type=arguments.integer("--steps"), default=20)
    parser.add_argument("--budgets", type=arguments.integer("--budgets", 2), default=12, help="attacks per image for the same-budget foolbox run")
    parser.add_argument("--budgets-per-round", type=arguments.integer("--budgets-per-round"), default=8, help="K of the K-ary search row")
    parser.add_argument("--reference-steps", type=arguments.integer("--reference-steps"), default=300,
                        help="steps of foolbox's DDN in the precision reference")
    parser.add_argument("--device", type=arguments.device(), default="cpu")
    parser.add_argument("--out", type=arguments.writable_file("--out"), default="data/results/attack_speed.json")
    args = parser.parse_args()

    device = resolve_device(args.device)
    name = "mnist" if args.data_dir else "digits"
    try:
        dataset = load_dataset(name, args.data_dir)
        check_image_counts({"--n": args.n}, len(dataset.test), f"the {len(dataset.test)} test images of {name!r}")
    except LipregError as error:
        parser.error(str(error))
    config = TrainConfig(dataset=name, epochs=1 if name == "mnist" else 5, train_subset=20000 if name == "mnist" else None)
    n = args.n or min(500, len(dataset.test))
    model = train(config, dataset=dataset, device=args.device, progress=False).model.to(device).eval()
    test = dataset.test.head(n).to(device)
    warm = test.head(8)
    pgd = get_attack("pgd-l2", steps=args.steps)
    coarse = geometric_grid(0.1, 5.0, args.budgets)
    coarse_label, fine_label = f"foolbox L2PGD, {args.budgets}-budget grid", "foolbox L2PGD, 2 % grid"
    methods = {  # label: (run on a split → distances, attacks per image)
        "lipreg PGD-L2, bisection (K = 1, the CPU's default)": (   # a GPU's default is the K-ary search of the next row
            lambda split: minimal_distance(model, split, pgd, keep_adversarial=False, budgets_per_round=1).distances,
            f"doubling + bisection to {100 * default(minimal_distance_batch, 'rtol'):g} %, each image stops on its own"),
        f"lipreg PGD-L2, K-ary search (K = {args.budgets_per_round})": (
            lambda split: minimal_distance(model, split, pgd, keep_adversarial=False, budgets_per_round=args.budgets_per_round).distances,
            f"{args.budgets_per_round} budgets per image per round"),
        "lipreg PGD-L2, cosine step 0.5": (
            lambda split: minimal_distance(model, split, get_attack("pgd-l2", steps=args.steps, step_size=0.5, schedule="cosine"),
                                           keep_adversarial=False, budgets_per_round=1).distances,
            f"as bisection; step 0.5 ε annealed to {cosine_annealed(0.5, 1, 1):g} ε"),
        f"lipreg DDN, {default(ddn, 'steps')} steps": (lambda split: run_attack(model, split, "ddn").distances,
                                                       f"one run of {default(ddn, 'steps')} steps"),
        coarse_label: (
            lambda split: foolbox_pgd_grid(model, split, coarse, steps=args.steps).distances,
            f"{args.budgets} (grid ratio {coarse[1] / coarse[0]:.2f})"),
    }
    rows = []

    def record(label: str) -> None:
        run, attacks_per_image = methods[label]
        run(warm)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        distances = run(test).double().cpu()
        seconds = time.perf_counter() - start
        rows.append({"method": label, "seconds": seconds, "images_per_second": len(test) / seconds,
                     "median_distance": median_distance(distances), "not_found": int((~torch.isfinite(distances)).sum()),
                     "attacks_per_image": attacks_per_image, "distances": distances})

    for label in methods:
        record(label)
    ours = rows[0]["median_distance"]
    fine = [ours * 0.6 * 1.02 ** k for k in range(int(math.log(1 / 0.6 * 1.6) / math.log(1.02)) + 1)]
    methods[fine_label] = (lambda split: foolbox_pgd_grid(model, split, fine, steps=args.steps).distances,
                                          f"{len(fine)} (0.6–1.6 × our median)")
    methods[f"foolbox DDN, {args.reference_steps} steps"] = (
        lambda split: foolbox_minimal(model, split, "foolbox-ddn", steps=args.reference_steps).distances,
        f"one run of {args.reference_steps} steps")
    record(fine_label)
    record(f"foolbox DDN, {args.reference_steps} steps")

    best = torch.stack([row["distances"] for row in rows]).min(0).values
    attacked = best > 0
    rate = {row["method"]: row["images_per_second"] for row in rows}
    coarse_rate, fine_rate = rate[coarse_label], rate[fine_label]
    print(f"{name}, {len(test)} images, {args.steps}-step PGD-L2, device {device}; precision over {int(attacked.sum())} correctly classified images")
    print("| method | images/s | × foolbox coarse grid | × foolbox 2 % grid | median distance | × bisection median | "
          "> 5 % above best | not found | attacks per image |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        distances = row.pop("distances")
        row["speedup_vs_foolbox_coarse"] = row["images_per_second"] / coarse_rate
        row["speedup_vs_foolbox_fine"] = row["images_per_second"] / fine_rate
        row["median_vs_default"] = row["median_distance"] / ours
        row["share_above_best"] = float((distances[attacked] > (1 + TOLERANCE) * best[attacked]).double().mean())
        print(f"| {row['method']} | {row['images_per_second']:.1f} | {row['speedup_vs_foolbox_coarse']:.2f} | "
              f"{row['speedup_vs_foolbox_fine']:.2f} | {row['median_distance']:.4f} | {row['median_vs_default']:.3f} | "
              f"{100 * row['share_above_best']:.1f} % | {row['not_found']} | {row['attacks_per_image']} |")
    write_json(args.out, {"dataset": name, "n": len(test), "steps": args.steps, "budgets": args.budgets,
                          "budgets_per_round": args.budgets_per_round, "reference_steps": args.reference_steps, "tolerance": TOLERANCE,
                          "rows": rows, "command": sys.argv, "provenance": provenance(device)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

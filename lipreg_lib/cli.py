"""Command line: ``python -m lipreg_lib {info,train,...}``. Bad arguments name the value and the choices."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .arguments import integer, positive_float, writable_file
from .validation import LipregError


def _info(args: argparse.Namespace) -> int:
    from .data import DATASETS
    from .defences import COMPONENTS
    from .models import MODELS

    print(json.dumps({"datasets": list(DATASETS), "models": sorted(MODELS), "defences": list(COMPONENTS),
                      "defence_syntax": "components joined by '+', e.g. at-l2+lip (tulip = at-l2+lip)"}, indent=1))
    return 0


def _train(args: argparse.Namespace) -> int:
    from .train import CHECKPOINT, TrainConfig, train

    options = {name: getattr(args, name) for name in TRAIN_OPTIONS if getattr(args, name, None) is not None}
    config = TrainConfig.from_dict(options)
    if args.resume and not (args.out / CHECKPOINT).is_file():
        raise LipregError(f"--resume: {str(args.out)!r} holds no checkpoint to continue; check the path, or leave out --resume to start a new run")
    result = train(config, args.out, data_dir=args.data_dir, device=args.device, resume=args.resume, progress=not args.quiet)
    last = result.history[-1] if result.history else {}
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"out": str(args.out), "epochs": len(result.history), "test_accuracy": last.get("test_accuracy"),
                      "seconds": sum(h["seconds"] for h in result.history)}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .reports import EVAL_JSON, evaluate_run

    entry = evaluate_run(args.run, args.attack, args.n, data_dir=args.data_dir, device=args.device, steps=args.steps,
                         budgets=tuple(args.budgets), budget_n=args.budget_n, progress=not args.quiet)
    print(json.dumps({k: entry[k] for k in ("attack", "n", "error_eps0", "error_eps0.1", "median_distance", "not_found", "seconds")}
                     | {"written": str(args.run / EVAL_JSON)}))
    return 0


def _data_lipschitz(args: argparse.Namespace) -> int:
    import time

    from .data import load_dataset
    from .lipschitz import data_lipschitz
    from .runio import provenance, resolve_device, write_json

    device = resolve_device(args.device)
    train = load_dataset(args.dataset, args.data_dir).train.to(device)
    started = time.perf_counter()
    result = data_lipschitz(train.x, train.y, progress=not args.quiet)
    line = {"dataset": args.dataset, "n": len(train), "lipschitz": result.lipschitz, "min_distance": result.min_distance,
            "pair": list(result.pair), "labels": [int(train.y[i]) for i in result.pair], "duplicates": result.duplicates,
            "seconds": time.perf_counter() - started}
    print(json.dumps(line))
    if args.save:
        write_json(args.save, {**line, "duplicate_pairs": result.duplicate_pairs, "provenance": provenance(device)})
    return 0


def _data_stability(args: argparse.Namespace) -> int:
    import time

    from .data import load_dataset
    from .evaluate.curves import median_distance
    from .lipschitz import nearest_other_label
    from .reports import check_image_counts
    from .runio import provenance, resolve_device, write_json

    device = resolve_device(args.device)
    data = load_dataset(args.dataset, args.data_dir)
    check_image_counts({"--n": args.n}, len(data.test), f"the {len(data.test)} test images of {args.dataset!r}")
    test, train = data.test.head(args.n).to(device), data.train.to(device)
    started = time.perf_counter()
    distances, nearest = nearest_other_label(test.x, test.y, train.x, train.y)
    line = {"dataset": args.dataset, "n": len(test), "train_n": len(train), "median_distance": median_distance(distances),
            "min_distance": distances.min().item(), "seconds": time.perf_counter() - started}
    print(json.dumps(line))
    if args.save:
        write_json(args.save, {**line, "distances": [round(d, 6) for d in distances.tolist()], "nearest": nearest.tolist(),
                               "provenance": provenance(device)})
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import run_sweep

    rows = run_sweep(args.grid, args.runs_dir, args.results_dir, data_dir=args.data_dir, device=args.device, progress=not args.quiet,
                     jobs=args.jobs, collect=args.collect, train_only=args.train_only)
    print(json.dumps({"runs": len(rows), "results": str(args.results_dir)}))
    return 0


TRAIN_OPTIONS = ("recipe", "dataset", "model", "defence", "eps", "lam", "h", "tanh_head", "width", "clip", "per_example", "epochs",
                 "batch_size", "lr", "momentum", "nesterov", "weight_decay", "schedule", "warmup", "label_smoothing", "augmentation",
                 "augment", "train_subset", "test_subset", "seed", "bf16", "channels_last")


def _option_adder(command: argparse.ArgumentParser, defaults):
    """``add_argument`` whose default is ``None`` (so a recipe can fill it) and whose help shows the
    paper protocol's default and, where it differs, the fast recipe's."""
    from .train.recipes import RECIPES

    def add(flag: str, help: str, show: bool = True, **kwargs):
        name = kwargs.get("dest", flag.lstrip("-").replace("-", "_"))
        if show and getattr(defaults, name, None) is not None:
            help += f" (default: {getattr(defaults, name)!r}"
            fast = RECIPES["fast"].get(name)
            help += f"; fast recipe: {fast!r})" if fast is not None and fast != getattr(defaults, name) else ")"
        kwargs.setdefault("default", None)
        command.add_argument(flag, help=help, **kwargs)

    return add


def parser() -> argparse.ArgumentParser:
    from .data import AUGMENTATIONS
    from .models import MODELS
    from .train import TrainConfig
    from .train.recipes import RECIPES
    from .train.schedule import SCHEDULES

    defaults = TrainConfig()
    root = argparse.ArgumentParser(prog="python -m lipreg_lib", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="list datasets, models, defences").set_defaults(handler=_info)

    train = commands.add_parser("train", help="train a model with a defence",
                                description="Train a model with a defence; options not given come from --recipe (default: paper).")
    train.set_defaults(handler=_train)
    option = _option_adder(train, defaults)
    option("--recipe", choices=sorted(RECIPES), help="start from a named recipe: paper (the authors' optimiser: SGD, momentum 0.9, weight decay 5e-4, "
           "step schedule; 5 epochs of small-cnn on the digits unless given) or fast (CIFAR-10 "
           "in minutes on a CPU: fast-cnn, one-cycle, label smoothing); explicit options override it (default: paper)", default="paper")
    option("--dataset", help="digits, mnist, fashion-mnist, cifar10, cifar100, moons, circles or npz:PATH")
    option("--model", help=f"one of {', '.join(sorted(MODELS))}")
    option("--defence", help="components joined by '+': baseline, at-fgsm, at-l2, lip, lip-fd, gradnorm, fd, tulip, tulip-fd")
    option("--eps", type=float, help="adversarial training step ε (Euclidean, pixels in [0,1])")
    option("--lam", type=float, help="penalty weight λ")
    option("--h", type=float, help="finite-difference step h (fd, lip-fd)")
    option("--tanh-head", action=argparse.BooleanOptionalAction, help="add the tanh logit layer (arXiv 1810.00953, §4.3 and App. A.1)")
    option("--width", type=int, help="base width of the model (default: the model's own)")
    option("--clip", action=argparse.BooleanOptionalAction, help="clip adversarial training inputs to [0,1]")
    option("--per-example", action=argparse.BooleanOptionalAction, help="Lipschitz penalty of per-example losses (not the batch mean)")
    option("--epochs", type=int, help="training epochs")
    option("--batch-size", type=int, help="examples per step")
    option("--lr", type=float, help="learning rate (peak lr of the one-cycle schedule)")
    option("--momentum", type=float, help="SGD momentum")
    option("--nesterov", action=argparse.BooleanOptionalAction, help="Nesterov momentum")
    option("--weight-decay", type=float, help="L2 weight decay")
    option("--schedule", choices=SCHEDULES, help="step: lr × gamma at the milestones; one-cycle: linear warm-up then decay to 0")
    option("--warmup", type=float, help="one-cycle warm-up, a fraction of training")
    option("--label-smoothing", type=float, help="label smoothing of the training loss")
    option("--augmentation", choices=("dataset", *AUGMENTATIONS), help="the dataset's own augmentation or a named one")
    option("--train-subset", type=int, help="train on a seeded random subset of this size (default: all)")
    option("--test-subset", type=int, help="test on a seeded random subset of this size (default: all)")
    option("--no-augment", dest="augment", action="store_false", help="disable augmentation", default=None, show=False)
    option("--seed", type=int, help="seed of initialisation, shuffling and augmentation")
    option("--bf16", action=argparse.BooleanOptionalAction, help="bf16 autocast")
    option("--channels-last", action=argparse.BooleanOptionalAction, help="channels-last memory layout (faster convolutions)")
    train.add_argument("--out", type=Path, required=True, help="run folder: checkpoint.pt and run.json (required)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    _common(train)

    from .attacks import ALL_ATTACKS

    evaluate = commands.add_parser("evaluate", help="minimal adversarial distances of a trained run: writes eval.json")
    evaluate.set_defaults(handler=_evaluate)
    evaluate.add_argument("--run", type=Path, required=True, help="a run folder written by train (required)")
    evaluate.add_argument("--attack", default="pgd-l2", choices=ALL_ATTACKS, help="the attack (default: pgd-l2)")
    evaluate.add_argument("--n", type=integer("--n"), default=None, help="attack only the first N test images (default: all)")
    evaluate.add_argument("--steps", type=integer("--steps"), default=None, help="attack iterations (default: the attack's own, 20 for pgd-l2)")
    evaluate.add_argument("--budgets", type=positive_float("--budgets"), nargs="*", default=[],
                          help="also the error under the attack at each fixed ε, e.g. --budgets 0.1 (default: none; iterative attacks)")
    evaluate.add_argument("--budget-n", type=integer("--budget-n"), default=None,
                          help="images for --budgets: the first N of the test split (default: all)")
    _common(evaluate)

    lipschitz = commands.add_parser("data-lipschitz", help="the Lipschitz constant of a training set (arXiv 1810.00953, eq. 13)")
    lipschitz.set_defaults(handler=_data_lipschitz)
    lipschitz.add_argument("--dataset", default="digits", help="the training set to measure (default: digits)")
    lipschitz.add_argument("--save", type=writable_file("--save"), default=None, help="also write the result with provenance to this JSON file (default: none)")
    _common(lipschitz)

    stability = commands.add_parser("data-stability", help="each test image's distance to the nearest training image of another "
                                    "label: the data-stability curve (arXiv 1810.00953, §4)")
    stability.set_defaults(handler=_data_stability)
    stability.add_argument("--dataset", default="digits", help="the data set whose test images are measured (default: digits)")
    stability.add_argument("--n", type=integer("--n"), default=None, help="measure only the first N test images (default: all)")
    stability.add_argument("--save", type=writable_file("--save"), default=None, help="also write the distances with provenance to this JSON file (default: none)")
    _common(stability)

    sweep = commands.add_parser("sweep", help="train and evaluate every configuration of a grid file, resumably")
    sweep.set_defaults(handler=_sweep)
    sweep.add_argument("--grid", type=Path, required=True, help="YAML or TOML grid file, e.g. grids/cifar10-fast.yaml (required)")
    sweep.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where each variant's run folder goes, under <runs-dir>/<grid name>/ (default: runs)")
    sweep.add_argument("--results-dir", type=Path, default=Path("results"),
                       help="where <grid name>.csv and .json go (default: results; the committed tables live in data/results, written only when named)")
    stage = sweep.add_mutually_exclusive_group()
    stage.add_argument("--collect", action="store_true",
                       help="train nothing: write the table of the runs already finished and evaluated, listing the missing ones")
    stage.add_argument("--train-only", action="store_true",
                       help="train every run, evaluate none (evaluate later, e.g. on a GPU, with a plain sweep); write the partial table")
    sweep.add_argument("--jobs", type=integer("--jobs"), default=1, help="variants trained at once, each in its own process (default: 1)")
    _common(sweep)
    return root


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--data-dir", type=Path, default=None,
                         help="folder with the real datasets (mnist/, cifar10/…) (default: $LIPREG_DATA_DIR, then the download cache)")
    command.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto, the GPU if there is one)")
    command.add_argument("--quiet", action="store_true", help="no progress bars (default: bars with an ETA on stderr)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except LipregError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # disk full, permissions: files already written are left as they were
        print(f"error: {error.strerror or error} ({error.filename or 'while writing'}); nothing already written was changed", file=sys.stderr)
        return 1

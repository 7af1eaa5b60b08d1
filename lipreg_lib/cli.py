"""Command line: ``python -m lipreg_lib {info,train,...}``. Bad arguments name the value and the choices."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .validation import LipregError


def _info(args: argparse.Namespace) -> int:
    from .data import DATASETS
    from .defences import COMPONENTS
    from .models import MODELS

    print(json.dumps({"datasets": list(DATASETS), "models": sorted(MODELS), "defences": list(COMPONENTS),
                      "defence_syntax": "components joined by '+', e.g. at-l2+lip (tulip = at-l2+lip)"}, indent=1))
    return 0


def _train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    options = {k: getattr(args, k) for k in ("dataset", "model", "defence", "eps", "lam", "h", "tanh_head", "width", "clip", "per_example",
                                             "epochs", "batch_size", "lr", "weight_decay", "train_subset", "test_subset", "seed",
                                             "bf16", "channels_last")}
    options["augment"] = not args.no_augment
    config = TrainConfig(**options)
    result = train(config, args.out, data_dir=args.data_dir, device=args.device, resume=args.resume, progress=not args.quiet)
    last = result.history[-1] if result.history else {}
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"out": str(args.out), "epochs": len(result.history), "test_accuracy": last.get("test_accuracy"),
                      "seconds": sum(h["seconds"] for h in result.history)}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate.report import EVAL_JSON, evaluate_run

    entry = evaluate_run(args.run, args.attack, args.n, data_dir=args.data_dir, device=args.device, steps=args.steps)
    print(json.dumps({k: entry[k] for k in ("attack", "n", "error_eps0", "error_eps0.1", "median_distance", "not_found", "seconds")}
                     | {"written": str(args.run / EVAL_JSON)}))
    return 0


def _data_lipschitz(args: argparse.Namespace) -> int:
    import time

    from .data import load_dataset
    from .lipschitz import data_lipschitz
    from .train import provenance, resolve_device, write_json

    device = resolve_device(args.device)
    train = load_dataset(args.dataset, args.data_dir).train.to(device)
    started = time.perf_counter()
    result = data_lipschitz(train.x, train.y)
    line = {"dataset": args.dataset, "n": len(train), "lipschitz": result.lipschitz, "min_distance": result.min_distance,
            "pair": list(result.pair), "labels": [int(train.y[i]) for i in result.pair], "duplicates": result.duplicates,
            "seconds": time.perf_counter() - started}
    print(json.dumps(line))
    if args.save:
        write_json(args.save, {**line, "duplicate_pairs": result.duplicate_pairs, "provenance": provenance(device)})
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import run_sweep

    rows = run_sweep(args.grid, args.runs_dir, args.results_dir, data_dir=args.data_dir, device=args.device, progress=not args.quiet)
    print(json.dumps({"runs": len(rows), "results": str(args.results_dir)}))
    return 0


def parser() -> argparse.ArgumentParser:
    from .train import TrainConfig

    defaults = TrainConfig()
    root = argparse.ArgumentParser(prog="python -m lipreg_lib", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="list datasets, models, defences").set_defaults(handler=_info)

    train = commands.add_parser("train", help="train a model with a defence", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.set_defaults(handler=_train)
    train.add_argument("--dataset", default=defaults.dataset, help="digits, mnist, fashion-mnist, cifar10, cifar100, moons, circles or npz:PATH")
    train.add_argument("--model", default=defaults.model)
    train.add_argument("--defence", default=defaults.defence, help="components joined by '+': baseline, at-fgsm, at-l2, lip, gradnorm, fd, tulip")
    train.add_argument("--eps", type=float, default=defaults.eps, help="adversarial training step ε (Euclidean, pixels in [0,1])")
    train.add_argument("--lam", type=float, default=defaults.lam, help="penalty weight λ")
    train.add_argument("--h", type=float, default=defaults.h, help="finite-difference step h")
    train.add_argument("--tanh-head", action="store_true", help="add the tanh logit layer (PAPER.md §5)")
    train.add_argument("--width", type=int, default=None, help="base width of the model (default: the model's own)")
    train.add_argument("--clip", action="store_true", help="clip adversarial training inputs to [0,1]")
    train.add_argument("--per-example", action="store_true", help="Lipschitz penalty of per-example losses (not the batch mean)")
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--lr", type=float, default=defaults.lr)
    train.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    train.add_argument("--train-subset", type=int, default=None, help="train on a seeded random subset of this size")
    train.add_argument("--test-subset", type=int, default=None)
    train.add_argument("--no-augment", action="store_true", help="disable the dataset's augmentation")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    train.add_argument("--channels-last", action="store_true")
    train.add_argument("--out", type=Path, required=True, help="run folder: checkpoint.pt and run.json")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    _common(train)

    from .attacks import ALL_ATTACKS

    evaluate = commands.add_parser("evaluate", help="minimal adversarial distances of a trained run: writes eval.json")
    evaluate.set_defaults(handler=_evaluate)
    evaluate.add_argument("--run", type=Path, required=True, help="a run folder written by train")
    evaluate.add_argument("--attack", default="pgd-l2", choices=ALL_ATTACKS)
    evaluate.add_argument("--n", type=int, default=None, help="attack only the first N test images")
    evaluate.add_argument("--steps", type=int, default=None, help="attack iterations (default per attack)")
    _common(evaluate)

    lipschitz = commands.add_parser("data-lipschitz", help="the Lipschitz constant of a training set (PAPER.md eq. 13)")
    lipschitz.set_defaults(handler=_data_lipschitz)
    lipschitz.add_argument("--dataset", default="digits")
    lipschitz.add_argument("--save", type=Path, default=None, help="also write the result with provenance to this JSON file")
    _common(lipschitz)

    sweep = commands.add_parser("sweep", help="train and evaluate every configuration of a grid file, resumably")
    sweep.set_defaults(handler=_sweep)
    sweep.add_argument("--grid", type=Path, required=True, help="YAML or TOML grid file (see lipreg_lib/sweep.py)")
    sweep.add_argument("--runs-dir", type=Path, default=Path("runs"))
    sweep.add_argument("--results-dir", type=Path, default=Path("data/results"))
    _common(sweep)
    return root


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--data-dir", type=Path, default=None, help="folder laid out like ../shared/data (or LIPREG_DATA_DIR)")
    command.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    command.add_argument("--quiet", action="store_true", help="no progress output")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except LipregError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

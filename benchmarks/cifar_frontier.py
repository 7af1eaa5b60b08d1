"""Clean test error against training minutes for the fast CIFAR-10 recipe: the trade-off of width and
epochs on this machine. Each point is one whole ``python -m lipreg_lib train --recipe fast`` process
(data loading and the per-epoch test passes included), timed from start to exit.

    python benchmarks/cifar_frontier.py --data-dir ../shared/data --points 32:4 32:8 32:12
    python benchmarks/cifar_frontier.py --data-dir ../shared/data --points 64:10 --device cuda --out frontier_cuda.json

Run it on a quiet machine: the minutes are wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lipreg_lib import arguments
from lipreg_lib.data import load_dataset
from lipreg_lib.evaluate.clean import clean_metrics
from lipreg_lib.results import percent_error
from lipreg_lib.runio import device_name, provenance, resolve_device, write_json
from lipreg_lib.train import load_run
from lipreg_lib.validation import LipregError


def point(text: str) -> tuple[int, int]:
    """``WIDTH:EPOCHS`` → ``(width, epochs)``, both integers ≥ 1."""
    try:
        width, epochs = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a point is WIDTH:EPOCHS, e.g. 32:8, got {text!r}") from None
    if width < 1 or epochs < 1:
        raise argparse.ArgumentTypeError(f"width and epochs must be >= 1, got {text!r}")
    return width, epochs


def train_point(width: int, epochs: int, data_dir: str, device: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "lipreg_lib", "train", "--recipe", "fast", "--dataset", "cifar10", "--data-dir", data_dir,
                   "--width", str(width), "--epochs", str(epochs), "--seed", str(seed), "--device", device, "--quiet",
                   "--out", str(Path(folder) / "run")]
        started = time.perf_counter()
        child = subprocess.run(command, capture_output=True, text=True)
        if child.returncode != 0:   # the child's own message, not only its exit status
            raise SystemExit(f"training width {width}, {epochs} epochs failed (exit {child.returncode}):\n{child.stderr.strip()}")
        minutes = (time.perf_counter() - started) / 60
        record = json.loads((Path(folder) / "run" / "run.json").read_text())
        model, dataset, _ = load_run(Path(folder) / "run", device, data_dir)
        tta = clean_metrics(model, dataset.test.to(resolve_device(device)), flip_tta=True)["accuracy"]
    last = record["epochs"][-1]
    return {"width": width, "epochs": epochs, "seed": seed, "minutes": minutes, "test_error": percent_error(last["test_accuracy"]),
            "test_error_flip_tta": percent_error(tta),
            "parameters": record["model"]["parameters"], "epoch_seconds": [e["seconds"] for e in record["epochs"]],
            "config": record["config"], "training_provenance": record["provenance"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", nargs="+", type=point, default=[(32, 4), (32, 8), (32, 12)], help="WIDTH:EPOCHS pairs")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--device", type=arguments.device(), default="cpu")
    parser.add_argument("--seed", type=arguments.integer("--seed", 0), default=0)
    parser.add_argument("--out", type=arguments.writable_file("--out"), default="data/results/cifar10_frontier.json")
    parser.add_argument("--append", action="store_true",
                        help="add the points to the rows already in --out (same device and seed, else refused)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    where = device_name(device)   # the machine, not the flag: "auto" or "cuda:0" name no card
    rows = []
    if args.append and args.out.exists():
        earlier = json.loads(args.out.read_text())
        differ = {name: (then, now) for name, then, now in (("device", earlier["provenance"]["device"], where),
                                                            ("seed", earlier["settings"]["seed"], args.seed)) if then != now}
        if differ:   # minutes of another machine (or another seed's error) would not be comparable
            parser.error(f"--append to {str(args.out)!r}, whose points were measured with "
                         + ", ".join(f"{name} {then!r}, not {now!r}" for name, (then, now) in differ.items()))
        rows = earlier["rows"]
    try:
        load_dataset("cifar10", args.data_dir)   # the data are there, before the first training starts
    except LipregError as error:
        parser.error(str(error))
    for width, epochs in args.points:
        rows.append({**train_point(width, epochs, args.data_dir, args.device, args.seed), "command": sys.argv})
        print(f"  width {width:3d}, {epochs:2d} epochs: {rows[-1]['test_error']:.2f} % test error in {rows[-1]['minutes']:.1f} min",
              file=sys.stderr, flush=True)
    print("| width | epochs | parameters | minutes | % test error | with flip TTA |")
    print("|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: r["minutes"]):
        print(f"| {r['width']} | {r['epochs']} | {r['parameters']:,} | {r['minutes']:.1f} | {r['test_error']:.2f} | {r['test_error_flip_tta']:.2f} |")
    write_json(args.out, {"settings": {"points": [[r["width"], r["epochs"]] for r in rows], "device": str(device),
                                       "seed": args.seed, "recipe": "fast"},
                          "provenance": provenance(device), "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Store a gallery of minimal adversarial examples of a trained run for the book (chapter 1).

    python tools/make_gallery.py --run RUN_DIR --data-dir ../shared/data [--attacks fgsm pgd-l2 ddn] [--n 4]

Writes ``data/results/gallery_<dataset>.json``: the run's config and training provenance, this
command and its provenance, and per image the clean pixels and each attack's perturbation
(:mod:`lipreg_lib.evaluate.gallery`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lipreg_lib.attacks import ALL_ATTACKS
from lipreg_lib import arguments
from lipreg_lib.evaluate.gallery import gallery_record
from lipreg_lib.runio import provenance, resolve_device, write_json
from lipreg_lib.train.engine import load_run
from lipreg_lib.validation import LipregError

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a finished run folder (checkpoint.pt, run.json)")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--attacks", nargs="+", default=["fgsm", "pgd-l2", "ddn"], choices=sorted(ALL_ATTACKS))
    parser.add_argument("--n", type=arguments.integer("--n"), default=4, help="images in the gallery")
    parser.add_argument("--search", type=arguments.integer("--search"), default=64, help="first test images to attack when choosing them")
    parser.add_argument("--out", type=arguments.writable_file("--out"), help="default: data/results/gallery_<dataset>.json")
    args = parser.parse_args(argv)
    if not (args.run / "run.json").exists():
        parser.error(f"--run {args.run}: no run.json there")
    device = resolve_device()
    try:
        model, dataset, config = load_run(args.run, device=str(device), data_dir=args.data_dir)
        test = dataset.test.head(args.search)
        record = gallery_record(model, test, dataset.name, args.attacks, args.n)
    except LipregError as error:   # --n beyond --search, too few usable images, a run that does not load
        print(f"make_gallery: {error}", file=sys.stderr)
        return 2
    run = json.loads((args.run / "run.json").read_text())
    command = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    record = {**record, "run": {"config": run["config"], "provenance": run["provenance"]}, "command": command, "provenance": provenance(device)}
    out = args.out or ROOT / "data" / "results" / f"gallery_{dataset.name}.json"
    write_json(out, record)
    print(f"{out}: {len(record['images'])} images x {len(args.attacks)} attacks")
    return 0


if __name__ == "__main__":
    sys.exit(main())

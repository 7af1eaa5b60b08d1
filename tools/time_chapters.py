"""Execute the book's chapters in one mode, as a reader's kernel would, and record how long each took.

    python tools/time_chapters.py                          # quick mode, every chapter
    python tools/time_chapters.py --full mnist 01 04       # full mode on MNIST, chapters 01 and 04
    python tools/time_chapters.py --book DIR --out FILE    # another copy of the chapters (the wheel test)

The kernel is this interpreter (so the ``lipreg_lib`` it imports is the one this interpreter finds: the
checkout's, or an installed wheel's). Each chapter's time is merged into ``--out`` (default
``data/results/chapter_times.json``, read by every chapter's mode table) as soon as it finishes, with
the device, the machine's load average (other jobs sharing the cores slow a chapter down) and
provenance; a chapter that fails is named and the command exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import lipreg_lib
from lipreg_lib.book import FULL_GRIDS
from lipreg_lib.runio import device_name, provenance, resolve_device, write_json

ROOT = Path(__file__).resolve().parents[1]


def chapters(book: Path, selected: list[str]) -> list[Path]:
    """The numbered chapters of ``book`` (``01_…`` to ``09_…``), or those whose name starts with one of ``selected``."""
    found = sorted(book.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        sys.exit(f"time_chapters: no chapters (NN_*.ipynb) in {book}")
    unknown = [s for s in selected if not any(p.name.startswith(s) for p in found)]
    if unknown:
        sys.exit(f"time_chapters: no chapter starts with {', '.join(map(repr, unknown))}")
    return [p for p in found if not selected or any(p.name.startswith(s) for s in selected)]


def execute(path: Path, timeout: int) -> float:
    """Run every cell of ``path`` in a fresh kernel started in its folder; the wall time in seconds."""
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def run_load(seconds: float) -> float:
    """The load average over the window that best covers a run of ``seconds`` just finished (1, 5 or 15 min)."""
    one, five, fifteen = os.getloadavg()
    return fifteen if seconds >= 900 else five if seconds >= 300 else one


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter name prefixes (default: all)")
    parser.add_argument("--full", metavar="DATASET", choices=sorted(FULL_GRIDS), help="full mode on this data set")
    parser.add_argument("--book", type=Path, default=ROOT / "book")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "results" / "chapter_times.json")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds a cell may run")
    args = parser.parse_args(argv)
    selected = chapters(args.book, args.chapters)
    os.environ["LIPREG_FULL"] = "1" if args.full else "0"
    if args.full:
        os.environ["LIPREG_DATASET"] = args.full
    mode = args.full or "quick"
    device = resolve_device()
    print(f"lipreg_lib from {lipreg_lib.__file__}; {mode} mode on {device_name(device)}", flush=True)
    failed = []
    for path in selected:
        load = os.getloadavg()[0]
        try:
            seconds = execute(path, args.timeout)
        except Exception as error:  # a chapter's cell raised: name it, show the end of its traceback, go on
            failed.append(path.stem)
            print(f"{path.stem}: FAILED", flush=True)
            print("\n".join(str(error).strip().splitlines()[-25:]) or type(error).__name__, file=sys.stderr, flush=True)
            continue
        print(f"{path.stem}: {seconds:.1f} s", flush=True)
        record = json.loads(args.out.read_text()) if args.out.exists() else {"times": []}
        entry = {"chapter": path.stem, "mode": mode, "device": device_name(device), "seconds": round(seconds, 1),
                 "load_average": round(max(load, run_load(seconds)), 2), "cpu_count": os.cpu_count(),
                 "lipreg_lib": lipreg_lib.__file__, "provenance": provenance(device)}
        record["times"] = [t for t in record["times"] if (t["chapter"], t["mode"], t["device"]) != (path.stem, mode, entry["device"])]
        record["times"].append(entry)
        write_json(args.out, record)
    if failed:
        print(f"time_chapters: {len(failed)} chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

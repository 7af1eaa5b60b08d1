"""Execute the book's chapters in one mode, as a reader's kernel would, and record how long each took.

    python tools/time_chapters.py                          # quick mode, every chapter
    python tools/time_chapters.py --full mnist 01 04       # full mode on MNIST, chapters 01 and 04
    python tools/time_chapters.py --book DIR --out FILE    # another copy of the chapters (the wheel test)
    python tools/time_chapters.py --full cifar10 06 --stop-after 7200   # at most two hours, then a lower bound
    python tools/time_chapters.py --merge gpu.json                      # add the entries another machine wrote

The kernel is this interpreter (so the ``lipreg_lib`` it imports is the one this interpreter finds: the
checkout's, or an installed wheel's). Each chapter's time is merged into ``--out`` (default
``data/results/chapter_times.json``, read by every chapter's mode table) as soon as it finishes, with
the device, the machine's load average (other jobs sharing the cores slow a chapter down) and
provenance; a chapter that fails is named and the command exits 1. A chapter still running when
``--stop-after`` seconds have passed is stopped and recorded as a lower bound (``"stopped": true``, with
the code cell it was in): the chapter takes more than that. The latest run of a chapter in a mode on a
device replaces the one recorded before it, stopped or not, since the chapter may have changed since.
``--merge`` adds the entries of files that runs elsewhere wrote (a rented GPU) by the same rule, and
executes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

import lipreg_lib
from lipreg_lib import arguments
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


@dataclass(frozen=True)
class Timing:
    """How long a chapter ran; ``stopped_in`` is the 1-based code cell the whole-run limit stopped it in
    (``None``: it ran to the end), of ``code_cells``."""
    seconds: float
    code_cells: int
    stopped_in: int | None = None


def execute(path: Path, timeout: int, stop_after: float = math.inf) -> Timing:
    """Run every cell of ``path`` in a fresh kernel started in its folder, each for at most ``timeout``
    seconds (a cell that takes longer fails the chapter), and the whole chapter for at most ``stop_after``."""
    notebook = nbformat.read(path, as_version=4)
    code_cells = sum(cell.cell_type == "code" and bool(cell.source.strip()) for cell in notebook.cells)   # nbclient skips empty ones
    start = time.perf_counter()
    deadline = start + stop_after

    def cell_timeout(cell) -> int:   # the cell's own limit, or what is left of the chapter's if less
        return max(1, math.ceil(min(timeout, deadline - time.perf_counter())))

    client = NotebookClient(notebook, timeout_func=cell_timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellTimeoutError:
        if time.perf_counter() < deadline:
            raise
        return Timing(time.perf_counter() - start, code_cells, stopped_in=client.code_cells_executed)
    return Timing(time.perf_counter() - start, code_cells)


def run_load(seconds: float) -> float:
    """The load average over the window that best covers a run of ``seconds`` just finished (1, 5 or 15 min)."""
    one, five, fifteen = os.getloadavg()
    return fifteen if seconds >= 900 else five if seconds >= 300 else one


REQUIRED = ("chapter", "mode", "device", "seconds")       # every entry: what was timed, where, how long
STOPPED = ("stopped_in_cell", "code_cells")                # and where a stopped one was stopped


def merge(out: Path, entries: list[dict]) -> None:
    """Write ``entries`` into the record at ``out``, each replacing the entry of its chapter, mode and device
    (of two entries with the same key, the later one)."""
    record = json.loads(out.read_text()) if out.exists() else {"times": []}
    latest = {(e["chapter"], e["mode"], e["device"]): e for e in entries}
    record["times"] = [t for t in record["times"] if (t["chapter"], t["mode"], t["device"]) not in latest] + list(latest.values())
    write_json(out, record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", help="chapter name prefixes (default: all)")
    parser.add_argument("--full", metavar="DATASET", choices=sorted(FULL_GRIDS), help="full mode on this data set")
    parser.add_argument("--book", type=Path, default=ROOT / "book")
    parser.add_argument("--out", type=arguments.writable_file("--out"), default=str(ROOT / "data" / "results" / "chapter_times.json"))
    parser.add_argument("--timeout", type=arguments.integer("--timeout"), default=3600, help="seconds a cell may run")
    parser.add_argument("--stop-after", type=arguments.positive_float("--stop-after"), default=math.inf, metavar="SECONDS",
                        help="seconds a chapter may run; one still running then is stopped and recorded as a lower bound")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="FILE",
                        help="merge these records' entries into --out and run no chapter (--book, --timeout and --stop-after do not apply)")
    args = parser.parse_args(argv)
    if args.merge:
        if args.chapters or args.full:
            parser.error("--merge runs no chapter: give it no chapters and no --full")
        entries = []
        for path in args.merge:
            try:
                times = json.loads(path.read_text())["times"]
                missing = next((key for t in times for key in REQUIRED + (STOPPED if t.get("stopped") else ()) if key not in t), None)
            except (OSError, ValueError, KeyError, TypeError) as error:
                parser.error(f"--merge {str(path)!r} cannot be read as a chapter-times record ({type(error).__name__}: {error})")
            if missing:   # what the mode tables read (lipreg_lib.book.mode_note)
                parser.error(f"--merge {str(path)!r} is not a chapter-times record (an entry without {missing!r})")
            entries += times
        merge(args.out, entries)
        print(f"merged {len(entries)} entries into {args.out}")
        return 0
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
            timing = execute(path, args.timeout, args.stop_after)
        except Exception as error:  # a chapter's cell raised: name it, show the end of its traceback, go on
            failed.append(path.stem)
            print(f"{path.stem}: FAILED", flush=True)
            print("\n".join(str(error).strip().splitlines()[-25:]) or type(error).__name__, file=sys.stderr, flush=True)
            continue
        stopped = f" (stopped in code cell {timing.stopped_in} of {timing.code_cells}: a lower bound)" if timing.stopped_in else ""
        print(f"{path.stem}: {timing.seconds:.1f} s{stopped}", flush=True)
        entry = {"chapter": path.stem, "mode": mode, "device": device_name(device), "seconds": round(timing.seconds, 1),
                 "load_average": round(max(load, run_load(timing.seconds)), 2), "cpu_count": os.cpu_count(),
                 "lipreg_lib": lipreg_lib.__file__, "provenance": provenance(device)}
        if timing.stopped_in:
            entry |= {"stopped": True, "stopped_in_cell": timing.stopped_in, "code_cells": timing.code_cells}
        merge(args.out, [entry])
    if failed:
        print(f"time_chapters: {len(failed)} chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

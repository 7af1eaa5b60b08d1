"""Build the book offline with warnings as errors, then print each chapter's execution time.

    python tools/build_book.py            # quick mode (CPU), what CI runs

Jupyter Book's execution cache is keyed on each notebook's own source, so a chapter would keep the
outputs of old results or old library code; the cache is dropped whenever those inputs change.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("lipreg_lib", "data/results")  # what chapters read besides their own source
STAMP = ".inputs-sha256"


def fingerprint(root: Path) -> str:
    """SHA-256 over the names and bytes of every file under ``root``'s :data:`INPUTS`."""
    digest = hashlib.sha256()
    for folder in INPUTS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def drop_stale_cache(root: Path) -> str | None:
    """Delete ``_build/.jupyter_cache`` unless it was made from the current inputs; the new fingerprint
    if it was deleted (to :func:`stamp` once a build from it succeeds), else ``None``."""
    current = fingerprint(root)
    stamp_path = root / "_build" / STAMP
    if stamp_path.exists() and stamp_path.read_text() == current:
        return None
    shutil.rmtree(root / "_build" / ".jupyter_cache", ignore_errors=True)
    return current


def stamp(root: Path, inputs: str) -> None:
    """Record that ``_build`` now holds what was built from ``inputs``."""
    (root / "_build").mkdir(exist_ok=True)
    (root / "_build" / STAMP).write_text(inputs)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)   # --help, or a typo refused
    inputs = drop_stale_cache(ROOT)
    if inputs:
        print("results or library changed since the last build: every chapter is executed again")
    start = time.perf_counter()
    jupyter_book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"  # this Python's, activated or not
    build = subprocess.run([jupyter_book, "build", ".", "-W", "-n", "--keep-going", *(["--all"] if inputs else [])], cwd=ROOT)
    if inputs and build.returncode == 0:
        stamp(ROOT, inputs)
    total = time.perf_counter() - start
    from jupyter_cache import get_cache

    cache = get_cache(ROOT / "_build" / ".jupyter_cache")
    print("| chapter | execution seconds |\n|---|---|")
    latest = {}
    for record in sorted(cache.list_cache_records(), key=lambda r: r.created):
        latest[Path(record.uri).name] = record  # a chapter edited since an earlier build has older records too
    for name, record in sorted(latest.items()):
        print(f"| {name} | {record.data.get('execution_seconds', float('nan')):.1f} |")
    print(f"whole build: {total:.0f} s, exit code {build.returncode}")
    return build.returncode


if __name__ == "__main__":
    sys.exit(main())

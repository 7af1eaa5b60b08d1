"""Build the book offline with warnings as errors, then print each chapter's execution time.

    python tools/build_book.py            # quick mode (CPU), what CI runs
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    subprocess.run([sys.executable, "tools/book_assets.py"], cwd=ROOT, check=True)
    subprocess.run([sys.executable, "tools/api_page.py"], cwd=ROOT, check=True)
    start = time.perf_counter()
    build = subprocess.run(["jupyter-book", "build", ".", "-W", "-n", "--keep-going"], cwd=ROOT)
    total = time.perf_counter() - start
    from jupyter_cache import get_cache

    cache = get_cache(ROOT / "_build" / ".jupyter_cache")
    print("| chapter | execution seconds |\n|---|---|")
    for record in sorted(cache.list_cache_records(), key=lambda r: r.uri):
        print(f"| {Path(record.uri).name} | {record.data.get('execution_seconds', float('nan')):.1f} |")
    print(f"whole build: {total:.0f} s, exit code {build.returncode}")
    return build.returncode


if __name__ == "__main__":
    sys.exit(main())

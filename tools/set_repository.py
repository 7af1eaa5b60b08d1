"""Set the one repository URL of the book: ``_config.yml``'s ``repository.url`` (the launch and
repository buttons) and the install cell of every chapter (what Colab runs first).

    python tools/set_repository.py https://github.com/you/lipreg
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from lipreg_lib.book import install_cell
from lipreg_lib.runio import atomic_write

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"
MARKER = "# On Colab:"
URL = re.compile(r"(^repository:\s*\n\s+url:\s*)(\S+)", re.MULTILINE)   # the first key under ``repository:``


def configured_repository() -> str:
    """``repository.url`` of ``_config.yml``."""
    match = URL.search(CONFIG.read_text())
    if match is None:
        raise SystemExit(f"{CONFIG}: no repository.url")
    return match.group(2)


def chapters() -> list[Path]:
    return sorted((ROOT / "book").glob("*.ipynb"))


def install_cell_of(notebook: dict) -> dict | None:
    """The chapter's install cell (the code cell starting with :data:`MARKER`), if it has one."""
    return next((c for c in notebook["cells"] if c["cell_type"] == "code" and "".join(c["source"]).startswith(MARKER)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="https://… of the public repository holding this book")
    url = parser.parse_args().url.rstrip("/")
    if not re.fullmatch(r"https://[\w.~:/@%+-]+", url):
        raise SystemExit(f"not a plain https URL: {url!r}")
    text, count = URL.subn(lambda m: m.group(1) + url, CONFIG.read_text())
    if count != 1:
        raise SystemExit(f"{CONFIG}: no 'url:' as the first key under 'repository:'; nothing changed")
    pages = {CONFIG: text}   # every new text is made before any is written; each file is replaced whole
    for path in chapters():
        notebook = json.loads(path.read_text())
        cell = install_cell_of(notebook)
        if cell is None:
            continue
        lines = install_cell(url).split("\n")
        cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
        pages[path] = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    for path, page in pages.items():
        atomic_write(path, lambda stream: stream.write(page.encode()))
    print(f"repository set to {url} in {CONFIG.name} and {len(chapters())} chapters")


if __name__ == "__main__":
    main()

"""Helpers the book's chapters import: figure display that survives a static build, results, settings."""

from __future__ import annotations

import json
import os
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from .results import read_table

def quick_mode() -> bool:
    """Quick (CPU build) unless ``LIPREG_FULL=1``; a chapter's first cell may override it."""
    return os.environ.get("LIPREG_FULL", "0") != "1"


def show(fig) -> None:
    """Display a plotly figure as both its JSON mimetype (live notebooks, Colab) and an HTML div using
    the page's local ``plotly.min.js`` (the static site: a plain ``fig.show()`` is silently dropped)."""
    from IPython.display import display

    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50))
    html = fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False)
    display({"application/vnd.plotly.v1+json": fig.to_plotly_json(), "text/html": html}, raw=True)


def repository_root() -> Path:
    """The checkout holding this package (the book runs from a clone, on Colab too)."""
    return Path(__file__).resolve().parents[1]


def results_dir() -> Path:
    """The committed results: ``data/results`` of the checkout, or, for an installed package (Colab),
    the copy its wheel ships under ``share/lipreg/results``."""
    checkout = repository_root() / "data" / "results"
    if checkout.is_dir():
        return checkout
    try:
        shipped = [f for f in distribution("lipreg").files or [] if f.parent.as_posix().endswith("share/lipreg/results")]
    except PackageNotFoundError:
        shipped = []
    return Path(shipped[0].locate()).resolve().parent if shipped else checkout


def install_cell(repository: str) -> str:
    """The first code cell of every chapter: on Colab, install lipreg with the extras the chapters need
    from ``repository`` (``_config.yml``'s ``repository.url``; ``tools/set_repository.py`` writes both),
    keeping Colab's torch; the committed results come inside the package."""
    return ("# On Colab: install lipreg (with foolbox, and the committed results inside), keeping Colab's torch.\n"
            "import subprocess, sys\n"
            "if \"google.colab\" in sys.modules:\n"
            f"    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"lipreg[attacks] @ git+{repository}\"], check=True)")


def load_results(name: str) -> dict | None:
    """``data/results/<name>.json`` written by the library's commands, or ``None`` if not produced yet;
    a results table (one with ``runs``) comes with its rows in the current schema (:mod:`lipreg_lib.results`)."""
    path = results_dir() / f"{name}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return read_table(path) if "runs" in record else record

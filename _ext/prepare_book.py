"""Sphinx extension: let a plain ``jupyter-book build .`` build the whole site on a fresh clone. Before
Sphinx reads anything it vendors the offline assets (``tools/book_assets.py``: plotly.js, MathJax,
the widget manager) and writes the API page from the docstrings (``tools/api_page.py``), the two
git-ignored inputs the site needs."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prepare(app, config):
    _tool("book_assets").main()
    _tool("api_page").write()


def setup(app):
    app.connect("config-inited", _prepare)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

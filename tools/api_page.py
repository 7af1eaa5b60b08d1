"""Write ``book/api.md``: the public API of lipreg_lib from its docstrings (signatures and formulas)."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

MODULES = ["lipreg_lib.gradients", "lipreg_lib.devices", "lipreg_lib.data", "lipreg_lib.models", "lipreg_lib.defences", "lipreg_lib.train", "lipreg_lib.runio",
           "lipreg_lib.attacks",
           "lipreg_lib.evaluate.clean", "lipreg_lib.evaluate.curves", "lipreg_lib.evaluate.stability", "lipreg_lib.evaluate.gallery", "lipreg_lib.lipschitz",
           "lipreg_lib.compare", "lipreg_lib.sweep", "lipreg_lib.book", "lipreg_lib.panel", "lipreg_lib.arguments"]


def plain(doc: str) -> str:
    """A docstring as the page shows it, in a plain text block: Sphinx roles such as ``:func:`.train``` read
    as their target, ``.train``."""
    return re.sub(r":(?:mod|func|class|meth|attr|data|obj|exc|math):`~?([^`]+)`", r"\1", doc)


def page() -> str:
    lines = ["# API reference", "", "Generated from the docstrings of `lipreg_lib` by `tools/api_page.py` at every book build.", ""]
    for name in MODULES:
        module = importlib.import_module(name)
        lines += [f"## `{name}`", "", "```text", plain(inspect.getdoc(module) or ""), "```", ""]
        public = getattr(module, "__all__", None) or [n for n, v in vars(module).items()
                                                      if not n.startswith("_") and getattr(v, "__module__", "") == name]
        for item in sorted(public):
            value = getattr(module, item)
            if not (inspect.isfunction(value) or inspect.isclass(value)):
                continue
            try:
                signature = str(inspect.signature(value))
            except (TypeError, ValueError):
                signature = ""
            short = len(signature) < 120   # a long signature is abbreviated in the heading and given whole below it
            lines += [f"### `{item}{signature}`" if short else f"### `{item}(…)`", "", "```text"]
            lines += ([] if short else [f"{item}{signature}", ""]) + [plain(inspect.getdoc(value) or "(no docstring)"), "```", ""]
    return "\n".join(lines)


def write() -> None:
    """Write ``book/api.md`` when its text changed (an unchanged page keeps its time stamp, so Sphinx
    does not rebuild it)."""
    target = Path(__file__).resolve().parents[1] / "book" / "api.md"
    text = page()
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
        print(f"wrote {target}")


if __name__ == "__main__":
    write()

"""The book's sources: outputs stripped in git, machinery imported from lipreg_lib, every chapter in the TOC."""

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def test_there_are_an_introduction_and_nine_chapters():
    names = [p.stem for p in NOTEBOOKS]
    assert "intro" in names and sum(name[:2].isdigit() for name in names) == 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped_and_imports_the_library(path):
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs before committing"
    source = "\n".join("".join(c["source"]) for c in code)
    if path.stem != "intro":
        assert "from lipreg_lib" in source
        assert "fig.show()" not in source, "use lipreg_lib.book.show: fig.show() vanishes from the static site"
        assert "QUICK" in source, "every chapter has the quick/full switch"


def test_toc_lists_every_chapter_and_the_api_page():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {toc["root"]} | {entry["file"] for entry in toc["chapters"]}
    assert {f"book/{p.stem}" for p in NOTEBOOKS} <= listed and "book/api" in listed


def test_offline_settings_are_in_the_config():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["mathjax_path"] == "mathjax/tex-chtml.js" and config["html_js_files"] == ["plotly.min.js"]
    assert all(not url.startswith("http") for url in config["nb_ipywidgets_js"])

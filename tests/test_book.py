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
        if "QUICK" in source:  # one switch, read in one place, and used wherever it is set
            assert "QUICK = quick_mode()" in source and source.count("QUICK") > 2, "QUICK comes from lipreg_lib.book.quick_mode()"


def test_the_quick_full_switch_is_one_environment_variable(monkeypatch):
    from lipreg_lib.book import quick_mode

    monkeypatch.delenv("LIPREG_FULL", raising=False)
    assert quick_mode()
    monkeypatch.setenv("LIPREG_FULL", "1")
    assert not quick_mode()


def test_toc_lists_every_chapter_and_the_api_page():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {toc["root"]} | {entry["file"] for entry in toc["chapters"]}
    assert {f"book/{p.stem}" for p in NOTEBOOKS} <= listed and "book/api" in listed


def test_offline_settings_are_in_the_config():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["mathjax_path"] == "mathjax/tex-chtml.js" and config["html_js_files"] == ["plotly.min.js"]
    assert all(not url.startswith("http") for url in config["nb_ipywidgets_js"])


def test_build_tool_drops_the_execution_cache_when_results_or_library_change(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    (tmp_path / "lipreg_lib").mkdir()
    (tmp_path / "data" / "results").mkdir(parents=True)
    (tmp_path / "lipreg_lib" / "attack.py").write_text("step = 1\n")
    (tmp_path / "data" / "results" / "grid.json").write_text("{}")
    cache = tmp_path / "_build" / ".jupyter_cache"

    def cached_chapter():
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "chapter").write_text("outputs")

    assert tool.drop_stale_cache(tmp_path)  # no record of what the cache was built from
    cached_chapter()
    assert tool.drop_stale_cache(tmp_path) and not cache.exists()  # a failed build left no record either
    cached_chapter()
    tool.stamp(tmp_path, tool.fingerprint(tmp_path))  # a build succeeded
    assert tool.drop_stale_cache(tmp_path) is None and (cache / "chapter").exists()
    (tmp_path / "data" / "results" / "grid.json").write_text('{"runs": []}')
    assert tool.drop_stale_cache(tmp_path) and not cache.exists()
    cached_chapter()
    tool.stamp(tmp_path, tool.fingerprint(tmp_path))
    (tmp_path / "lipreg_lib" / "attack.py").write_text("step = 2\n")
    assert tool.drop_stale_cache(tmp_path) and not cache.exists()

"""The built book in headless Chromium, offline: runs when ``_build/html`` exists (CI builds it first)."""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not (SITE / "book").is_dir():
        pytest.skip("build the book first: python tools/build_book.py")
    if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright")
    sys.path.insert(0, str(ROOT / "tools"))
    import browser_check
    from playwright.sync_api import sync_playwright

    server, url = browser_check.serve(SITE)
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=browser_check.CHROMIUM_ARGS)
        context, phone = browser_check.offline_contexts(browser, url)
        for path in sorted((SITE / "book").glob("*.html")):
            page = context.new_page()
            relative = str(path.relative_to(SITE))
            results.append(browser_check.check_page(page, url, relative, path.read_text()))
            results[-1]["phone"] = browser_check.phone_check(phone, url, relative)
            page.close()
        browser.close()
    server.shutdown()
    return {r["page"]: r for r in results}


def test_every_page_loads_without_console_errors(report):
    assert len(report) >= 11
    assert {page: r["errors"] for page, r in report.items() if r["errors"]} == {}


def test_every_plotly_figure_renders(report):
    assert sum(r["figures_expected"] for r in report.values()) >= 15
    assert all(r["figures_rendered"] == r["figures_expected"] for r in report.values()), report


def test_math_is_typeset(report):
    for page in ("book/02_dual_norms.html", "book/06_lipschitz_regularisation.html"):
        assert report[page]["math"] > 5


def test_sliders_change_the_plotted_data(report):
    moved = {page: r["slider_moved"] for page, r in report.items() if r["slider_moved"] is not None}
    assert {"book/01_adversarial_examples.html", "book/03_fgsm_vs_gradient.html", "book/06_lipschitz_regularisation.html",
            "book/08_experiments.html"} <= set(moved)  # the gallery, the ascent, the λ/ε sliders, the defences at ε
    assert all(moved.values()), moved
    assert report["book/06_lipschitz_regularisation.html"]["sliders"] >= 5   # the live λ and ε sliders, a committed λ slider per data set
    assert report["book/01_adversarial_examples.html"]["sliders"] >= 3   # the digits gallery, MNIST and CIFAR-10 galleries
    assert report["book/09_beyond.html"]["buttons"] >= 1                 # the accuracy-robustness plane, one data set at a time


def test_no_page_scrolls_sideways_on_a_phone(report):
    assert {page: r["phone"]["overflow_px"] for page, r in report.items() if r["phone"]["overflow_px"] > 1} == {}


def test_every_figure_title_and_label_fits_a_phone(report):
    assert {page: r["phone"]["text_problems"] for page, r in report.items() if r["phone"]["text_problems"]} == {}


def test_no_printed_output_is_cut_off_at_1280_px(report):
    assert {page: r["clipped_outputs"] for page, r in report.items() if r["clipped_outputs"]} == {}


def test_each_chapter_opens_with_its_modes_as_a_rendered_table():
    if not (SITE / "book").is_dir():
        pytest.skip("build the book first: python tools/build_book.py")
    for path in sorted((SITE / "book").glob("0*.html")):
        html = path.read_text()
        if path.stem[:2] in ("02", "05", "08"):   # the same cells in both modes: one sentence
            assert "run the same cells" in html, path.name
        else:   # Markdown printed by a cell must come out as HTML (nb_render_markdown_format), not as pipes
            assert '<th class="head"><p>time to run this chapter</p></th>' in html and "|---|" not in html, path.name


def test_launch_buttons_open_the_chapter_in_colab_from_the_configured_repository():
    import re

    if not (SITE / "book").is_dir():
        pytest.skip("build the book first: python tools/build_book.py")
    sys.path.insert(0, str(ROOT / "tools"))
    from set_repository import configured_repository

    repository = configured_repository().removeprefix("https://github.com/")
    for path in sorted((SITE / "book").glob("0*.html")):
        links = re.findall(r'https://colab\.research\.google\.com/github/[^"]+', path.read_text())
        assert links == [f"https://colab.research.google.com/github/{repository}/blob/main/book/{path.stem}.ipynb"], (path.name, links)
    assert "colab.research.google.com" not in (SITE / "book" / "intro.html").read_text()   # no code to run there


def test_every_label_of_every_figure_is_drawn(report):
    assert {page: r["hidden_labels"] for page, r in report.items() if r["hidden_labels"]} == {}

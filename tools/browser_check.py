"""Open every page of the built book in headless Chromium (offline) and check what a reader sees.

For each page: no JavaScript console errors, no failed requests; every plotly div renders (an
``svg.main-svg`` inside it); math is typeset (``mjx-container``) where the page has math. On pages
with plotly sliders, a real mouse click on a step of *every* slider must change what its figure shows
(the visible traces or their values), and so must a click on the last button of every button menu.
At a phone's width (390 px) no page may scroll sideways, no figure's text (a title, a label) may run past
the figure's edge, reach from the title into the plot or lie over another label; at 1280 px no printed output line is cut off
(a ``pre`` in a cell's output that scrolls sideways hides the end of a result), and every text label of a
figure is drawn.
Screenshots of chosen pages go to ``--screenshots``. Non-loopback requests are aborted.

    python tools/browser_check.py _build/html --screenshots /tmp/shots
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import sys
import threading
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:   # no line per request on stderr
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


SHOWN = "d => JSON.stringify(d.data.map(t => [t.visible, t.x, t.y, t.z === undefined ? null : t.z.length]))"  # what a figure draws


def click_changes_figure(page, div, click) -> bool:
    """Scroll the plotly ``div`` into view, ``click()`` a control of it, and say whether what it draws changed."""
    div.scroll_into_view_if_needed()
    before = div.evaluate(SHOWN)
    click()
    page.wait_for_timeout(400)
    return before != div.evaluate(SHOWN)


def wait_for_figures(page, figures: int, math: bool = False) -> str | None:
    """Wait until ``figures`` plotly figures are drawn (and math typeset, when ``math``); None, or why not."""
    try:
        page.wait_for_function(
            """([figures, math]) => document.querySelectorAll('.plotly-graph-div svg.main-svg').length >= figures
                 && (!math || document.querySelectorAll('mjx-container').length > 0)""",
            arg=[figures, math], timeout=60000, polling=250)
    except Exception as error:  # the caller records what did render instead of stopping at the first slow page
        return f"timed out waiting for {figures} figures and math: {type(error).__name__}"
    return None


def check_page(page, url: str, relative: str, html: str) -> dict:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}") if "127.0.0.1" in r.url else None)
    page.goto(f"{url}/{relative}", wait_until="load")
    expected = html.count('class="plotly-graph-div"')
    has_math = "\\(" in html or "\\[" in html or 'class="math' in html
    if (late := wait_for_figures(page, expected, has_math)) is not None:
        errors.append(late)
    rendered = page.evaluate("document.querySelectorAll('.plotly-graph-div .main-svg').length > 0 ? "
                             "new Set([...document.querySelectorAll('.plotly-graph-div')].filter(d => d.querySelector('svg.main-svg')).map(d => d.id)).size : 0")
    result = {"page": relative, "figures_expected": expected, "figures_rendered": rendered,
              "math": page.evaluate("document.querySelectorAll('mjx-container').length"), "errors": errors, "slider_moved": None}
    result["clipped_outputs"] = page.evaluate(
        "[...document.querySelectorAll('.cell_output pre')].filter(p => p.scrollWidth > p.clientWidth + 1).length")
    result["hidden_labels"] = page.evaluate(  # a figure's text label plotly.js did not draw (e.g. placed off its axis range)
        "[...document.querySelectorAll('.plotly-graph-div')].flatMap(d => { const drawn = d.querySelectorAll('g.annotation'); "
        "return (d.layout.annotations || []).filter((a, k) => a.text && !(drawn[k] && drawn[k].getBoundingClientRect().width > 0)).map(a => a.text); })")
    sliders = page.locator(".plotly-graph-div", has=page.locator(".slider-container"))
    moved = []
    for k in range(sliders.count()):
        div = sliders.nth(k)

        def click_away_from_active(div=div):  # a real click on a step away from the active one
            rail = div.locator(".slider-rail-rect")
            rail.scroll_into_view_if_needed()   # a figure taller than the window has its slider below the fold
            box = rail.bounding_box()
            active, count = div.evaluate("d => [d.layout.sliders[0].active || 0, d.layout.sliders[0].steps.length]")
            page.mouse.click(box["x"] + box["width"] * (0.1 if active >= count / 2 else 0.9), box["y"] + box["height"] / 2)

        moved.append(click_changes_figure(page, div, click_away_from_active))
    result["sliders"] = sliders.count()
    menus = page.locator(".plotly-graph-div", has=page.locator(".updatemenu-button"))
    for k in range(menus.count()):  # button menus (e.g. one data set at a time): the last button must change the figure
        div = menus.nth(k)
        moved.append(click_changes_figure(page, div, div.locator(".updatemenu-button").last.click))
    result["buttons"] = menus.count()
    result["slider_moved"] = all(moved) if moved else None
    return result


def offline_contexts(browser, url: str):
    """``(desktop, phone)``: browser contexts 1280 and 390 px wide that reach only the site at ``url``."""
    contexts = (browser.new_context(viewport={"width": 1280, "height": 900}),
                browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True))
    for context in contexts:
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url) else route.abort())
    return contexts


TEXT_PROBLEMS = """() => [...document.querySelectorAll('.plotly-graph-div')].flatMap(d => {
  const svg = d.querySelector('svg.main-svg');
  if (!svg) return [];
  const box = svg.getBoundingClientRect(), title = d.querySelector('.gtitle');
  const cut = [...d.querySelectorAll('text')].filter(t => { const r = t.getBoundingClientRect();
    return t.textContent.trim() && r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1
      || r.top < box.top - 1 || r.bottom > box.bottom + 1); }).map(t => `cut: ${t.textContent}`);
  const below = title ? title.getBoundingClientRect().bottom : -Infinity;   // the title must end above the plots and buttons
  const covered = [...d.querySelectorAll('.nsewdrag, .updatemenu-button')].some(e => e.getBoundingClientRect().top < below - 1);
  const kind = e => e.closest('.xtick') ? 'x' : e.closest('.ytick') ? 'y' : 'label';   // an x and a y tick may share a corner
  const notes = [...d.querySelectorAll('g.annotation, .gtitle, .xtick text, .ytick text')]
    .map(a => [a.textContent, a.getBoundingClientRect(), kind(a)]).filter(([t, r]) => t.trim() && r.width > 0);
  const clash = notes.flatMap(([t, r, a], k) => notes.slice(k + 1).filter(([, q, b]) =>   // labels drawn over each other
    a + b !== 'xy' && a + b !== 'yx' && Math.min(r.right, q.right) - Math.max(r.left, q.left) > 2
      && Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top) > 2).map(([u]) => `labels overlap: ${t} / ${u}`));
  return [...cut, ...clash, ...(covered ? [`title over the plot: ${title.textContent}`] : [])]; })"""


def phone_check(context, url: str, relative: str, screenshot: Path | None = None) -> dict:
    """What a phone-sized ``context`` shows of the page: ``overflow_px``, how far the page scrolls sideways
    (0 is right), and ``text_problems``, every text of a figure (title, label) that runs past one of the figure's edges,
    every title that reaches down into its plots or buttons, and every pair of labels (the title and tick labels among them) drawn over each other."""
    page = context.new_page()
    page.goto(f"{url}/{relative}", wait_until="load")
    wait_for_figures(page, page.locator(".plotly-graph-div").count())   # check_page reports figures that never render
    page.wait_for_timeout(300)
    result = {"overflow_px": page.evaluate("document.documentElement.scrollWidth - window.innerWidth"),
              "text_problems": page.evaluate(TEXT_PROBLEMS)}
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=False)
    page.close()
    return result


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site", type=Path)
    parser.add_argument("--screenshots", type=Path, default=None)
    parser.add_argument("--shoot", nargs="*", default=["book/03_fgsm_vs_gradient.html", "book/06_lipschitz_regularisation.html"])
    args = parser.parse_args()
    pages = sorted(str(p.relative_to(args.site)) for p in (args.site / "book").glob("*.html"))
    server, url = serve(args.site)
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context, phone = offline_contexts(browser, url)
        for relative in pages:
            shot = None
            if args.screenshots and relative in args.shoot:
                shot = args.screenshots / (Path(relative).stem + "-phone.png")
            phone_view = phone_check(phone, url, relative, shot)
            page = context.new_page()
            results.append(check_page(page, url, relative, (args.site / relative).read_text()))
            results[-1]["phone"] = phone_view
            if args.screenshots and relative in args.shoot:
                page.screenshot(path=str(args.screenshots / (Path(relative).stem + ".png")), full_page=False)
                plot = page.locator(".plotly-graph-div", has=page.locator(".slider-container")).first
                if plot.count():
                    plot.screenshot(path=str(args.screenshots / (Path(relative).stem + "-slider.png")))
            page.close()
        browser.close()
    server.shutdown()
    print(json.dumps(results, indent=1))
    bad = [r for r in results if r["errors"] or r["figures_rendered"] < r["figures_expected"] or r["slider_moved"] is False
           or r["phone"]["overflow_px"] > 1 or r["phone"]["text_problems"] or r["clipped_outputs"] or r["hidden_labels"]]
    print(f"{len(results)} pages checked, {len(bad)} with problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

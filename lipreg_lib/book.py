"""Helpers the book's chapters import: figure display that survives a static build, results, settings."""

from __future__ import annotations

import json
import os
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from .results import upgrade_table


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
    return upgrade_table(record, repr(str(path))) if "runs" in record else record


def slider_figure(grid, values, curves, name: str, title: str, reference=None):
    """Error curves (``% error`` against ε on ``grid``), one per value of ``name`` (λ or a training ε),
    shown one at a time by a slider, with ``reference = (label, curve)`` (the baseline) always drawn
    beside it for comparison. ``curves`` holds ``(curve, median distance)`` pairs."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, (value, (curve, median)) in enumerate(zip(values, curves)):
        fig.add_trace(go.Scatter(x=grid, y=curve, name=f"{name} = {value:g} (median {median:.2f})", visible=k == 0))
    shown = [[j == k for j in range(len(values))] for k in range(len(values))]
    if reference is not None:
        fig.add_trace(go.Scatter(x=grid, y=reference[1], name=reference[0], line=dict(dash="dash", color="grey")))
        shown = [row + [True] for row in shown]
    steps = [dict(method="update", label=f"{v:g}", args=[{"visible": row}]) for v, row in zip(values, shown)]
    fig.update_layout(sliders=[dict(active=0, steps=steps, currentvalue={"prefix": f"{name} = "})], title=title,
                      xaxis_title="ε", yaxis_title="% error (PGD-L2)", yaxis_range=[0, 100], height=440, showlegend=True)
    return fig


def defences_slider(errors: dict, epsilons, title: str):
    """Bars of the % error of every defence (``errors[label]`` = one value per ε of ``epsilons``), with a
    slider over ε: move it and see which defence keeps its accuracy under attack."""
    import plotly.graph_objects as go

    labels = list(errors)
    frames = [[errors[label][k] for label in labels] for k in range(len(epsilons))]
    fig = go.Figure(go.Bar(x=labels, y=frames[0], text=[f"{v:.1f}" for v in frames[0]], textposition="outside"))
    steps = [dict(method="restyle", label=f"{eps:g}", args=[{"y": [frame], "text": [[f"{v:.1f}" for v in frame]]}])
             for eps, frame in zip(epsilons, frames)]
    fig.update_layout(sliders=[dict(active=0, steps=steps, currentvalue={"prefix": "attack budget ε = "}, pad={"t": 60})],
                      title=title, yaxis_title="% error under PGD-L2", yaxis_range=[0, 105], height=480)
    return fig


def gallery_figure(clean, frames, true_label: int, title: str):
    """Clean image | perturbation (amplified: ``0.5 + δ/(2 max|δ|)``, grey = unchanged) | adversarial
    image, with a slider over the budgets of ``frames`` = ``[(ε, adversarial (C,H,W), predicted label)]``.
    The prediction is written in each slider step's title; one or three channels."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    def picture(image):
        image = image.detach().cpu().float().clamp(0, 1)
        if image.shape[0] == 1:
            return go.Heatmap(z=image[0].flip(0).numpy(), colorscale="gray_r", zmin=0, zmax=1, showscale=False)
        return go.Image(z=(255 * image.permute(1, 2, 0)).round().byte().numpy())

    fig = make_subplots(rows=1, cols=3, subplot_titles=("clean", "perturbation (amplified)", "adversarial"))
    fig.add_trace(picture(clean), row=1, col=1)
    for k, (eps, adversarial, _) in enumerate(frames):
        delta = adversarial - clean
        scale = float(delta.abs().max()) or 1.0
        for col, image in ((2, 0.5 + delta / (2 * scale)), (3, adversarial)):
            trace = picture(image)
            trace.visible = k == 0
            fig.add_trace(trace, row=1, col=col)
    titles = [f"{title}: ε = {eps:g}, ‖δ‖₂ = {float((adv - clean).norm()):.2f} → predicted {label} (true {true_label})"
              for eps, adv, label in frames]
    steps = [dict(method="update", label=f"{eps:g}",
                  args=[{"visible": [True] + [j // 2 == k for j in range(2 * len(frames))]}, {"title.text": text}])
             for k, ((eps, _, _), text) in enumerate(zip(frames, titles))]
    fig.update_layout(sliders=[dict(active=0, steps=steps, currentvalue={"prefix": "ε = "}, pad={"t": 30})],
                      title=dict(text=titles[0]), height=420)
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2", "xaxis3", "yaxis3"):
        fig.layout[axis].update(visible=False)
    for n in ("", "2", "3"):
        fig.layout[f"yaxis{n}"].update(scaleanchor=f"x{n}")
    return fig

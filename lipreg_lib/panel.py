"""The book's live panel: retrain a model with the reader's defence, ε and λ and draw its error curve
over reference curves (the committed ones in full mode, the chapter's own in quick mode).

The curve is the paper's robustness measure, ``E(ε) = P[d(x) ≤ ε]`` over minimal PGD-L2 distances
(arXiv 1810.00953, §5); widgets need a live kernel (Colab): on a static page they render but do not act.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .attacks import run_attack
from .book import Settings, show
from .data import Dataset
from .evaluate.curves import error_curve, median_distance
from .results import first_seed_distances
from .train import TrainConfig, train

# ``{penalty}``, ``{tulip}``: in the form the settings' grid trains them (``Settings.penalty``, ``Settings.tulip``)
PANEL_DEFENCES = {"baseline": "baseline", "AT-FGSM": "at-fgsm", "AT-L2": "at-l2", "Lipschitz penalty": "{penalty}",
                  "gradient norm": "gradnorm", "tulip": "{tulip}"}


@dataclass(frozen=True)
class LiveCurve:
    """One retrained model: its label, % error on the panel's ε grid, median distance, % clean error."""

    label: str
    curve: torch.Tensor
    median: float
    clean_error: float


def panel_config(settings: Settings, defence: str, eps: float, lam: float) -> TrainConfig:
    """The training of one panel click: ``settings``' network with ``defence`` (a key of
    :data:`PANEL_DEFENCES`, its Lipschitz penalty in the settings' form) at ``eps`` and ``lam``."""
    return settings.train_config(defence=PANEL_DEFENCES[defence].format(penalty=settings.penalty, tulip=settings.tulip), eps=eps, lam=lam)


def live_curve(settings: Settings, dataset: Dataset, grid: torch.Tensor, defence: str, eps: float, lam: float) -> LiveCurve:
    """Train :func:`panel_config`, attack the settings' test images with minimal-distance PGD-L2, and
    return its curve."""
    model = train(panel_config(settings, defence, eps, lam), dataset=dataset, progress=False).model
    distances = run_attack(model, settings.attacked(dataset.test), "pgd-l2", steps=settings.attack_steps).distances
    curve = 100 * error_curve(distances, grid)
    return LiveCurve(f"live: {defence}, ε = {eps:g}, λ = {lam:g}", curve, median_distance(distances), float(curve[0]))


def committed_curves(results: dict, grid: torch.Tensor) -> dict[str, torch.Tensor]:
    """``committed: <label>`` → % error on ``grid`` of seed 0 (the first run) of every variant of a
    committed results table: the reference a full-mode panel draws its live curves over."""
    return {f"committed: {label}": 100 * error_curve(d, grid) for label, d in first_seed_distances(results["runs"]).items()}


def overlay_figure(grid: torch.Tensor, reference: dict[str, torch.Tensor], live: list[LiveCurve], title: str):
    """The reference curves (dotted) with every live curve (solid) on one set of axes."""
    import plotly.graph_objects as go

    x = grid.tolist()
    fig = go.Figure([go.Scatter(x=x, y=curve.tolist(), name=label, line=dict(dash="dot", width=1.5)) for label, curve in reference.items()])
    for run in live:
        fig.add_trace(go.Scatter(x=x, y=run.curve.tolist(), name=f"{run.label} (median {run.median:.2f})", line=dict(width=3)))
    fig.update_layout(title=title, xaxis_title="ε", yaxis_title="% error (PGD-L2)", yaxis_range=[0, 100], height=460,
                      legend=dict(orientation="h", y=-0.25))
    return fig


class RetrainPanel:
    """Defence menu, ε and λ sliders and a *train* button; each click trains one model
    (:func:`live_curve`) and redraws :meth:`figure` below the controls."""

    def __init__(self, settings: Settings, dataset: Dataset, grid: torch.Tensor, reference: dict[str, torch.Tensor], title: str):
        import ipywidgets as widgets

        self.settings, self.dataset, self.grid, self.reference, self.title = settings, dataset, grid, reference, title
        self.live: list[LiveCurve] = []
        # labels are HTML widgets beside the controls: the static page's widget manager would typeset a
        # ``description`` with the MathJax 2 API, which the book (MathJax 3) does not have
        self.defence = widgets.Dropdown(options=list(PANEL_DEFENCES), value="AT-L2")
        self.eps = widgets.FloatSlider(value=settings.train_eps, min=0.0, max=1.0, step=0.05)
        self.lam = widgets.FloatLogSlider(value=settings.train_config().lam, base=10, min=-2, max=2)
        self.button = widgets.Button(description="train and overlay", button_style="primary")
        self.status = widgets.HTML("Needs a live kernel (Colab or Jupyter): on the static page the controls do not act.")
        self.output = widgets.Output()
        self.button.on_click(self.retrain)
        # the Output joins the panel at the first click: the static page's widget manager cannot render one
        self.widget = widgets.VBox([widgets.HBox([widgets.HTML("defence"), self.defence, self.button]),
                                    widgets.HBox([widgets.HTML("training ε"), self.eps]), widgets.HBox([widgets.HTML("λ"), self.lam]),
                                    self.status])

    def retrain(self, _button=None) -> LiveCurve:
        """Train the chosen model, add its curve and redraw; returns the new curve."""
        self.status.value = f"training {self.defence.value} (ε = {self.eps.value:g}, λ = {self.lam.value:.3g}) …"
        run = live_curve(self.settings, self.dataset, self.grid, self.defence.value, self.eps.value, self.lam.value)
        self.live.append(run)
        self.status.value = f"{run.label}: clean error {run.clean_error:.1f} %, median distance {run.median:.3f}"
        if self.output not in self.widget.children:
            self.widget.children += (self.output,)
        self.output.clear_output(wait=True)
        with self.output:
            show(self.figure())
        return run

    def figure(self):
        """The reference curves with every curve trained so far (:func:`overlay_figure`)."""
        return overlay_figure(self.grid, self.reference, self.live, self.title)

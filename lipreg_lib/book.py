"""Helpers the book's chapters import: figure display that survives a static build, results, settings."""

from __future__ import annotations

import math
import os
import textwrap
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from .compare import lambda_trade
from .data import DATASETS, Split, display_name
from .results import errors_at, read_results
from .train import TrainConfig
from .train.recipes import with_recipe
from .validation import LipregError, check_choice


def quick_mode() -> bool:
    """Quick (CPU build) unless ``LIPREG_FULL=1``; a chapter's first cell may override it."""
    return os.environ.get("LIPREG_FULL", "0") != "1"


@dataclass(frozen=True)
class Settings:
    """What a chapter trains and attacks in one mode: ``training`` (the options of a
    :class:`TrainConfig`: network, recipe, epochs, the budget ε of adversarial training and tulip, λ),
    how many test images the attacks search (``None``: all) with how many PGD steps (``None``: the
    attack's default), the committed grid whose protocol full mode repeats (``grid``), the form of the
    Lipschitz penalty (eq. 12 of arXiv 1810.00953) that grid trains (``penalty``: ``lip``, double
    backward, or ``lip-fd``, its finite-difference form), and the λ values a penalty sweep tries in this
    mode with the λ of tulip beside them (``lambdas``, ``tulip_lam``)."""

    quick: bool
    dataset: str
    training: dict
    attack_images: int | None
    attack_steps: int | None = None
    grid: str | None = None
    penalty: str = "lip"
    lambdas: tuple[float, ...] = (0.0, 1.0, 3.0, 10.0, 30.0)
    tulip_lam: float = 10.0

    @property
    def tulip(self) -> str:
        """tulip in this mode's penalty form: 2-norm adversarial training plus :attr:`penalty`."""
        return f"at-l2+{self.penalty}"

    @property
    def train_eps(self) -> float:
        """The budget ε of adversarial training and tulip in this mode."""
        return self.train_config().eps

    def train_config(self, **options) -> TrainConfig:
        """A :class:`TrainConfig` of these settings; ``options`` (defence, λ, ε, …) override them."""
        return TrainConfig(**with_recipe({**self.training, "dataset": self.dataset, **options}))

    def attacked(self, split: Split) -> Split:
        """The first ``attack_images`` images of ``split`` (all of them when ``None``)."""
        return split.head(self.attack_images)

    def describe(self) -> str:
        """One line: data, network, recipe, epochs, ε, attacked images."""
        config = self.train_config()
        width = f" (width {config.width})" if config.width else ""
        recipe = f", '{self.training['recipe']}' recipe" if "recipe" in self.training else ""
        images = "all test images" if self.attack_images is None else f"the first {self.attack_images} test images"
        return (f"{self.dataset}, {config.model}{width}{recipe}, {config.epochs} epoch{'s' * (config.epochs != 1)}, "
                f"training ε = {config.eps:g}, Lipschitz penalty `{self.penalty}`, PGD-L2 distances on {images}")


QUICK_SETTINGS = Settings(True, "digits", {"model": "small-cnn", "epochs": 5, "eps": 0.3}, attack_images=None)
FULL_GRIDS = {"mnist": "mnist", "fashion-mnist": "fashion-mnist", "cifar10": "cifar10-fast"}
FULL_ATTACK_IMAGES = {"mnist": 1000, "fashion-mnist": 1000, "cifar10": 500}
# λ sweep and tulip's λ where the digits' (λ of order 10 before the penalty bites) do not carry over: on
# CIFAR-10 with the fast recipe λ = 1 and 10 stopped the network learning (the cifar10-fast grid's pilots),
# so its sweep brackets the grid's λ = 0.2 and ends where learning starts to fail.
FULL_PENALTY_SWEEPS = {"cifar10": ((0.0, 0.05, 0.2, 0.5, 1.0), 0.2)}


def grid_title(grid: str) -> str:
    """How the chapters name a committed grid of a data set: the data set, and the protocol where the
    grid's name gives one (``"cifar10-fast"`` → ``"CIFAR-10 (fast)"``, ``"mnist"`` → ``"MNIST"``);
    other grids by their file name."""
    dataset = next((d for d in DATASETS if grid == d or grid.startswith(f"{d}-")), None)
    if dataset is None:
        return grid
    protocol = grid.removeprefix(dataset).removeprefix("-")
    return display_name(dataset) + (f" ({protocol})" if protocol else "")


def settings(quick: bool | None = None, dataset: str | None = None) -> Settings:
    """The one switch every chapter reads. Quick (the default, the site's build): the embedded digits.
    Full (``LIPREG_FULL=1`` or ``quick=False``): ``dataset``, else ``LIPREG_DATASET``, else MNIST, trained
    with the protocol of its committed grid (``FULL_GRIDS``: the base options and attack steps recorded
    in ``data/results/<grid>.json``), so live curves and committed ones compare like with like."""
    if quick_mode() if quick is None else quick:
        return QUICK_SETTINGS
    name = check_choice("LIPREG_DATASET", dataset or os.environ.get("LIPREG_DATASET") or "mnist", FULL_GRIDS)
    committed = load_results(FULL_GRIDS[name])
    if committed is None:
        raise LipregError(f"full mode on {name!r} needs {FULL_GRIDS[name]}.json in {results_dir()}")
    training = {k: v for k, v in committed["grid"]["base"].items() if k != "dataset"}
    penalty = next(run["defence"] for run in committed["grid"]["runs"] if run["label"] == "Lipschitz penalty")
    sweep = dict(zip(("lambdas", "tulip_lam"), FULL_PENALTY_SWEEPS[name])) if name in FULL_PENALTY_SWEEPS else {}
    return Settings(False, name, training, FULL_ATTACK_IMAGES[name], committed["evaluation"]["steps"], FULL_GRIDS[name],
                    penalty, **sweep)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _timed(entry: dict) -> str:
    """One entry of ``chapter_times.json`` as the mode table gives it: the time, or for a run stopped by its
    limit, a lower bound and how far it got."""
    if entry.get("stopped"):
        return f"more than {_minutes(entry['seconds'])} (stopped in code cell {entry['stopped_in_cell']} of {entry['code_cells']})"
    return _minutes(entry["seconds"])


def mode_note(chapter: str, same: str | None = None):
    """The first lines of a chapter: what quick and full mode run here, and how long each took where it
    was timed (``data/results/chapter_times.json``, written by ``tools/time_chapters.py``); a time taken
    while the load average exceeded the cores by more than one (the chapter's own threads) is marked shared,
    and a run stopped by its time limit is given as the lower bound it is ("more than …").
    ``same``: for a chapter that runs the same cells in every mode, what they do (e.g. "reads the committed
    results and trains nothing")."""
    from IPython.display import Markdown

    record = load_results("chapter_times") or {"times": []}
    times = [t for t in record["times"] if t["chapter"] == chapter]

    def timed(mode: str) -> str:
        found = [f"{_timed(t)} on {t['device']}" + (" shared with other jobs" if t.get("load_average", 0) > t.get("cpu_count", 1) + 1 else "")
                 for t in times if t["mode"] == mode]
        return "; ".join(found) or "not timed yet"

    current = settings()
    shown = "quick" if current.quick else f"full ({current.dataset})"
    if same is not None:
        return Markdown(f"**Modes.** This chapter {same}: quick and full mode run the same cells ({timed('quick')}). "
                        f"This copy runs in {shown} mode.")
    rows = [("quick (default; the site)", QUICK_SETTINGS, "quick")]
    rows += [(f"full: `LIPREG_FULL=1 LIPREG_DATASET={name}`", settings(False, name), name) for name in FULL_GRIDS]
    lines = ["| mode | trains and attacks | time to run this chapter |", "|---|---|---|"]
    lines += [f"| {label} | {mode.describe()} | {timed(key)} |" for label, mode, key in rows]
    return Markdown(f"**Modes.** This copy runs in **{shown}** mode. Set the environment variables before the first "
                    "cell (on Colab: a first cell `%env LIPREG_FULL=1`), or write `S = settings(quick=False, dataset=...)` below. "
                    "Full mode repeats the protocol of the committed grid of its data set, so its curves compare "
                    "with the committed ones. Slower attacks run on fewer images; the chapter says how many where it runs them. "
                    "Each time names the machine it was measured on (a Colab GPU, a T4 on the free tier, has not been timed).\n\n" + "\n".join(lines))


TITLE_CHARS = 40   # characters of a 17-px plotly title that fit the 358-px figure of a 390-px phone page


def wrap_text(text: str, chars: int = TITLE_CHARS) -> str:
    """``text`` broken with ``<br>`` between words so that no line is longer than ``chars`` characters
    (plotly.js never wraps a title or a tick label: a long one runs off a phone's screen), never inside "name = value".
    An existing ``<br>`` is kept, and a ``<sup>…</sup>`` subtitle line, drawn at 70 % size, is wrapped at
    ``chars / 0.7``."""
    lines = []
    for line in text.split("<br>"):
        small = line.startswith("<sup>") and line.endswith("</sup>")
        body = line[5:-6] if small else line
        glued = body.replace(" = ", "\u00a0=\u00a0")   # "ε = 0.1" stays on one line (textwrap breaks only at ASCII spaces)
        parts = textwrap.wrap(glued, round(chars / 0.7) if small else chars, break_long_words=False, break_on_hyphens=False) or [body]
        lines += [f"<sup>{part}</sup>" if small else part for part in (p.replace("\u00a0=\u00a0", " = ") for p in parts)]
    return "<br>".join(lines)


def _fit_titles(fig) -> None:
    """Wrap the title of ``fig``, and every title a slider step or a button sets, to fit a phone
    (:func:`wrap_text`, scaled by the title's font size). The title hangs from the top of the figure, and
    the top margin and the height grow by its lines beyond the first, so the plot keeps its size and nothing
    above it (buttons, subplot titles) moves into the title."""
    size = fig.layout.title.font.size or 17
    chars = round(TITLE_CHARS * 17 / size)
    titles = []
    if fig.layout.title.text:
        fig.layout.title.text = wrap_text(fig.layout.title.text, chars)
        titles.append(fig.layout.title.text)
    for step in [step for slider in fig.layout.sliders for step in slider.steps] + [b for menu in fig.layout.updatemenus for b in menu.buttons]:
        layout = {"update": 1, "relayout": 0}.get(step.method)   # where the step's layout changes sit in its args
        if layout is not None and len(step.args) > layout and step.args[layout].get("title.text"):
            args = list(step.args)
            args[layout] = {**args[layout], "title.text": wrap_text(args[layout]["title.text"], chars)}
            step.args = args
            titles.append(args[layout]["title.text"])
    if not titles:
        return
    line = 1.3 * size   # a line of the title; a <sup> line is 70 % of it
    extra = round(max(sum(0.7 * line if part.startswith("<sup>") else line for part in t.split("<br>")) for t in titles) - line)
    height = (fig.layout.height or 450) + extra   # 450: plotly's default height
    # plotly.js anchors a title of several lines by its first line (the others hang below it, whatever the
    # yanchor), so the first line's middle goes 24 px below the top
    fig.update_layout(title=dict(y=1 - 24 / height, yref="container", yanchor="middle"), margin_t=fig.layout.margin.t + extra, height=height)


def show(fig) -> None:
    """Display a plotly figure as both its JSON mimetype (live notebooks, Colab) and an HTML div using
    the page's local ``plotly.min.js`` (the static site: a plain ``fig.show()`` is silently dropped).
    Titles are wrapped to fit a phone (:func:`wrap_text`)."""
    from IPython.display import display

    fig.update_layout(template="plotly_white", margin={**dict(l=60, r=20, t=50, b=50), **fig.layout.margin.to_plotly_json()})  # a figure's own margins win
    _fit_titles(fig)
    html = fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False)
    display({"application/vnd.plotly.v1+json": fig.to_plotly_json(), "text/html": html}, raw=True)


HEADERS = {"label": "variant", "test_error": "% test error", "test_error_flip_tta": "% test error (flip TTA)",
           "error_eps0": "% err ε=0", "error_eps0.1": "% err ε=0.1", "median_distance": "median distance",
           "max_loss_gradient": "max ‖∇ℓ‖ (batch mean)", "max_loss_gradient_per_example": "max ‖∇ℓᵢ‖",
           "max_jacobian_norm": "max ‖∇f‖₂,∞", "epoch_seconds": "s / epoch", "eval_n": "images",
           "masking_failure_share": "white fails, black fools", "masking_ratio": "black / white distance",
           "masking_n": "images (masking)"}


def readable(frame, digits: int = 3):
    """A results frame as a reader's table: the result files' column names in words (``HEADERS``), numbers
    rounded to ``digits``, a missing value as "—", and the variant as the row name (no 0, 1, 2… column)."""
    frame = frame.rename(columns=HEADERS).round(digits).astype(object).where(frame.notna().to_numpy(), "—")
    return frame.set_index("variant") if "variant" in frame else frame


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
    return read_results(path) if path.exists() else None


def load_runs(name: str) -> list[dict] | None:
    """The rows of the committed grid ``name`` together with those of ``<name>-seeds`` (further seeds of the
    same protocol, a grid of its own) when that exists; ``None`` if ``name`` is not produced yet."""
    results = load_results(name)
    if results is None:
        return None
    return results["runs"] + (load_results(f"{name}-seeds") or {"runs": []})["runs"]


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


def defences_slider(errors: dict, epsilons, title: str, reference: str = "baseline"):
    """Horizontal bars of the % error of every defence (``errors[label]`` = one value per ε of ``epsilons``;
    the labels read across, on a phone too), with a slider over ε: move it and see which defence keeps its
    accuracy under attack. The ``reference`` variant (when present) is drawn grey and its error at the
    chosen ε as a dashed line through all bars."""
    import plotly.graph_objects as go

    labels = list(errors)
    frames = [[errors[label][k] for label in labels] for k in range(len(epsilons))]
    colours = ["grey" if label == reference else "royalblue" for label in labels]
    fig = go.Figure(go.Bar(y=labels, x=frames[0], orientation="h", text=[f"{v:.1f}" for v in frames[0]], textposition="outside",
                           marker_color=colours, name="% error", showlegend=False))
    line = (lambda k: [errors[reference][k]] * len(labels)) if reference in errors else None
    if line:
        fig.add_scatter(y=labels, x=line(0), mode="lines", line=dict(dash="dash", color="grey"), name=f"{reference} at this ε")
    steps = [dict(method="restyle", label=f"{eps:g}",
                  args=[{"x": [frame] + ([line(k)] if line else []), "text": [[f"{v:.1f}" for v in frame]] + ([None] if line else [])}])
             for k, (eps, frame) in enumerate(zip(epsilons, frames))]
    fig.update_layout(sliders=[dict(active=0, steps=steps, currentvalue={"prefix": "attack budget ε = "}, pad={"t": 50})],
                      title=title, xaxis_title="% error under PGD-L2", xaxis_range=[0, 110], height=200 + 32 * len(labels),
                      yaxis=dict(autorange="reversed", automargin=True),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"))
    return fig


def log_vline(fig, x: float, text: str, row: int | None = None, col: int | None = None) -> None:
    """A dotted vertical line at ``x`` on a *log* x axis, labelled ``text`` at its top. ``fig.add_vline``
    places the line right but its label at ``10**x`` (plotly.js reads annotations on log axes as ``log10``
    of the value), so the label is added here at ``log10(x)``."""
    fig.add_vline(x=x, line_dash="dot", row=row, col=col)
    fig.add_annotation(x=math.log10(x), y=1, yref="y domain", text=text, showarrow=False, xanchor="left", yanchor="top",
                       row=row, col=col)


def lambda_slider(runs, grid, title: str, paper_lam: float):
    """A committed λ grid (``runs``: λ = 0 and penalised λ, one or more seeds) as one figure with a slider over
    the penalised λ, starting at the paper's λ (``paper_lam``). Top: the % error against ε on ``grid`` at the
    chosen λ (mean over seeds) beside λ = 0's (grey, dashed). Bottom: median distance and clean error against
    λ (:func:`lipreg_lib.compare.lambda_trade`; lines the means, open circles the seeds), the paper's λ dotted
    and the chosen λ marked on both curves. Returns ``(figure, trade)``."""
    from plotly.subplots import make_subplots

    trade = lambda_trade(runs, paper_lam)
    xs = [float(eps) for eps in grid]
    by_label = errors_at(runs, xs)                                    # one label per λ, seeds pooled
    curve = {float(run["lam"]): by_label[run["label"]] for run in runs}
    at = {lam: (median, error) for lam, median, error in zip(trade["lams"], trade["median"], trade["error"])}
    lams = [lam for lam in trade["lams"] if lam > 0]
    several = len(trade["seeds"]) > 1
    fig = make_subplots(rows=2, cols=1, specs=[[{}], [{"secondary_y": True}]], vertical_spacing=0.16,
                        subplot_titles=("% error against the attack budget ε", "median distance and clean error against λ"))

    def name(lam: float) -> str:
        return f"λ = {lam:g}: median {at[lam][0]:.3f}, clean error {at[lam][1]:.2f} %"

    fig.add_scatter(x=xs, y=curve[0.0], name=name(0.0), line=dict(dash="dash", color="grey"), row=1, col=1)
    fig.add_scatter(x=xs, y=curve[paper_lam], name=name(paper_lam), line_color="#1f77b4", row=1, col=1)
    chosen = len(fig.data) - 1
    for key, k, right, colour in (("median", 0, False, "#1f77b4"), ("error", 1, True, "#d62728")):
        label = "median distance (left)" if k == 0 else "clean error % (right)"
        fig.add_scatter(x=lams, y=[at[lam][k] for lam in lams], mode="lines", name=label, line_color=colour, row=2, col=1, secondary_y=right)
        if several:
            seeds = [(lam, v) for lam, vs in zip(trade["lams"], trade[f"{key} seeds"]) if lam > 0 for v in vs]
            fig.add_scatter(x=[p[0] for p in seeds], y=[p[1] for p in seeds], mode="markers", marker=dict(color=colour, symbol="circle-open"),
                            name="one seed", showlegend=k == 0, row=2, col=1, secondary_y=right)
    marks = [len(fig.data), len(fig.data) + 1]
    for k, right, colour in ((0, False, "#1f77b4"), (1, True, "#d62728")):
        fig.add_scatter(x=[paper_lam], y=[at[paper_lam][k]], mode="markers", marker=dict(size=14, color=colour, line=dict(width=2, color="black")),
                        name="chosen λ", showlegend=k == 0, row=2, col=1, secondary_y=right)
    fig.add_hline(y=at[0.0][0], line_dash="dash", line_color="grey", annotation_text="median at λ = 0", row=2, col=1)
    log_vline(fig, paper_lam, f" the paper's λ = {paper_lam:g}", row=2, col=1)
    steps = [dict(method="restyle", label=f"{lam:g}", args=[{"y": [curve[lam], [at[lam][0]], [at[lam][1]]], "x": [xs, [lam], [lam]],
                                                            "name": [name(lam), "chosen λ", "chosen λ"]}, [chosen] + marks]) for lam in lams]
    fig.update_xaxes(title="ε", row=1, col=1)
    fig.update_yaxes(title="% error (PGD-L2)", range=[0, 104], row=1, col=1)   # the 100 label stays below the subplot's title
    span = [math.log10(lams[0]) - 0.15, math.log10(lams[-1]) + 0.15]   # the penalised λ only: no room for the annotations' text
    fig.update_xaxes(type="log", range=span, title="λ (authors' convention, batch-mean loss)", row=2, col=1)
    fig.update_yaxes(title="median distance", secondary_y=False, row=2, col=1)
    fig.update_yaxes(title="clean error (%)", tickformat=".1f", secondary_y=True, row=2, col=1)
    seeds = f"{len(trade['seeds'])} seeds, means" if several else "one seed"
    fig.update_layout(title=f"{title}, Lipschitz penalty as λ grows<br><sup>committed reduced runs, {runs[0]['eval_n']} attacked test images, {seeds}</sup>",
                      sliders=[dict(active=lams.index(paper_lam), steps=steps, currentvalue={"prefix": "λ = "}, pad={"t": 50})],
                      height=820, margin=dict(t=120), legend=dict(orientation="h", y=-0.32))
    return fig, trade


def group_buttons(fig, owner: list[int], titles: list[str], layouts: list[dict] | None = None) -> None:
    """A row of buttons over ``fig``, one per group of traces (a data set): button ``k`` shows the traces
    ``j`` with ``owner[j] == k``, hides the others and applies ``layouts[k]`` with them (plotly.js paths such
    as ``{"xaxis.range": [0, 1]}``); the first group is shown to start with."""
    if len(owner) != len(fig.data) or len(set(owner)) != len(titles):
        raise ValueError(f"owner names {len(set(owner))} groups for {len(fig.data)} traces; expected {len(titles)} groups, one per trace")
    layouts = layouts or [{} for _ in titles]
    buttons = [dict(label=title, method="update", args=[{"visible": [o == k for o in owner]}, layouts[k]])
               for k, title in enumerate(titles)]
    for trace, o in zip(fig.data, owner):
        trace.visible = o == 0
    fig.update_layout(updatemenus=[dict(buttons=buttons, direction="right", type="buttons", x=0, y=1.02, xanchor="left", yanchor="bottom")],
                      **{path.replace(".", "_"): value for path, value in layouts[0].items()})


def _picture(image):
    """A (C, H, W) image in [0, 1] as a plotly trace: grey levels for one channel, RGB for three."""
    import plotly.graph_objects as go

    image = image.detach().cpu().float().clamp(0, 1)
    if image.shape[0] == 1:
        return go.Heatmap(z=image[0].flip(0).numpy(), colorscale="gray_r", zmin=0, zmax=1, showscale=False)
    return go.Image(z=(255 * image.permute(1, 2, 0)).round().byte().numpy())


def amplified(delta):
    """A perturbation made visible: ``0.5 + δ / (2 max|δ|)`` (grey = unchanged pixel)."""
    return 0.5 + delta / (2 * (float(delta.abs().max()) or 1.0))


def _square_panels(fig, panels: int) -> None:
    for n in ["" if k == 1 else str(k) for k in range(1, panels + 1)]:
        fig.layout[f"xaxis{n}"].update(visible=False)
        fig.layout[f"yaxis{n}"].update(visible=False, scaleanchor=f"x{n}")


def gallery_figure(clean, frames, true_label: int, title: str):
    """Clean image | perturbation (:func:`amplified`) | adversarial image, with a slider over the budgets
    of ``frames`` = ``[(ε, adversarial (C,H,W), predicted label)]``. The prediction is written in each
    slider step's title; one or three channels."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=3, subplot_titles=("clean", "perturbation<br>(amplified)", "adversarial"))
    fig.add_trace(_picture(clean), row=1, col=1)
    for k, (eps, adversarial, _) in enumerate(frames):
        for col, image in ((2, amplified(adversarial - clean)), (3, adversarial)):
            trace = _picture(image)
            trace.visible = k == 0
            fig.add_trace(trace, row=1, col=col)
    titles = [f"{title}: ε = {eps:g}, ‖δ‖₂ = {float((adv - clean).norm()):.2f} → predicted {label} (true {true_label})"
              for eps, adv, label in frames]
    steps = [dict(method="update", label=f"{eps:g}",
                  args=[{"visible": [True] + [j // 2 == k for j in range(2 * len(frames))]}, {"title.text": text}])
             for k, ((eps, _, _), text) in enumerate(zip(frames, titles))]
    fig.update_layout(sliders=[dict(active=0, steps=steps, currentvalue={"prefix": "ε = "}, pad={"t": 30})],
                      title=dict(text=titles[0]), height=420, margin=dict(t=80))   # room for the two-line panel title
    fig.update_annotations(font_size=13)   # the panels' titles side by side on a phone
    _square_panels(fig, 3)
    return fig


def attack_gallery_figure(record: dict, title: str):
    """One row per attack of a stored gallery (:mod:`lipreg_lib.evaluate.gallery`): clean image |
    amplified perturbation | adversarial image, the clean panel titled with the attack and the true class,
    the adversarial one with ‖δ‖₂ and the prediction (short enough for a phone); a slider over the stored images."""
    from plotly.subplots import make_subplots

    from .evaluate.gallery import gallery_images

    examples, attacks, classes = gallery_images(record), record["attacks"], record["classes"]
    fig = make_subplots(rows=len(attacks), cols=3, vertical_spacing=0.08, horizontal_spacing=0.03,
                        subplot_titles=[part for _ in attacks for part in ("clean", "perturbation", "adversarial")])
    for k, (clean, _, adversarial) in enumerate(examples):
        for row, name in enumerate(attacks, start=1):
            image, _, _ = adversarial[name]
            for col, picture in enumerate((clean, amplified(image - clean), image), start=1):
                trace = _picture(picture)
                trace.visible = k == 0
                fig.add_trace(trace, row=row, col=col)
    per_image = 3 * len(attacks)

    def row_titles(clean, label, adversarial):
        return {f"annotations[{3 * r + 2}].text": f"‖δ‖₂ = {adversarial[name][2]:.3f} → {classes[adversarial[name][1]]}"
                for r, name in enumerate(attacks)} | {f"annotations[{3 * r}].text": f"{name}: clean, {classes[label]}" for r, name in enumerate(attacks)}

    steps = [dict(method="update", label=str(k + 1),
                  args=[{"visible": [j // per_image == k for j in range(per_image * len(examples))]}, row_titles(*example)])
             for k, example in enumerate(examples)]
    fig.update_layout(sliders=[dict(active=0, steps=steps, currentvalue={"prefix": "image "}, pad={"t": 20})],
                      title=dict(text=title, font_size=14), height=260 * len(attacks) + 140, margin=dict(l=10, r=10, t=100))
    fig.update_annotations(font_size=12)
    fig.update_layout(row_titles(*examples[0]))
    _square_panels(fig, per_image)
    return fig

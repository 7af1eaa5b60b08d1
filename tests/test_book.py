"""The book's sources: outputs stripped in git, machinery imported from lipreg_lib, every chapter in the TOC."""

import json
import math
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def test_there_are_an_introduction_and_nine_chapters():
    names = [p.stem for p in NOTEBOOKS]
    assert (ROOT / "book" / "intro.md").is_file(), "the introduction runs no code: a page, not a notebook with a Colab button"
    assert len(names) == 9 and all(name[:2].isdigit() for name in names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped_and_imports_the_library(path):
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs before committing"
    source = "\n".join("".join(c["source"]) for c in code)
    assert "from lipreg_lib" in source
    assert "fig.show()" not in source, "use lipreg_lib.book.show: fig.show() vanishes from the static site"
    assert "QUICK" not in source and "TrainConfig(" not in source or path.stem == "05_lipschitz_constants", \
        "chapters train through settings().train_config(): the one quick/full switch"
    assert f"mode_note({path.stem!r}" in "".join(code[1]["source"]), "the cell after the install cell states the modes"
    opening = "".join(notebook["cells"][0]["source"]).split("\n\n")
    assert len(opening) == 2 and opening[1].startswith("**Question"), "a chapter opens with its title and question, then its modes"


def test_the_quick_full_switch_is_one_environment_variable(monkeypatch):
    from lipreg_lib.book import quick_mode

    monkeypatch.delenv("LIPREG_FULL", raising=False)
    assert quick_mode()
    monkeypatch.setenv("LIPREG_FULL", "1")
    assert not quick_mode()


def test_chapters_name_a_grid_by_its_data_set_and_protocol():
    from lipreg_lib.book import FULL_GRIDS, grid_title

    assert [grid_title(g) for g in FULL_GRIDS.values()] == ["MNIST", "Fashion-MNIST", "CIFAR-10 (fast)"]
    assert grid_title("cifar100") == "CIFAR-100" and grid_title("mnist-seeds") == "MNIST (seeds)"
    assert grid_title("my-grid") == "my-grid"


def test_full_mode_repeats_the_committed_grid_of_its_data_set(monkeypatch):
    from lipreg_lib.book import FULL_GRIDS, QUICK_SETTINGS, load_results, settings
    from lipreg_lib.panel import panel_config
    from lipreg_lib.validation import LipregError

    monkeypatch.setenv("LIPREG_FULL", "1")
    monkeypatch.setenv("LIPREG_DATASET", "fashion-mnist")
    full = settings()
    base = load_results("fashion-mnist")["grid"]["base"]
    config = full.train_config(defence="at-l2")
    assert (config.dataset, config.model, config.width, config.epochs, config.eps) == \
        ("fashion-mnist", base["model"], base["width"], base["epochs"], base["eps"]) and config.defence == "at-l2"
    cifar = settings(dataset="cifar10").train_config()
    base_cifar = load_results("cifar10-fast")["grid"]["base"]
    # the panel trains the Lipschitz penalty in the form the committed curves it is drawn over were trained with
    assert [panel_config(settings(dataset="cifar10"), d, 0.1, 0.2).defence for d in ("Lipschitz penalty", "tulip")] == \
        ["lip-fd", "at-l2+lip-fd"]
    assert (cifar.model, cifar.batch_size, cifar.schedule, cifar.epochs) == ("fast-cnn", 256, "one-cycle", 4)  # the fast recipe
    assert settings(quick=True) is QUICK_SETTINGS and QUICK_SETTINGS.train_config().dataset == "digits"
    for name in ("mnist", "cifar10"):   # the penalty form each grid trains its Lipschitz variant with
        grid_runs = load_results(FULL_GRIDS[name])["grid"]["runs"]
        assert settings(dataset=name).penalty == next(r["defence"] for r in grid_runs if r["label"] == "Lipschitz penalty")
    assert settings(dataset="cifar10").penalty == "lip-fd" and settings(dataset="cifar10").tulip_lam == base_cifar["lam"]
    monkeypatch.setenv("LIPREG_DATASET", "svhn")
    with pytest.raises(LipregError, match="'svhn'"):
        settings()


def test_the_mode_note_states_what_each_mode_runs_and_the_measured_times():
    from lipreg_lib.book import FULL_GRIDS, load_results, mode_note, settings

    note = mode_note("01_adversarial_examples").data
    for name in FULL_GRIDS:
        assert f"LIPREG_DATASET={name}" in note and settings(False, name).describe() in note
    timed = [t for t in load_results("chapter_times")["times"] if t["chapter"] == "01_adversarial_examples" and t["mode"] == "quick"]
    assert timed and all(t["device"] in note for t in timed)
    assert "not timed yet" in mode_note("99_no_such_chapter").data


def test_the_live_panel_trains_the_chosen_defence_and_overlays_it_on_the_reference(monkeypatch):
    import torch

    from lipreg_lib.book import QUICK_SETTINGS
    from lipreg_lib.data import load_dataset
    from lipreg_lib import panel as panel_module
    from lipreg_lib.panel import RetrainPanel

    digits = load_dataset("digits")
    settings = type(QUICK_SETTINGS)(True, "digits", {"model": "mlp", "epochs": 1, "eps": 0.3}, attack_images=40, attack_steps=5)
    grid = torch.linspace(0, 2, 11)
    reference = {"reference": torch.full((11,), 50.0)}
    panel = RetrainPanel(settings, digits, grid, reference, "test")
    assert panel.output not in panel.widget.children   # no Output widget on the static page (its manager fails on one)
    assert not any(w.description for w in (panel.defence, panel.eps, panel.lam))  # typeset with MathJax 2 there: console errors
    trained = []
    real_train = panel_module.train
    monkeypatch.setattr(panel_module, "train", lambda config, **kw: trained.append(config) or real_train(config, **kw))
    panel.defence.value, panel.eps.value, panel.lam.value = "tulip", 0.5, 3.0
    panel.button.click()
    (config,) = trained
    assert (config.defence, config.eps, config.lam, config.model) == ("at-l2+lip", 0.5, 3.0, "mlp")
    (run,) = panel.live
    assert run.label == "live: tulip, ε = 0.5, λ = 3" and run.curve.shape == grid.shape and torch.all(run.curve[1:] >= run.curve[:-1])
    traces = panel.figure().data
    assert [t.name for t in traces][0] == "reference" and len(traces) == 2 and list(traces[1].y) == run.curve.tolist()
    assert "clean error" in panel.status.value and panel.widget.children[-1] is panel.output


def test_toc_lists_every_chapter_and_the_api_page():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {toc["root"]} | {entry["file"] for entry in toc["chapters"]}
    assert {f"book/{p.stem}" for p in NOTEBOOKS} <= listed and "book/api" in listed


def test_the_api_page_reads_as_text_without_sphinx_roles_or_repeated_signatures():
    import importlib.util

    spec = importlib.util.spec_from_file_location("api_page", ROOT / "tools" / "api_page.py")
    api_page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(api_page)
    text = api_page.page()
    assert ":func:`" not in text and ":mod:`" not in text and ":class:`" not in text
    assert "### `flat_norms(v: 'torch.Tensor') -> 'torch.Tensor'`" in text   # the signature once, in the heading
    assert "```text\nflat_norms(" not in text
    assert api_page.plain("see :func:`~lipreg_lib.train.train` and :mod:`.devices`") == "see lipreg_lib.train.train and .devices"


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


def test_the_defences_slider_shows_each_defences_error_at_each_budget():
    from lipreg_lib.book import defences_slider
    from lipreg_lib.results import errors_at

    runs = [{"label": "a", "distances": [0.0, 0.05, 0.2, None]}, {"label": "a", "distances": [0.0, 0.3, 0.3, 0.3]},
            {"label": "b", "distances": [0.1, 0.1, 0.1, 0.1]}]
    errors = errors_at(runs, [0.0, 0.1])
    assert errors == {"a": [25.0, 37.5], "b": [0.0, 100.0]}  # seeds of "a" averaged: (25+25)/2, (50+25)/2
    fig = defences_slider(errors, [0.0, 0.1], "t")
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["0", "0.1"] and list(steps[1].args[0]["x"][0]) == [37.5, 100.0]
    assert list(fig.data[0].y) == ["a", "b"] and list(fig.data[0].x) == [25.0, 0.0] and fig.data[0].orientation == "h"
    fig = defences_slider(errors, [0.0, 0.1], "t", reference="b")   # the reference's error at each ε, through all bars
    assert list(fig.data[1].x) == [0.0, 0.0] and list(fig.layout.sliders[0].steps[1].args[0]["x"][1]) == [100.0, 100.0]
    assert list(fig.data[0].marker.color) == ["royalblue", "grey"]


def test_the_slider_figure_keeps_the_baseline_beside_every_value():
    from lipreg_lib.book import slider_figure

    fig = slider_figure([0, 1], [0.1, 1.0], [([0, 50], 0.5), ([0, 20], 0.9)], "λ", "t", reference=("baseline", [0, 80]))
    assert [list(step.args[0]["visible"]) for step in fig.layout.sliders[0].steps] == [[True, False, True], [False, True, True]]
    assert fig.data[-1].name == "baseline" and list(fig.data[-1].y) == [0, 80]


def test_the_lambda_slider_moves_the_curve_and_the_marks_to_each_lambdas_seed_mean_and_starts_at_the_papers():
    from lipreg_lib.book import lambda_slider

    def run(lam, seed, dists, median, error):
        return {"label": f"lam={lam}", "lam": lam, "seed": seed, "distances": dists, "median_distance": median, "test_error": error, "eval_n": 4}

    runs = [run(0.0, 0, [0.0, 1.0, 1.0, 3.0], 1.0, 25.0), run(0.0, 1, [0.0, 1.0, 3.0, 3.0], 1.0, 25.0),
            run(0.01, 0, [1.0, 1.0, 1.0, 1.0], 1.0, 0.0), run(0.01, 1, [1.0, 1.0, 1.0, 1.0], 1.0, 0.0),
            run(0.1, 0, [0.0, 2.0, 2.0, 2.0], 2.0, 20.0), run(0.1, 1, [0.0, 3.0, 3.0, None], 3.0, 30.0),
            run(1.0, 0, [0.0, 0.0, 0.0, 0.0], 0.0, 100.0), run(1.0, 1, [0.0, 0.0, 0.0, 0.0], 0.0, 100.0)]
    fig, trade = lambda_slider(runs, [0.0, 1.5], "t", paper_lam=0.1)
    slider = fig.layout.sliders[0]
    assert [step.label for step in slider.steps] == ["0.01", "0.1", "1"] and slider.active == 1   # λ = 0 is the reference, not a step
    curve, *marks = slider.steps[1].args[1]
    assert list(fig.data[curve].y) == [25.0, 25.0]                 # error at ε = 0 and 1.5, mean over the two seeds (25 % and 25 %)
    assert list(fig.data[0].y) == [25.0, 62.5] and fig.data[0].line.dash == "dash"   # λ = 0: 50 % and 75 % at ε = 1.5
    step = slider.steps[2].args[0]
    assert step["y"][0] == [100.0, 100.0] and step["y"][1:] == [[0.0], [100.0]] and step["x"][1:] == [[1.0], [1.0]]
    assert [list(fig.data[m].y) for m in marks] == [[2.5], [25.0]]  # the paper's λ: mean median (2 and 3), mean clean error
    assert "median 2.500" in fig.data[curve].name and trade["changes"] == [100.0, 200.0]


def test_a_grids_runs_come_with_those_of_its_further_seeds_grid():
    from lipreg_lib.book import load_results, load_runs

    merged = load_runs("mnist-lambda")   # grids/mnist-lambda.yaml (seed 0) and grids/mnist-lambda-seeds.yaml (seed 1)
    assert len(merged) == len(load_results("mnist-lambda")["runs"]) + len(load_results("mnist-lambda-seeds")["runs"])
    assert {run["seed"] for run in merged} == {0, 1}
    assert load_runs("cifar10-lambda") == load_results("cifar10-lambda")["runs"]   # no further-seeds grid
    assert load_runs("no-such-grid") is None


def test_a_line_on_a_log_axis_gets_its_label_at_the_lines_place():
    import plotly.graph_objects as go

    from lipreg_lib.book import log_vline

    fig = go.Figure(go.Scatter(x=[0.01, 1], y=[0, 1]))
    fig.update_xaxes(type="log")
    log_vline(fig, 0.2, "the paper's λ")
    assert fig.layout.shapes[0].x0 == 0.2                                  # shapes take the value on a log axis
    assert fig.layout.annotations[0].x == pytest.approx(math.log10(0.2))   # annotations take its log10


def test_the_gallery_shows_clean_perturbation_and_adversarial_with_the_prediction_in_every_step():
    import torch

    from lipreg_lib.book import gallery_figure

    clean = torch.full((1, 4, 4), 0.5)
    frames = [(0.0, clean.clone(), 3), (1.0, clean + 0.25, 7)]
    fig = gallery_figure(clean, frames, 3, "img")
    steps = fig.layout.sliders[0].steps
    assert [list(s.args[0]["visible"]) for s in steps] == [[True, True, True, False, False], [True, False, False, True, True]]
    assert steps[1].args[1]["title.text"] == "img: ε = 1, ‖δ‖₂ = 1.00 → predicted 7 (true 3)"
    assert fig.data[3].z.max() == 1.0  # the perturbation is amplified to the full range


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem[:2].isdigit()], ids=lambda p: p.name)
def test_every_chapter_ends_with_exercises(path):
    markdown = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    assert "Exercises" in markdown, "a chapter ends with exercises"
    assert ":class: dropdown" in markdown, "with folded solutions"


def test_the_bibliography_has_every_key_the_chapters_cite():
    import re

    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.MULTILINE))
    cited = set()
    for path in [*NOTEBOOKS, *(ROOT / "book").glob("*.md")]:
        cited |= {k.strip() for group in re.findall(r"\{cite(?::t|:p)?\}`([^`]+)`", path.read_text()) for k in group.split(",")}
    assert cited and cited <= keys, cited - keys


def test_a_stored_gallery_keeps_real_adversarial_examples_and_the_figure_shows_each_attack():
    import torch

    from lipreg_lib.attacks import run_attack
    from lipreg_lib.book import attack_gallery_figure
    from lipreg_lib.data import Split, load_dataset
    from lipreg_lib.evaluate.gallery import gallery_images, gallery_record
    from lipreg_lib.train import TrainConfig, train
    from lipreg_lib.validation import LipregError

    digits = load_dataset("digits")
    model = train(TrainConfig(model="mlp", epochs=2), dataset=digits, progress=False).model.eval()
    test = Split(digits.test.x[:30], digits.test.y[:30])
    record = json.loads(json.dumps(gallery_record(model, test, "digits", ["fgsm", "pgd-l2"], 3)))  # survives JSON
    pgd = run_attack(model, test, "pgd-l2").distances
    examples = gallery_images(record)
    assert len(examples) == 3
    for entry, (clean, label, adversarial) in zip(record["images"], examples):
        assert torch.equal(clean, test.x[entry["index"]].float() / 255) and label == int(test.y[entry["index"]])
        for name, (image, predicted, distance) in adversarial.items():
            with torch.no_grad():
                assert int(model(image[None]).argmax(1)) == predicted != label, name
            assert abs(float((image - clean).norm()) - distance) < 1e-3 * max(distance, 1)
        assert adversarial["pgd-l2"][2] == pytest.approx(float(pgd[entry["index"]]))
    with pytest.raises(LipregError, match="n = 31 exceeds the 30 images given"):   # before any attack runs
        gallery_record(model, test, "digits", ["fgsm"], 31)
    mislabelled = Split(test.x, torch.cat([(test.y[:1] + 1) % 10, test.y[1:]]))   # image 0 misclassified clean: never usable
    with pytest.raises(LipregError, match=r"only \d+ of 30 images are correctly classified and fooled by every attack; asked for n = 30"):
        gallery_record(model, mislabelled, "digits", ["fgsm"], 30)
    fig = attack_gallery_figure(record, "test")
    assert len(fig.data) == 3 * 2 * 3 and len(fig.layout.sliders[0].steps) == 3
    second = fig.layout.sliders[0].steps[1].args
    assert [v for v in second[0]["visible"]] == [6 <= j < 12 for j in range(18)]
    assert second[1]["annotations[3].text"] == f"pgd-l2: clean, {examples[1][1]}"
    assert second[1]["annotations[5].text"] == f"‖δ‖₂ = {examples[1][2]['pgd-l2'][2]:.3f} → {examples[1][2]['pgd-l2'][1]}"


def test_show_wraps_every_title_a_figure_can_show_to_fit_a_phone(capsys):
    import re

    import plotly.graph_objects as go

    from lipreg_lib.book import TITLE_CHARS, show, wrap_text

    title = "Fashion-MNIST, Lipschitz penalty as λ grows, one curve per λ of the committed grid"
    subtitle = "committed reduced runs, 2000 attacked test images, seeds 0 and 1 averaged over both of them"
    fig = go.Figure()
    fig.update_layout(height=440, title=f"{title}<br><sup>{subtitle}</sup>",
                      sliders=[dict(steps=[dict(method="update", label="1", args=[{}, {"title.text": title + " again"}]),
                                           dict(method="restyle", label="2", args=[{"x": [[1]]}, [0]]),   # a restyle's args[1]: traces
                                           dict(method="update", label="3", args=[{"visible": [True]}])])],   # no layout change
                      updatemenus=[dict(buttons=[dict(method="relayout", label="3", args=[{"title.text": title}])])])
    show(fig)
    lines = fig.layout.title.text.split("<br>")
    plain = [re.sub("</?sup>", "", line) for line in lines]
    big = sum(not line.startswith("<sup>") for line in lines)           # the title's lines, then the subtitle's
    assert big >= 2 and len(lines) - big >= 2 and all(line.startswith("<sup>") == (k >= big) for k, line in enumerate(lines))
    assert " ".join(plain) == f"{title} {subtitle}"                     # every word kept, in order
    assert all(len(line) <= TITLE_CHARS for line in plain[:big]) and all(len(line) <= TITLE_CHARS / 0.7 for line in plain[big:])
    extra = round((big - 1 + 0.7 * (len(lines) - big)) * 1.3 * 17)
    step = fig.layout.sliders[0].steps[0].args[1]["title.text"]
    assert "<br>" in step and step.replace("<br>", " ") == title + " again"
    assert wrap_text("gallery: " + "x" * 30 + " ε = 0.1, predicted 3", 44).split("<br>")[1].startswith("ε = 0.1")   # kept together
    assert wrap_text("Lipschitz penalty, finite diff. (lip-fd)", 18).split("<br>")[-1] == "(lip-fd)"      # a name is not split at its hyphen
    assert fig.layout.updatemenus[0].buttons[0].args[0]["title.text"].replace("<br>", " ") == title != fig.layout.updatemenus[0].buttons[0].args[0]["title.text"]
    assert (fig.layout.margin.t, fig.layout.height) == (50 + extra, 440 + extra)   # the extra lines push the plot down, not over it


def test_show_keeps_a_figures_own_margins_and_fills_in_the_rest(capsys):
    import plotly.graph_objects as go

    from lipreg_lib.book import show

    fig = go.Figure()
    fig.update_layout(margin=dict(t=120))   # room for a button menu above the plot
    show(fig)
    assert (fig.layout.margin.t, fig.layout.margin.l, fig.layout.margin.b) == (120, 60, 50)


def test_a_full_mode_panel_draws_over_seed_0_of_every_committed_variant():
    import torch

    from lipreg_lib.book import load_results, settings
    from lipreg_lib.evaluate.curves import error_curve
    from lipreg_lib.panel import RetrainPanel, committed_curves
    from lipreg_lib.results import distances

    full = settings(quick=False, dataset="mnist")
    committed = load_results(full.grid)
    grid = torch.linspace(0, 2, 21)
    reference = committed_curves(committed, grid)
    labels = list(dict.fromkeys(r["label"] for r in committed["runs"]))
    assert list(reference) == [f"committed: {label}" for label in labels]
    first_at = next(r for r in committed["runs"] if r["label"] == "AT-L2")
    assert torch.equal(reference["committed: AT-L2"], 100 * error_curve(distances(first_at), grid))
    panel = RetrainPanel(full, None, grid, reference, "MNIST")   # the controls start at the grid's own ε and λ
    assert (panel.eps.value, panel.lam.value) == (committed["grid"]["base"]["eps"], committed["grid"]["base"]["lam"])
    assert [t.name for t in panel.figure().data] == list(reference)


def test_group_buttons_show_one_data_sets_traces_at_a_time_with_its_axes():
    import plotly.graph_objects as go

    from lipreg_lib.book import group_buttons

    fig = go.Figure([go.Scatter(y=[1]), go.Scatter(y=[2]), go.Scatter(y=[3])])
    group_buttons(fig, [0, 0, 1], ["A", "B"], [{"xaxis.range": [0, 1]}, {"xaxis.range": [0, 5]}])
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["A", "B"]
    assert [b.args[0]["visible"] for b in buttons] == [[True, True, False], [False, False, True]]
    assert buttons[1].args[1] == {"xaxis.range": [0, 5]} and tuple(fig.layout.xaxis.range) == (0, 1)
    assert [t.visible for t in fig.data] == [True, True, False]
    with pytest.raises(ValueError, match="3 traces"):
        group_buttons(fig, [0, 1], ["A", "B"])


def test_readable_tables_name_columns_in_words_and_show_missing_values_as_a_dash():
    import pandas as pd

    from lipreg_lib.book import readable

    frame = pd.DataFrame({"label": ["baseline", "tanh layer"], "median_distance": [0.12345, float("nan")], "masking": ["none", None]})
    table = readable(frame)
    assert list(table.index) == ["baseline", "tanh layer"] and list(table.columns) == ["median distance", "masking"]
    assert table.loc["baseline", "median distance"] == 0.123 and table.loc["tanh layer", "median distance"] == "—"
    assert table.loc["tanh layer", "masking"] == "—" and frame["median_distance"].isna().sum() == 1   # the input is left as it was

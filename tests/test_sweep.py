import csv
import json
import re
from types import SimpleNamespace

import pytest

from lipreg_lib import sweep
from lipreg_lib.sweep import evaluation_settings, load_grid, run_sweep, variants
from lipreg_lib.validation import LipregError

GRID = """
name: tiny
protocol: test
base: {dataset: digits, model: mlp, epochs: 2}
evaluate: {attack: fgsm, n: 30}
runs: [{defence: baseline, label: base}, {defence: at-l2, eps: 0.3, label: AT}]
grid: {lam: [0.0, 1.0], defence: [lip]}
seeds: [0, 1]
"""


def test_variants_expand_runs_grid_and_seeds(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(GRID)
    expanded = variants(load_grid(path))
    assert [label for label, _ in expanded] == ["base", "base", "AT", "AT", "lam=0.0,defence=lip", "lam=0.0,defence=lip",
                                                 "lam=1.0,defence=lip", "lam=1.0,defence=lip"]
    assert [c.seed for _, c in expanded] == [0, 1] * 4 and expanded[2][1].eps == 0.3


def test_sweep_writes_table_and_resumes_without_retraining(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('name = "tiny"\nbase = {dataset = "digits", model = "mlp", epochs = 2}\nevaluate = {attack = "fgsm", n = 30}\n'
                    'runs = [{defence = "baseline"}, {defence = "at-l2", label = "AT"}]\n')
    rows = run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    table = list(csv.DictReader((tmp_path / "results" / "tiny.csv").open()))
    assert [r["label"] for r in table] == ["defence=baseline", "AT"] and float(table[0]["test_error"]) == pytest.approx(rows[0]["test_error"])
    record = json.loads((tmp_path / "results" / "tiny.json").read_text())
    assert len(record["runs"][1]["distances"]) == 30 and "git_commit" in record["provenance"]
    trained = json.loads((tmp_path / "runs" / "tiny" / "AT-seed0" / "run.json").read_text())["provenance"]
    assert record["runs"][1]["provenance"]["training"] == trained and "time" in record["runs"][1]["provenance"]["evaluation"]
    checkpoint = tmp_path / "runs" / "tiny" / "AT-seed0" / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    again = run_sweep(path, tmp_path / "runs", tmp_path / "results", data_dir=tmp_path / "nowhere", progress=False)  # loads no data
    assert checkpoint.stat().st_mtime_ns == stamp and again[1]["median_distance"] == rows[1]["median_distance"]
    path.write_text(path.read_text().replace("n = 30", "n = 45"))  # a larger evaluation is redone, training is not
    larger = run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    assert checkpoint.stat().st_mtime_ns == stamp and [r["eval_n"] for r in larger] == [45, 45]


@pytest.mark.parametrize("text,message", [("name: x\n", "needs a 'name' and 'runs'"), ("name: x\nruns: []\nextra: 1\n", "unknown keys"),
                                          ("name: [x\n", "not valid YAML"),
                                          ("name: x\nevaluate: {masking: {black: foolbox-ddn}}\nruns: [{}]\n",
                                           "unknown black-box attack 'foolbox-ddn'"),
                                          ("name: x\nevaluate: {attack: cw}\nruns: [{}]\n", "unknown attack 'cw'")])
def test_bad_grid_files_are_named(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LipregError, match=message):
        evaluation_settings(load_grid(path))


@pytest.mark.parametrize("text,message", [("name: x\nbase: [1, 2]\nruns: [{}]\n", "'base' must be a mapping of training options"),
                                          ("name: x\nruns: 3\n", "'runs' must be a list of mappings"),
                                          ("name: x\nruns: [baseline]\n", "'runs' must be a list of mappings"),
                                          ("name: x\ngrid: {lam: 0.1}\n", "'grid' must map training options to non-empty lists"),
                                          ("name: x\nruns: [{}]\nseeds: 0\n", "'seeds' must be a list of integers, got 0"),
                                          ("name: x\nruns: [{}]\nseeds: [a]\n", "'seeds' must be a list of integers, got ['a']"),
                                          ("name: x\nruns: [{label: 5}]\n", "a run's 'label' must be text, got 5"),
                                          ("name: ../x\nruns: [{}]\n", "'name' must be a file name"),
                                          ("name: x\nruns: []\n", "'runs' and 'grid' name no run"),
                                          ("name: x\nruns: [{tanh_head: 'false'}]\n", "tanh_head must be true or false, got 'false'")])
def test_a_grid_of_the_wrong_shape_is_named_without_a_traceback(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LipregError, match=re.escape(message)):
        variants(load_grid(path))


def test_a_toml_grid_on_python_3_10_says_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "g.toml"
    path.write_text('name = "x"\nruns = [{}]\n')
    monkeypatch.setattr(sweep, "sys", SimpleNamespace(version_info=(3, 10, 12)))
    with pytest.raises(LipregError, match="TOML grids need Python >= 3.11"):
        load_grid(path)


def test_every_runs_data_and_image_counts_are_checked_before_any_training(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(f"name: late\nbase: {{dataset: digits, model: mlp, epochs: 1}}\nruns: [{{}}, {{dataset: 'npz:{tmp_path}/no.npz'}}]\n")
    with pytest.raises(LipregError, match="no.npz' does not exist"):
        run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    path.write_text("name: late\nbase: {dataset: digits, model: mlp, epochs: 1}\nevaluate: {n: 361}\nruns: [{}]\n")
    with pytest.raises(LipregError, match=re.escape("evaluate.n = 361 exceeds the 360 test images of 'digits'")):
        run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    assert not list((tmp_path / "runs").rglob("*.*"))


def test_bad_option_in_a_grid_is_caught_before_training(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: x\nbase: {dataset: digits}\nruns: [{defence: lip, lam: -1}]\n")
    with pytest.raises(LipregError, match="lam must be >= 0, got -1"):
        variants(load_grid(path))


def test_a_grid_can_ask_for_the_masking_check_and_its_verdict_lands_in_the_table(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: m\nbase: {dataset: digits, model: small-cnn, epochs: 3}\n"
                    "evaluate: {attack: pgd-l2, n: 30, steps: 10, masking: {n: 20, steps: 300}}\nruns: [{defence: baseline}]\n")
    (row,) = run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    assert row["masking"] == "none" and row["masking_n"] == 20 and row["masking_ratio"] > 1
    stored = json.loads((tmp_path / "runs" / "m" / "defence=baseline-seed0" / "eval.json").read_text())["masking"]["pgd-l2"]
    assert stored["black_steps"] == 300 and stored["white_failed_black_fooled"] == 0
    path.write_text(path.read_text().replace("masking: {n: 20", "masking: {n: 40"))
    with pytest.raises(LipregError, match="evaluate.masking.n = 40 exceeds evaluate.n = 30"):
        run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)


def test_collect_writes_a_partial_table_that_names_what_is_missing(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: p\nbase: {dataset: digits, model: mlp, epochs: 1}\nevaluate: {attack: fgsm, n: 20}\n"
                    "runs: [{defence: baseline, label: a}, {defence: at-l2, label: b}]\n")
    run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    (tmp_path / "runs" / "p" / "b-seed0" / "eval.json").unlink()  # b is no longer evaluated
    rows = run_sweep(path, tmp_path / "runs", tmp_path / "partial", progress=False, collect=True)
    record = json.loads((tmp_path / "partial" / "p.json").read_text())
    assert [r["label"] for r in rows] == ["a"] and record["missing"] == [{"label": "b", "seed": 0}]
    assert not (tmp_path / "runs" / "p" / "b-seed0" / "eval.json").exists()  # collect evaluates nothing


def test_train_only_trains_everything_evaluates_nothing_and_a_later_sweep_evaluates_without_retraining(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: t\nbase: {dataset: digits, model: mlp, epochs: 1}\nevaluate: {attack: fgsm, n: 20}\n"
                    "runs: [{defence: baseline, label: a}, {defence: at-l2, label: b}]\n")
    rows = run_sweep(path, tmp_path / "runs", tmp_path / "partial", progress=False, train_only=True)
    folders = [tmp_path / "runs" / "t" / f"{label}-seed0" for label in "ab"]
    assert rows == [] and json.loads((tmp_path / "partial" / "t.json").read_text())["missing"] == [
        {"label": "a", "seed": 0}, {"label": "b", "seed": 0}]
    assert all((f / "checkpoint.pt").exists() and not (f / "eval.json").exists() for f in folders)
    stamps = [(f / "checkpoint.pt").stat().st_mtime_ns for f in folders]
    rows = run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    assert [r["label"] for r in rows] == ["a", "b"] and all((f / "eval.json").exists() for f in folders)
    assert [(f / "checkpoint.pt").stat().st_mtime_ns for f in folders] == stamps


def test_a_changed_grid_never_reuses_runs_made_with_other_options(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: c\nbase: {dataset: digits, model: mlp, epochs: 1, lam: 1.0}\nevaluate: {attack: fgsm, n: 20}\n"
                    "runs: [{defence: baseline, label: a}]\n")
    run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    before = (tmp_path / "results" / "c.json").read_bytes()
    path.write_text(path.read_text().replace("lam: 1.0", "lam: 0.2"))
    with pytest.raises(LipregError, match=r"holds a different run \(lam: folder 1.0 vs grid 0.2\)"):
        run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    assert (tmp_path / "results" / "c.json").read_bytes() == before


def test_labels_that_would_share_a_run_folder_are_refused_before_any_training(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: s\nbase: {dataset: digits, model: mlp, epochs: 1}\nevaluate: {attack: fgsm, n: 20}\n"
                    "runs: [{defence: lip, lam: 0.1, label: 'λ small'}, {defence: at-l2, eps: 0.1, label: 'ε small'}]\n")
    with pytest.raises(LipregError, match=r"'λ small' \(seed 0\) and 'ε small' \(seed 0\) -> '_small-seed0'"):
        run_sweep(path, tmp_path / "runs", tmp_path / "results", progress=False)
    assert not (tmp_path / "runs" / "s").exists() or not any((tmp_path / "runs" / "s").iterdir())


def test_jobs_run_variants_in_parallel_processes_with_the_same_results(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: j\nbase: {dataset: digits, model: mlp, epochs: 2}\nevaluate: {attack: fgsm, n: 30}\n"
                    "runs: [{defence: baseline, label: a}, {defence: at-l2, eps: 0.3, label: b}, {defence: lip-fd, lam: 1.0, label: c}]\n")
    serial = run_sweep(path, tmp_path / "serial", tmp_path / "r1", progress=False)
    parallel = run_sweep(path, tmp_path / "parallel", tmp_path / "r2", progress=False, jobs=2)
    assert [r["label"] for r in parallel] == ["a", "b", "c"]
    for one, other in zip(serial, parallel):  # one thread each instead of two sums in another order, and two epochs of
        assert other["test_error"] == pytest.approx(one["test_error"], abs=2)   # SGD amplify that: within 7 of the 360 images
    with pytest.raises(LipregError, match="jobs must be an integer >= 1, got 0"):
        run_sweep(path, tmp_path / "x", tmp_path / "r3", progress=False, jobs=0)

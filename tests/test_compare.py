"""Our runs mapped onto the paper's tables, and the check of its ranking."""

import json
import math
from pathlib import Path

import pytest

from lipreg_lib.compare import (accuracy_robustness, comparable_accuracy, cost_rows, describe_pair, lambda_trade, ranking_pairs, seed_variance, table3_directions, table3_key,
                                table3_rows)
from lipreg_lib.defences import make_defence
from lipreg_lib.paper import TABLE3
from lipreg_lib.results import SCHEMA, distances, read_results, run_errors
from lipreg_lib.sweep import load_grid, variants
from lipreg_lib.validation import LipregError

GRIDS = Path(__file__).resolve().parents[1] / "grids"


def test_the_table3_grid_covers_every_row_of_table3_once():
    configs = variants(load_grid(GRIDS / "cifar10-table3.yaml"))
    keys = [table3_key(c.model, c.defence, c.tanh_head) for _, c in configs]
    assert sorted(keys) == sorted(TABLE3) and len(keys) == 24
    for label, config in configs:  # the label says what the run is
        model, variant, adversarial = table3_key(config.model, config.defence, config.tanh_head)
        assert label == f"{model} {variant}" + (" + AT" if adversarial else "")
        assert (config.epochs, config.batch_size, config.eps, config.lam) == (200, 128, 0.01, 0.1)


def test_the_fast_cifar_grid_maps_onto_every_row_of_table3_for_resnet34():
    configs = variants(load_grid(GRIDS / "cifar10-fast.yaml"))
    keys = {table3_key(c.model, make_defence(c.defence).name, c.tanh_head) for _, c in configs} - {None}
    assert keys == {k for k in TABLE3 if k[0] == "ResNet-34"}


@pytest.mark.parametrize("model,defence,tanh", [("resnext34", "at-l2+lip+gradnorm", True), ("resnet34", "at-fgsm", False),
                                                ("small-cnn", "baseline", False), ("allcnn", "fd", False), ("fast-cnn", "lip+lip-fd", False)])
def test_runs_outside_table3_have_no_key(model, defence, tanh):
    assert table3_key(model, defence, tanh) is None


def _run(defence, errors, seed=0, n=10000, tanh=False, model="resnet34"):
    return {"model": model, "defence": defence, "tanh_head": tanh, "seed": seed, "median_distance": 0.1 + errors[1] / 1000,
            "test_error": errors[0], "budget_error_eps0.1": errors[1], "budget_n": n, "eval_n": 2000}


def test_table3_rows_put_the_paper_value_beside_the_mean_over_seeds():
    runs = [_run("at-l2+lip", (4.0, 12.0), tanh=True, model="resnext34"), _run("at-l2+lip-fd", (6.0, 14.0), 1, tanh=True, model="resnext34")]
    (row,) = table3_rows(runs)
    assert (row["variant"], row["AT"], row["seeds"], row["paper: median"], row["paper: % err ε=0.1"]) == ("tanh + Lipschitz", True, 2, 0.56, 12.12)
    assert row["ours: % err ε=0"] == pytest.approx(5.0) and row["ours: % err ε=0.1"] == pytest.approx(13.0)
    assert run_errors({"error_eps0": 3.0, "error_eps0.1": 9.0, "eval_n": 300}) == (3.0, 9.0, 300)  # no budget column: the subset


def test_table3_directions_judge_the_difference_against_seed_and_test_noise():
    runs = [_run("baseline", (15, 40)), _run("baseline", (15, 42), 1),   # seeds 40, 42: pooled variance from here
            _run("lip-fd", (15, 30)),                                     # 41 → 30: lower, like the paper
            _run("at-l2", (16, 40.5)),                                    # AT: 41 → 40.5, within noise
            _run("at-l2+lip-fd", (17, 45))]                               # 45 vs 30 (no AT) and vs 40.5 (AT): higher
    rows = {(r["row"], r["against"]): r for r in table3_directions(runs)}
    assert set(rows) == {("Lipschitz penalty", "Lipschitz penalty vs baseline"), ("baseline + AT", "AT vs none"),
                         ("Lipschitz penalty + AT", "Lipschitz penalty vs baseline"), ("Lipschitz penalty + AT", "AT vs none")}
    first = rows[("Lipschitz penalty", "Lipschitz penalty vs baseline")]
    assert first["paper Δ % err ε=0.1"] == pytest.approx(27.08 - 56.00, abs=0.01) and first["ours Δ % err ε=0.1"] == -11.0
    training = seed_variance([[0.40, 0.42]])
    assert training == pytest.approx(0.0002)
    expected = 200 * (training * (1 + 1 / 2) + 0.30 * 0.70 / 10000 + 0.41 * 0.59 / 10000) ** 0.5   # both seeds scored on the same 10 000 images
    assert first["2 s.e."] == pytest.approx(expected, abs=0.01) and first["seeds"] == "1/2"
    assert first["seed s.d."] == pytest.approx(100 * training ** 0.5, abs=1e-3)
    assert [rows[k]["verdict"] for k in sorted(rows)] == ["agrees", "disagrees", "disagrees", "within noise"]
    assert [rows[k]["kind"] for k in sorted(rows)] == ["defence alone", "adversarial training", "defence on AT", "adversarial training"]


def test_ranking_pairs_tell_an_order_within_noise_from_a_separated_one():
    values = {"baseline": [1.0, 1.2], "AT-FGSM": [1.1, 1.5], "AT-L2": [1.6, 1.7], "tanh + tulip": [1.5]}
    pairs = ranking_pairs(values)
    assert [(p["lower"], p["higher"]) for p in pairs] == [("baseline", "AT-FGSM"), ("AT-FGSM", "AT-L2"), ("AT-L2", "tanh + tulip")]
    assert [p["holds"] for p in pairs] == [True, True, False]
    assert [p["separated"] for p in pairs] == [False, True, None]  # ranges overlap; disjoint; one seed only
    assert ranking_pairs({"baseline": [1.0], "AT-L2": [2.0]})[0]["mean_higher"] == 2.0  # missing variants are skipped
    assert [describe_pair(p) for p in pairs] == ["baseline 1.100 < AT-FGSM 1.300 (seeds 2/2, within seed spread)",
                                                 "AT-FGSM 1.300 < AT-L2 1.650 (seeds 2/2, separated)",
                                                 "AT-L2 1.650 ≥ tanh + tulip 1.500 (seeds 2/1, one seed)"]


def test_lambda_trade_pairs_each_seed_with_its_own_unpenalised_run_and_finds_the_onset_on_the_means():
    rows = [(0.0, 0, 1.0, 10.0), (0.0, 1, 2.0, 12.0), (0.1, 0, 1.2, 10.5), (0.1, 1, 2.0, 12.5),
            (1.0, 0, 1.0, 11.0), (1.0, 1, 2.1, 13.0), (10.0, 0, 1.3, 20.0), (10.0, 1, 2.2, 30.0)]
    runs = [{"lam": lam, "seed": seed, "median_distance": med, "test_error": err} for lam, seed, med, err in rows]
    trade = lambda_trade(runs, paper_lam=0.1, clear=0.05)
    assert trade["lams"] == [0.0, 0.1, 1.0, 10.0] and trade["seeds"] == [0, 1]
    assert trade["changes"] == pytest.approx([20.0, 0.0]) and trade["change"] == pytest.approx(10.0)   # 1.2/1.0 and 2.0/2.0, not 3.2/3.0
    assert trade["error changes"] == pytest.approx([0.5, 0.5]) and trade["error"][-1] == pytest.approx(25.0)
    assert trade["median seeds"][1] == [1.2, 2.0]
    # mean medians 1.5, 1.6, 1.55, 1.75: λ = 0.1 is 6.7 % above but λ = 1 falls back to 3.3 %; only λ = 10 stays above
    assert trade["onset"] == 10.0 and trade["best"] == 10.0 and trade["spread"] == pytest.approx(100.0)   # λ = 0: medians 1 and 2
    assert lambda_trade(runs, paper_lam=0.1, clear=0.2)["onset"] is None   # 1.75 is 16.7 % above
    # seed differences 1, 0.8, 1.1, 0.9: pooled variance (1 + 0.64 + 1.21 + 0.81) / 2 / 4 = 0.4575 on 4 degrees of freedom;
    # a difference of two means of 2 seeds has s.e. √(0.4575 · (1/2 + 1/2)); twice that, in % of λ = 0's mean median 1.5
    assert trade["noise"] == pytest.approx(200 * 0.4575 ** 0.5 / 1.5)
    assert trade["moves"] == pytest.approx([0.0, 100 * 0.1 / 1.5, 100 * 0.05 / 1.5, 100 * 0.25 / 1.5])
    assert lambda_trade(runs, paper_lam=0.1)["onset"] is None   # by default the onset asks for a move above the noise, 90 %
    loud = [{**r, "median_distance": r["median_distance"] * 2} if r["lam"] == 10.0 else r for r in runs]
    assert lambda_trade(loud, paper_lam=0.1)["onset"] == 10.0   # λ = 10: mean 3.5, +133 %, above its noise, now 116 %
    assert lambda_trade(runs, paper_lam=0.1, clear=0.0)["onset"] == 0.1   # every move is above 0 %
    sunk = [{**r, "median_distance": 0.5} if r["lam"] == 1.0 else r for r in runs]   # λ = 1 falls below λ = 0: −66.7 %
    assert lambda_trade(sunk, paper_lam=0.1, clear=0.05)["onset"] == 10.0
    # λ = 10 with one seed: s_p² pooled over the other three λ, (1 + 0.64 + 1.21) / 2 / 3 = 0.475, and k = 1, the larger noise
    uneven = [r for r in runs if not (r["lam"] == 10.0 and r["seed"] == 1)]
    assert lambda_trade(uneven, paper_lam=0.1)["noise"] == pytest.approx(200 * (0.475 * 2) ** 0.5 / 1.5)
    alone = lambda_trade([r for r in runs if r["seed"] == 0], paper_lam=0.1)
    assert alone["noise"] is None and alone["onset"] is None   # one seed: no noise estimate, nothing to clear
    with pytest.raises(LipregError, match="λ = 0.3"):
        lambda_trade(runs, paper_lam=0.3)


def test_the_results_tables_tool_prints_the_committed_values():
    import importlib.util
    from statistics import mean

    from lipreg_lib.book import load_results

    spec = importlib.util.spec_from_file_location("results_tables", GRIDS.parent / "tools" / "results_tables.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.spread([1.0, 3.0], 2) == "2.00 ± 1.41 (2)" and tool.spread([0.5], 3) == "0.500"
    results = load_results("mnist")
    if results is None:
        pytest.skip("no committed MNIST results")
    seeds = load_results("mnist-seeds") or {"runs": []}
    medians = [r["median_distance"] for r in results["runs"] + seeds["runs"] if r["label"] == "baseline"]
    table = tool.grid_table("mnist")
    assert f"| baseline | " in table and f"{mean(medians):.3f}" in table and "Paper's ranking" in table


def test_cost_rows_compare_each_defence_with_its_own_baseline_and_the_papers_bound():
    record = {"provenance": {"device": "gpu"}, "settings": {"batch": 128, "device": "cuda", "cudnn_benchmark": True},
              "rows": [{"model": "m", "precision": "bf16", "id": "baseline", "variant": "baseline", "seconds": 0.01, "time_ratio": 1.0},
                       {"model": "m", "precision": "bf16", "id": "lip", "variant": "Lipschitz penalty", "seconds": 0.05, "time_ratio": 5.0},
                       {"model": "m", "precision": "bf16", "id": "lip-fd", "variant": "lip-fd", "seconds": 0.02, "time_ratio": 2.0},
                       {"model": "m", "precision": "bf16", "id": "tanh", "variant": "tanh head", "seconds": 0.01, "time_ratio": 1.0}]}
    rows = {r["id"]: r for r in cost_rows([record])}
    assert set(rows) == {"lip", "lip-fd", "tanh"}  # the baseline is the reference, not a row
    assert rows["lip"]["within_paper_bound"] is False and rows["lip-fd"]["within_paper_bound"] is True
    assert rows["tanh"]["within_paper_bound"] is None  # the paper's bound is about AT and the Lipschitz penalty
    assert rows["lip"]["ms_per_step"] == pytest.approx(50) and rows["lip"]["cudnn_benchmark"] is True


def test_results_tables_of_the_first_schema_still_load_with_one_unit_convention(tmp_path):
    """Schema 1 tables held ``test_accuracy`` (a fraction) beside errors in percent; read back, every
    row has ``test_error`` in percent; a file that is no results table is refused by name."""
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"runs": [{"label": "a", "test_accuracy": 0.875, "distances": [0.5, None, 0.0]}]}))
    (row,) = read_results(old)["runs"]
    assert row["test_error"] == pytest.approx(12.5) and "test_accuracy" not in row
    assert distances(row).tolist() == [0.5, math.inf, 0.0]
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"schema": SCHEMA + 1, "runs": []}))
    with pytest.raises(LipregError, match=f"not a lipreg results table of schema ≤ {SCHEMA} \\(it has schema {SCHEMA + 1}\\)"):
        read_results(newer)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"runs": [{"label": "a"}]}))
    with pytest.raises(LipregError, match="broken.json.: a row without test_error or a numeric test_accuracy"):
        read_results(broken)
    truncated = tmp_path / "truncated.json"
    truncated.write_text('{"runs": [')
    with pytest.raises(LipregError, match="cannot read results file '.*truncated.json'"):
        read_results(truncated)


def test_every_committed_results_table_loads_in_the_current_schema():
    for path in sorted((Path(__file__).resolve().parents[1] / "data" / "results").glob("*.json")):
        record = json.loads(path.read_text())
        if "runs" in record:
            assert all(0 <= run["test_error"] <= 100 for run in read_results(path)["runs"]), path


def test_comparable_accuracy_ranks_only_defences_near_the_baselines_clean_error_and_the_front_drops_dominated_ones():
    from lipreg_lib.compare import pareto_front

    runs = [{"label": "baseline", "test_error": 10.0, "median_distance": 0.2}, {"label": "baseline", "test_error": 12.0, "median_distance": 0.4},
            {"label": "penalty", "test_error": 11.5, "median_distance": 0.35},   # within 1 point of the baseline's mean 11.0
            {"label": "AT", "test_error": 14.0, "median_distance": 0.9},          # robust, but 3 points worse
            {"label": "worse", "test_error": 13.0, "median_distance": 0.25}]      # dominated by the penalty
    points = accuracy_robustness(runs)
    assert points["baseline"] == {"test_error": 11.0, "median_distance": pytest.approx(0.3), "seeds": 2}
    assert comparable_accuracy(points, 1.0) == ["penalty", "baseline"]
    assert comparable_accuracy(points, 3.0) == ["AT", "penalty", "baseline", "worse"]
    assert pareto_front(points) == ["baseline", "penalty", "AT"]

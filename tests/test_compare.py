"""Our runs mapped onto the paper's tables, and the check of its ranking."""

from pathlib import Path

import pytest

from lipreg_lib.compare import describe_pair, ranking_pairs, table3_directions, table3_key, table3_rows
from lipreg_lib.paper import TABLE3
from lipreg_lib.sweep import load_grid, variants

GRIDS = Path(__file__).resolve().parents[1] / "grids"


def test_the_table3_grid_covers_every_row_of_table3_once():
    configs = variants(load_grid(GRIDS / "cifar10-table3.yaml"))
    keys = [table3_key(c.model, c.defence, c.tanh_head) for _, c in configs]
    assert sorted(keys) == sorted(TABLE3) and len(keys) == 24
    for label, config in configs:  # the label says what the run is
        model, variant, adversarial = table3_key(config.model, config.defence, config.tanh_head)
        assert label == f"{model} {variant}" + (" + AT" if adversarial else "")
        assert (config.epochs, config.batch_size, config.eps, config.lam) == (200, 128, 0.01, 0.1)


def test_the_reduced_cifar_grid_maps_onto_table3_rows():
    configs = variants(load_grid(GRIDS / "cifar10-reduced.yaml"))
    assert all(table3_key(c.model, c.defence, c.tanh_head) in TABLE3 for _, c in configs)


@pytest.mark.parametrize("model,defence,tanh", [("resnext34", "tulip", True), ("resnet34", "at-fgsm", False),
                                                ("small-cnn", "baseline", False), ("allcnn", "fd", False)])
def test_runs_outside_table3_have_no_key(model, defence, tanh):
    assert table3_key(model, defence, tanh) is None


def test_table3_rows_put_the_paper_value_beside_ours():
    runs = [{"model": "resnext34", "defence": "at-l2+lip", "tanh_head": True, "seed": 0, "median_distance": 0.5,
             "error_eps0": 4.0, "error_eps0.1": 12.0},
            {"model": "resnext34", "defence": "tulip", "tanh_head": True, "seed": 0, "median_distance": 0.7,
             "error_eps0": 4.0, "error_eps0.1": 11.0}]
    (row,) = table3_rows(runs)
    assert (row["variant"], row["AT"], row["ours: median"], row["paper: median"], row["paper: % err ε=0.1"]) == \
        ("tanh + Lipschitz", True, 0.5, 0.56, 12.12)
    assert row["ours: rise in % err"] == 8.0 and row["paper: rise in % err"] == pytest.approx(12.12 - 4.08)


def test_table3_directions_compare_rises_against_the_paper_and_the_noise():
    def run(defence, errors, n=400):
        return {"model": "resnet34", "defence": defence, "tanh_head": False, "seed": 0, "eval_n": n,
                "error_eps0": errors[0], "error_eps0.1": errors[1]}

    runs = [run("baseline", (50.0, 70.0)), run("lip", (50.0, 55.0)),   # rise 20 → 5: lower, like the paper
            run("at-l2", (50.0, 69.0)),                                 # AT: 20 → 19, within noise
            run("at-l2+lip", (40.0, 70.0)),                             # rise 30 vs 5 (no AT) and vs 19 (AT)
            run("lip", (0.0, 99.0))]                                    # a second seed: ignored
    rows = {(r["row"], r["against"]): r for r in table3_directions(runs)}
    assert set(rows) == {("Lipschitz penalty", "Lipschitz penalty vs baseline"), ("baseline + AT", "AT vs none"),
                         ("Lipschitz penalty + AT", "Lipschitz penalty vs baseline"), ("Lipschitz penalty + AT", "AT vs none")}
    first = rows[("Lipschitz penalty", "Lipschitz penalty vs baseline")]
    assert first["paper Δ rise"] == pytest.approx((27.08 - 5.43) - (56.00 - 6.00), abs=0.01) and first["ours Δ rise"] == -15.0
    assert first["2 s.e."] == pytest.approx(200 * ((0.2 * 0.8 + 0.05 * 0.95) / 400) ** 0.5, abs=0.01)
    assert [rows[k]["verdict"] for k in sorted(rows)] == ["agrees", "disagrees", "disagrees", "within noise"]


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

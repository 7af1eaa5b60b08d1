"""Print the committed results (data/results/) as Markdown tables beside the paper's values, for the
README, release notes and issue notes — so no number is ever typed in by hand.

    python tools/results_tables.py              # every grid of grids/ (a *-seeds grid joins its main one)
    python tools/results_tables.py mnist cifar10-fast
"""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import mean, stdev

from lipreg_lib.book import load_results, load_runs, results_dir
from lipreg_lib.compare import describe_pair, ranking_pairs, table3_directions, table3_rows
from lipreg_lib.results import by_label as group_by_label
from lipreg_lib.runio import short_commit
from lipreg_lib.validation import LipregError, check_choice

GRIDS = tuple(sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "grids").glob("*.yaml") if not p.stem.endswith("-seeds")))
COLUMNS = (("% err ε=0", "error_eps0", 2), ("% err ε=0.1", "error_eps0.1", 2), ("median", "median_distance", 3),
           ("max ‖∇ℓ‖ (batch mean)", "max_loss_gradient", 4), ("max ‖∇ℓ‖ (per example)", "max_loss_gradient_per_example", 2),
           ("max ‖∇f‖₂,∞", "max_jacobian_norm", 2), ("s/epoch (first seed)", "epoch_seconds", 0))
TIMINGS = {"epoch_seconds"}  # wall times of later seeds were taken beside other jobs: not pooled


def markdown(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("–" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def spread(values: list[float], digits: int) -> str:
    """``mean`` for one seed, ``mean ± sd (k seeds)`` for several."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{mean(values):.{digits}f} ± {stdev(values):.{digits}f} ({len(values)})"


def grid_table(name: str) -> str | None:
    """One row per label (seeds pooled from ``<name>-seeds`` when present), the ranking check below it."""
    results = load_results(name)
    if results is None:
        return None
    runs = load_runs(name)
    by_label = group_by_label(runs)
    header = ["variant", *(title for title, _, _ in COLUMNS)]
    rows = [[label, *(spread([r[key] for r in group][: 1 if key in TIMINGS else None], digits) for _, key, digits in COLUMNS)]
            for label, group in by_label.items()]
    prov = results["provenance"]
    text = [f"### {name} — {runs[0]['eval_n']} test images; commit {short_commit(prov['git_commit'], 10)}, {prov['device']}, {prov['time']}",
            "", markdown(header, rows), ""]
    pairs = ranking_pairs({label: [r["median_distance"] for r in group] for label, group in by_label.items()})
    if pairs:
        verdict = "holds" if all(p["holds"] for p in pairs) else "does not hold"
        text += [f"Paper's ranking {verdict}: " + "; ".join(map(describe_pair, pairs)), ""]
    table3 = table3_rows(results["runs"])
    if table3:
        text += ["Beside the paper's Table 3:", "", markdown(
            ["paper model", "variant", "AT", "seeds", "median ours / paper", "% err ε=0 ours / paper", "% err ε=0.1 ours / paper"],
            [[r["paper model"], r["variant"], "yes" if r["AT"] else "no", r["seeds"], f"{r['ours: median']:.3f} / {r['paper: median']}",
              f"{r['ours: % err ε=0']:.1f} / {r['paper: % err ε=0']}", f"{r['ours: % err ε=0.1']:.1f} / {r['paper: % err ε=0.1']}"]
             for r in table3]), ""]
        directions = table3_directions(results["runs"])
        verdicts = [r["verdict"] for r in directions]
        text += [f"Table 3's directions (% error at ε = 0.1, means over seeds): {verdicts.count('agrees')} agree, "
                 f"{verdicts.count('disagrees')} disagree, {verdicts.count('within noise')} within noise of {len(verdicts)}:", "",
                 markdown(list(directions[0]), [list(r.values()) for r in directions]) if directions else "", ""]
    return "\n".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grids", nargs="*", default=GRIDS, metavar="GRID", help=f"among {', '.join(GRIDS)} (default: all)")
    names = parser.parse_args().grids
    try:
        for name in names:
            check_choice("grid", name, GRIDS)
    except LipregError as error:
        parser.error(str(error))
    for name in names:
        table = grid_table(name)
        print(table if table else f"### {name}: no {results_dir() / (name + '.json')} yet\n")


if __name__ == "__main__":
    main()

"""``--posterior DIR`` of ``compare`` and ``run``: answers with parameter uncertainty.

Both draw ``--draws`` parameter sets from a posterior sample (``openweight-sim posterior``),
run every draw under the same ``--replications`` seeds (common random numbers), and report,
for the headline columns, a 95% predictive interval over all runs (parameter and run-to-run
uncertainty together), the interval of the draw means (parameters alone) and the share of
the variance that comes from the parameters (law of total variance,
:func:`openweight_sim.posterior.predictive.decompose`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.cli.common import metadata, overrides_from, run_options


def add_posterior_arguments(p: argparse.ArgumentParser) -> None:
    """``--posterior DIR`` and ``--draws N``."""
    p.add_argument(
        "--posterior",
        metavar="DIR",
        help="draw the free parameters from this posterior (a directory written by "
        "openweight-sim posterior, or 'baseline': the bundled posterior of the shipped "
        "baseline): intervals with parameter and run-to-run uncertainty, and the variance split",
    )
    p.add_argument("--draws", type=int, help="with --posterior: parameter draws (default 20)")


def _check(args: argparse.Namespace) -> None:
    """Refuse ``--draws`` without ``--posterior`` and a split that cannot be computed."""
    from openweight_sim.cli.common import CliError

    if not args.posterior:
        raise CliError("--draws needs --posterior DIR")
    if args.replications < 2:
        raise CliError(
            "--posterior needs --replications >= 2 (the variance split needs several runs "
            "per parameter draw)"
        )
    args.draws = args.draws or DEFAULT_DRAWS


DEFAULT_DRAWS = 20
"""Parameter draws when ``--draws`` is not given."""


def _share(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.0%}"


def headline(table: pd.DataFrame, name_a: str, name_b: str, quarter: str) -> str:
    """The thesis sentence with both kinds of uncertainty."""
    rows = table[table["quarter"] == quarter].set_index("column")
    parts = []
    if "price_closed" in rows.index and np.isfinite(rows.loc["price_closed", "mean"]):
        r = rows.loc["price_closed"]
        parts.append(
            f"the closed API price under {name_a} is {r['mean']:.2f}× that under {name_b} "
            f"(95% predictive interval {r['lo']:.2f}–{r['hi']:.2f} over parameter draws and "
            f"runs; means of the draws {r['param_lo']:.2f}–{r['param_hi']:.2f}; "
            f"{_share(r['share_parameters'])} of the variance from the parameters)"
        )
    if "closed_gross_margin" in rows.index and np.isfinite(rows.loc["closed_gross_margin", "mean"]):
        r = rows.loc["closed_gross_margin"]
        parts.append(
            f"closed labs' gross margin differs by {100 * r['mean']:+.1f} percentage points "
            f"(95% predictive {100 * r['lo']:+.1f} to {100 * r['hi']:+.1f}; "
            f"{_share(r['share_parameters'])} of the variance from the parameters)"
        )
    if not parts:
        return f"In {quarter}: no closed-price or margin effect could be computed."
    return f"In {quarter}, " + "; ".join(parts) + "."


def compare_with_posterior(args: argparse.Namespace, sa: Any, sb: Any, quarters: Any) -> int:
    """``compare A [B] --posterior DIR``: the paired comparison over posterior draws."""
    from openweight_sim.experiments.compare import common_quarters, year_end_quarters
    from openweight_sim.experiments.thesis import THESIS_ROWS
    from openweight_sim.io import atomic_dir, write_json, write_table
    from openweight_sim.outdir import out_dir_for
    from openweight_sim.posterior.predictive import (
        decomposition_table,
        format_decomposition,
        load_posterior,
        posterior_predictive,
        posterior_record,
    )

    _check(args)
    sample = load_posterior(args.posterior)
    out = out_dir_for(args, f"results/compare-{sa.name}-vs-{sb.name}-posterior", "compare")
    started = time.perf_counter()
    runs = posterior_predictive(
        args.a, args.b, sample, args.draws, args.replications, args.seed,
        overrides_from(args), counterfactual=args.b is None, **run_options(args),
    )  # fmt: skip
    qs = quarters or year_end_quarters(common_quarters(runs.quarters_a, runs.quarters_b))
    kinds = {col: spec.kind for col, spec in THESIS_ROWS.items()}
    table = decomposition_table(runs, kinds, qs)
    text = "\n".join(
        [
            f"{sa.name} (A) vs {sb.name} (B) over {args.draws} posterior draws × "
            f"{args.replications} paired runs (common random numbers, root seed {args.seed})",
            "",
            headline(table, sa.name, sb.name, qs[-1]),
            "",
            "By quarter (per-run A/B ratio or A − B; variance split by the law of total variance):",
            format_decomposition(table),
        ]
    )
    with atomic_dir(out, "compare") as tmp:
        write_table(table, tmp, "predictive")
        write_table(runs.draws_frame(), tmp, "draws")
        write_table(runs.quarters_a, tmp, "quarters_a")
        write_table(runs.quarters_b, tmp, "quarters_b")
        (tmp / "thesis.txt").write_text(text + "\n")
        meta = metadata(sa, {"root": args.seed, "run_seeds": runs.seeds}, " ".join(sys.argv))
        meta["scenario_a"] = meta.pop("scenario")
        meta |= {"scenario_b": sb.model_dump(mode="json"), **posterior_record(args.posterior)}
        meta |= {"draws": runs.draws, "quarters": qs}
        write_json(tmp / "metadata.json", meta)
    print(text)
    n = 2 * args.draws * args.replications
    print(f"\n{n} runs in {time.perf_counter() - started:.1f} s; results: {out}/ "
          "(predictive.csv, draws.csv, quarters_a.csv, quarters_b.csv, thesis.txt)")  # fmt: skip
    return 0


def run_with_posterior(args: argparse.Namespace, scenario: Any) -> int:
    """``run SCENARIO --replications R --posterior DIR``: runs over posterior draws."""
    from openweight_sim.columns import SUMMARY
    from openweight_sim.experiments.compare import year_end_quarters
    from openweight_sim.experiments.plots import plot_fans
    from openweight_sim.experiments.replicate import bands
    from openweight_sim.io import atomic_dir, write_json, write_table
    from openweight_sim.outdir import out_dir_for
    from openweight_sim.posterior.predictive import (
        decomposition_table,
        format_decomposition,
        load_posterior,
        posterior_predictive,
        posterior_record,
    )

    _check(args)
    sample = load_posterior(args.posterior)
    out = out_dir_for(args, Path("results") / f"{scenario.name}-posterior", "run")
    started = time.perf_counter()
    runs = posterior_predictive(
        args.scenario, None, sample, args.draws, args.replications, args.seed,
        overrides_from(args), **run_options(args),
    )  # fmt: skip
    qa = runs.quarters_a
    table = decomposition_table(
        runs, dict.fromkeys(SUMMARY, "level"), year_end_quarters(list(dict.fromkeys(qa["quarter"])))
    )
    text = format_decomposition(table)
    pooled = qa.assign(replication=qa["draw"] * args.replications + qa["replication"])
    with atomic_dir(out, "run") as tmp:
        write_table(qa, tmp, "quarters")
        write_table(bands(pooled.drop(columns="draw")), tmp, "bands")
        write_table(table, tmp, "predictive")
        write_table(runs.draws_frame(), tmp, "draws")
        plot_fans(pooled.drop(columns="draw"), tmp / "plots", f"{scenario.name} (posterior)")
        meta = metadata(scenario, {"root": args.seed, "run_seeds": runs.seeds}, " ".join(sys.argv))
        meta |= {**posterior_record(args.posterior), "draws": runs.draws}
        write_json(tmp / "metadata.json", meta)
    print(
        f"{scenario.name}: {args.draws} posterior draws × {args.replications} run(s) in "
        f"{time.perf_counter() - started:.1f} s (seed {args.seed})"
    )
    print(text)
    print(f"results: {out}/ (quarters.csv, bands.csv, predictive.csv, draws.csv, plots/)")
    return 0

"""What a posterior run writes: tables, the projection with parameter uncertainty, plots.

The projection runs the scenario over its whole horizon (to 2027) at ``--draws`` parameter
sets drawn from the posterior and at the CMA-ES point, every one under the same
``--draw-replications`` seeds, so the two bands differ by parameter uncertainty only.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from openweight_sim.columns import FANS, SUMMARY
from openweight_sim.posterior.smc import AbcResult


@dataclass
class Projection:
    """The projection's runs and their variance decomposition.

    Attributes:
        posterior: per-quarter frames of the posterior draws' runs (``draw`` column).
        point: per-quarter frames of the CMA-ES point's runs (same seeds).
        table: :func:`~openweight_sim.posterior.predictive.decomposition_table` of the
            summary columns at each year's end.
        scenario: the scenario's name.
    """

    posterior: pd.DataFrame
    point: pd.DataFrame
    table: pd.DataFrame
    scenario: str


def projection(
    scenario: str,
    overrides: dict[str, Any],
    particles: pd.DataFrame,
    draws: int,
    replications: int,
    seed: int,
    opts: dict[str, Any],
) -> Projection:
    """Posterior-predictive runs of the scenario over its horizon, and the point's runs.

    Args:
        scenario: the scenario (its own developer count unless ``overrides`` set one).
        overrides: the user's overrides (``--set``).
        particles: the posterior sample.
        draws: parameter sets drawn.
        replications: runs per draw, and runs at the point (same seeds).
        seed: root seed.
        opts: executor options.
    """
    from openweight_sim.experiments.compare import year_end_quarters
    from openweight_sim.posterior.predictive import decomposition_table, posterior_predictive
    from openweight_sim.runs import run_replications
    from openweight_sim.scenario import load_scenario

    sc = load_scenario(scenario, {k: v for k, v in overrides.items() if k != "end"})
    runs = posterior_predictive(sc, None, particles, draws, replications, seed, **opts)
    (point,) = run_replications([sc], replications, seed, **opts)
    quarters = year_end_quarters(list(dict.fromkeys(runs.quarters_a["quarter"])))
    table = decomposition_table(runs, dict.fromkeys(SUMMARY, "level"), quarters)
    return Projection(runs.quarters_a, point.quarters, table, sc.name)


def write_outputs(
    out: Path,
    ckpt: Path,
    result: AbcResult,
    shrink: pd.DataFrame,
    check: pd.DataFrame,
    corr: pd.DataFrame,
    proj: Projection,
    info: dict[str, Any],
    meta: dict[str, Any],
) -> None:
    """Write the results directory atomically (kind ``posterior``)."""
    from openweight_sim.io import atomic_dir, atomic_write_text, write_json, write_table
    from openweight_sim.plots import HISTORY_UNTIL
    from openweight_sim.posterior import plots
    from openweight_sim.posterior.bands import BANDS_FILE, projection_bands
    from openweight_sim.posterior.report import report_md

    point = meta["point"]
    with atomic_dir(out, "posterior") as tmp:
        write_table(result.particles, tmp, "posterior")
        result.generations.to_csv(tmp / "generations.csv", index=False)
        shrink.to_csv(tmp / "shrinkage.csv", index=False)
        check.to_csv(tmp / "fact_check.csv", index=False)
        corr.to_csv(tmp / "correlations.csv")
        proj.table.to_csv(tmp / "projection.csv", index=False)
        projection_bands(proj.posterior, SUMMARY).to_csv(tmp / BANDS_FILE, index=False)
        proj.posterior.to_parquet(tmp / "projection_quarters.parquet", index=False)
        shutil.copyfile(ckpt / "history.db", tmp / "history.db")
        pl = tmp / "plots"
        plots.save(plots.marginals_figure(result.particles, result.priors, point),
                   pl / "marginals.png")  # fmt: skip
        plots.save(plots.pairs_figure(result.particles, result.priors, point), pl / "pairs.png")
        plots.save(plots.hit_rates_figure(check), pl / "hit_rates.png")
        for col in FANS:
            fig = plots.projection_figure(
                proj.posterior, proj.point, col, proj.scenario, HISTORY_UNTIL
            )
            plots.save(fig, pl / f"projection_{col}.png")
        atomic_write_text(
            tmp / "report.md", report_md(result, shrink, check, corr, info, proj.table)
        )
        write_json(tmp / "metadata.json", meta)

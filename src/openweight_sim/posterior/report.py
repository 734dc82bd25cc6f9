"""``report.md`` of a posterior run: priors, diagnostics, shrinkage, fact check, verdict.

Written for a sceptical reader: the priors are stated, the ABC diagnostics (thresholds,
acceptance rates, effective sample size per generation) are shown, and every statement is
no stronger than the posterior sample supports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.posterior.smc import AbcResult

MIN_ESS = 200
"""Below this effective sample size the report warns that its intervals are rough."""


def _g(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.4g}"


def summary_lines(result: AbcResult, check: pd.DataFrame) -> list[str]:
    """The headline figures: ESS, generations, simulations, facts not worse, wall time."""
    gens = result.generations
    n_not_worse = int(check["not_worse"].sum())
    behaviour = check[~check["by_construction"]] if "by_construction" in check else check
    n_beh = int(behaviour["not_worse"].sum())
    warn = (
        [f"CAUTION: effective sample size below {MIN_ESS}: intervals and shrinkage are rough"]
        if result.ess < MIN_ESS
        else []
    )
    return [
        *warn,
        f"effective sample size {result.ess:.0f} of {len(result.particles)} particles "
        f"(last generation, t = {int(gens['t'].iloc[-1])}, threshold "
        f"{gens['epsilon'].iloc[-1]:.3g})",
        f"{int(gens['simulations'].sum())} proposals evaluated in {len(gens)} generations "
        "(pyabc's count; a generation's last batch may run a few more)",
        f"per-fact hit rate under the posterior no worse than at the CMA-ES point for "
        f"{n_not_worse} of {len(check)} facts ({n_not_worse / max(len(check), 1):.0%}); "
        f"{n_beh} of {len(behaviour)} facts that behaviour can move "
        f"({n_beh / max(len(behaviour), 1):.0%})",
        *_within_noise(check),
    ]


def _within_noise(check: pd.DataFrame) -> list[str]:
    """The count of facts whose lower posterior hit rate could be luck of the check's draws."""
    if "not_worse_within_noise" not in check:
        return []
    from openweight_sim.posterior.calibrate import NOISE_Z

    n = int(check["not_worse_within_noise"].sum())
    beh = check[~check["by_construction"]] if "by_construction" in check else check
    n_beh = int(beh["not_worse_within_noise"].sum())
    return [
        f"no worse beyond noise (paired per-seed difference above -{NOISE_Z} standard errors, "
        f"one-sided 5% per fact): {n} of {len(check)} facts ({n / max(len(check), 1):.0%}); "
        f"{n_beh} of {len(beh)} facts that behaviour can move "
        f"({n_beh / max(len(beh), 1):.0%})"
    ]


def report_md(
    result: AbcResult,
    shrinkage: pd.DataFrame,
    check: pd.DataFrame,
    correlations: pd.DataFrame,
    info: dict[str, Any],
    projection: pd.DataFrame | None = None,
) -> str:
    """The report as Markdown.

    Args:
        result: the ABC-SMC result.
        shrinkage: :func:`~openweight_sim.posterior.calibrate.shrinkage_table`.
        check: :func:`~openweight_sim.posterior.calibrate.fact_check`.
        correlations: posterior correlations.
        info: scenario, date, replications, developers, executor, seconds, check size.
        projection: the projection's variance decomposition (optional).
    """
    s = result.settings
    lines = [
        f"# Posterior over the free behavioural parameters ({info['date']})",
        "",
        f"Scenario `{info['scenario']}`; in-sample facts {info['window']} only, runs to "
        f"{info['end']}; {info['developers']:,} developers, {info['replications']} "
        f"replication(s) per particle. ABC-SMC (pyabc {info['pyabc']}) with "
        f"{s.population} particles per generation, at most {s.generations} generations, "
        f"threshold = weighted {s.alpha:g}-quantile of the previous generation's distances, "
        f"Gaussian perturbation kernel fitted to the previous generation; root seed {s.seed}, "
        f"batches of {s.batch} proposals on the `{info['executor']}` executor "
        f"(identical results for any executor and worker count). Wall time "
        f"{info['seconds']:.0f} s on {info['workers']} worker(s).",
        "",
        "Distance: root mean square of the facts' standardised misses (the calibration "
        "loss's z: tolerance bands, log scale for prices, capped), over the facts behaviour "
        "can move; 1 = on average at the edge of the band.",
        "",
        "## Summary",
        "",
        *[f"- {line}" for line in summary_lines(result, check)],
        "",
        "## Priors and posterior",
        "",
        "Shrinkage = 1 − posterior variance / prior variance, on the prior's scale (log for "
        "log-uniform priors): near 0, the in-sample facts say little about the parameter "
        "(the result depends on the prior); near 1, they pin it down.",
        "",
        "| parameter | prior | CMA-ES point | posterior mean | 95% interval | shrinkage |",
        "|---|---|---|---|---|---|",
    ]
    for r in shrinkage.itertuples():
        lines.append(
            f"| `{r.parameter}` | {r.prior} | {_g(r.point)} | {_g(r.posterior_mean)} | "
            f"{_g(r.q025)}–{_g(r.q975)} | {r.shrinkage:.2f} |"
        )
    lines += ["", "## Diagnostics by generation", "", "| t | threshold | accepted | simulations "
              "| acceptance rate | ESS |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in result.generations.itertuples():
        lines.append(
            f"| {r.t} | {_g(r.epsilon)} | {r.particles} | {r.simulations} | "
            f"{r.acceptance_rate:.3f} | {r.ess:.0f} |"
        )
    lines += [
        "",
        "## Strongest posterior correlations",
        "",
        "Parameters the facts identify only jointly (|r| ≥ 0.3, on the priors' scales):",
        "",
    ]
    pairs = []
    names = list(correlations.columns)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            r = correlations.loc[a, b]
            if np.isfinite(r) and abs(r) >= 0.3:
                pairs.append((abs(r), a, b, r))
    pairs.sort(reverse=True)
    lines += [f"- `{a}` and `{b}`: r = {r:+.2f}" for _, a, b, r in pairs[:10]] or ["- none"]
    lines += [
        "",
        f"## Per-fact hit rates ({info['check']} fresh runs each, same seeds for both)",
        "",
        "| fact | metric | period | band | posterior | CMA-ES point | difference (s.e.) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in check.itertuples():
        flag = "" if r.not_worse else " (worse)"
        se = getattr(r, "hit_difference_se", float("nan"))
        diff = getattr(r, "hit_difference", r.hit_posterior - r.hit_point)
        lines.append(
            f"| {r.id} | {r.metric} | {r.period} | {_g(r.low)}–{_g(r.high)} | "
            f"{r.hit_posterior:.2f}{flag} | {r.hit_point:.2f} | {diff:+.2f} ({_g(se)}) |"
        )
    if projection is not None and len(projection):
        from openweight_sim.posterior.predictive import format_decomposition

        lines += [
            "",
            "## Projection with parameter uncertainty",
            "",
            "Levels at each year's end over the posterior draws (same seeds for every draw):",
            "",
            "```",
            format_decomposition(projection),
            "```",
        ]
    lines += [
        "",
        "Files: posterior.parquet (values, weight, distance), generations.csv, "
        "shrinkage.csv, fact_check.csv, correlations.csv, projection.csv, "
        "projection_quarters.parquet, history.db (pyabc), plots/.",
        "",
    ]
    return "\n".join(lines)

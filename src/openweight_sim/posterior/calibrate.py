"""The posterior over the free behavioural parameters, and its diagnostics.

:func:`run_posterior` runs ABC-SMC (:func:`openweight_sim.posterior.smc.run_abc`) with the
market model as simulator (:class:`~openweight_sim.posterior.facts.FactsSimulator`), the
calibration's tolerance-band distance, and the priors of the ``FREE_PARAMETERS`` on main when
it runs (their fit bounds; log-uniform where ``log=True``). The CMA-ES point, i.e. the
scenario's own values of those parameters (the shipped calibration), stays the baseline;
the posterior is reported beside it:

* :func:`fact_check`: per-fact hit rates (share of runs whose simulated value lies in the
  fact's band) under the posterior (``n`` draws, weighted) and at the point, with the same
  fresh seeds for both (common random numbers), so the two rates differ by the parameters
  only;
* :func:`shrinkage_table`: each parameter's prior and posterior mean, sd and 95% interval,
  and its shrinkage ``1 − Var_post / Var_prior`` (in the prior's coordinates: ``ln θ`` for a
  log-uniform prior): 0 means the facts taught nothing about it, 1 that they pinned it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.calibration.facts import BY_CONSTRUCTION
from openweight_sim.posterior.facts import (
    FactsDistance,
    FactsSimulator,
    facts_table,
    hit_matrix,
    observed_stats,
)
from openweight_sim.posterior.priors import Prior, calibration_priors
from openweight_sim.posterior.smc import AbcResult, AbcSettings, SimTask, run_abc, run_sim_task
from openweight_sim.scenario import Scenario, ScenarioError, get_dotted, load_scenario

CHECK = 3
"""Spawn-key element of the fact check's run seeds."""
NOISE_Z = 1.645
"""Standard errors below zero at which a lower posterior hit rate counts as worse beyond noise
(a one-sided 5% test per fact, uncorrected for testing many facts)."""
POSTERIOR_COUNT = 3000
"""Developers per run (the calibration's population, ``calibration.fit.CALIBRATION_COUNT``)."""


def point_values(scenario: Scenario, priors: Sequence[Prior]) -> dict[str, float]:
    """The scenario's own values of the parameters (the CMA-ES point in the baseline).

    Raises:
        ScenarioError: a parameter is not a number of the scenario.
    """
    data = scenario.model_dump(mode="python")
    out = {}
    for p in priors:
        try:
            value = get_dotted(data, p.name)
        except (KeyError, TypeError):
            raise ScenarioError("posterior", p.name, "not a parameter of the scenario") from None
        if not isinstance(value, int | float):
            raise ScenarioError("posterior", p.name, f"not a number (got {value!r})")
        out[p.name] = float(value)
    return out


@dataclass(frozen=True)
class Problem:
    """The calibration as an ABC problem."""

    simulator: FactsSimulator
    distance: FactsDistance
    observed: dict
    priors: list[Prior]
    point: dict[str, float]


def calibration_problem(
    scenario: str | Path | Scenario,
    overrides: Mapping[str, Any] | None = None,
    replications: int = 1,
    facts: pd.DataFrame | None = None,
    priors: Sequence[Prior] | None = None,
) -> Problem:
    """The simulator, distance, observed facts, priors and CMA-ES point of a scenario.

    ``developers.count`` defaults to :data:`POSTERIOR_COUNT`; runs end at 2024Q4.
    """
    from openweight_sim.calibration.facts import IN_SAMPLE_END

    ov = {"developers.count": POSTERIOR_COUNT, **dict(overrides or {}), "end": IN_SAMPLE_END}
    sc = load_scenario(scenario)
    load_scenario(sc, ov)  # fail early on bad overrides
    facts = facts_table(facts)
    priors = list(priors) if priors is not None else calibration_priors()
    return Problem(
        FactsSimulator(sc, ov, facts, replications),
        FactsDistance(facts),
        observed_stats(facts),
        priors,
        point_values(sc, priors),
    )


def run_posterior(
    problem: Problem,
    settings: AbcSettings,
    db: str | Path,
    *,
    resume: bool = False,
    run_options: Mapping[str, Any] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> AbcResult:
    """ABC-SMC for the calibration problem (checkpointed in ``db``)."""
    return run_abc(
        problem.simulator,
        problem.distance,
        problem.observed,
        problem.priors,
        settings,
        db,
        resume=resume,
        on_batch=on_batch,
        **dict(run_options or {}),
    )


def check_seeds(seed: int, n: int) -> list[int]:
    """Seeds of the fact check's runs, spawned from the root."""
    return [
        int(np.random.SeedSequence(seed, spawn_key=(CHECK, i)).generate_state(1, np.uint64)[0] >> 1)
        for i in range(n)
    ]


def fact_check(
    problem: Problem,
    particles: pd.DataFrame,
    n: int,
    seed: int,
    run_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Per-fact hit rates under the posterior and at the CMA-ES point.

    ``n`` parameter sets are drawn from the posterior (by weight) and each is simulated with
    a fresh seed; the point is simulated with the same ``n`` seeds.

    Returns:
        One row per fact: id, metric, period, observed, low, high, ``hit_posterior``,
        ``hit_point``, ``posterior_p5``/``posterior_median``/``posterior_p95`` (of the
        simulated value), ``not_worse`` (posterior rate ≥ point rate) and
        ``by_construction`` (an input or the replayed release table: equal by construction).
    """
    from openweight_sim.experiments.executors import execute
    from openweight_sim.posterior.predictive import draw_parameters

    draws = draw_parameters(particles, n, seed)
    seeds = check_seeds(seed, n)
    tasks = [SimTask(problem.simulator, d, s) for d, s in zip(draws, seeds, strict=True)]
    tasks += [SimTask(problem.simulator, dict(problem.point), s) for s in seeds]
    out: list[Any] = [None] * len(tasks)
    for i, res in execute(run_sim_task, tasks, **dict(run_options or {})):
        out[i] = res["s"]
    sims = np.vstack(out)
    post, point = sims[:n], sims[n:]
    facts = problem.simulator.facts
    table = facts[["id", "metric", "period", "observed", "low", "high"]].copy()
    hits_post, hits_point = hit_matrix(facts, post), hit_matrix(facts, point)
    table["hit_posterior"] = hits_post.mean(axis=0)
    table["hit_point"] = hits_point.mean(axis=0)
    with warnings.catch_warnings():  # a fact the model never produces: all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        q = np.nanquantile(np.where(np.isfinite(post), post, np.nan), [0.05, 0.5, 0.95], axis=0)
    table["posterior_p5"], table["posterior_median"], table["posterior_p95"] = q
    table["not_worse"] = table["hit_posterior"] >= table["hit_point"] - 1e-12
    diff, se = paired_difference(hits_post, hits_point)
    table["hit_difference"], table["hit_difference_se"] = diff, se
    table["not_worse_within_noise"] = diff >= -NOISE_Z * se - 1e-12
    table["by_construction"] = facts["metric"].isin(BY_CONSTRUCTION).to_numpy()
    return table.reset_index(drop=True)


def paired_hit_difference(
    facts: pd.DataFrame, post: np.ndarray, point: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the per-seed hit difference, posterior minus point.

    Run ``i`` of each side shares seed ``i``, so the difference of the two hit indicators is
    paired; its standard error is ``sd / √n`` over the ``n`` seeds (0 where every pair agrees).
    A fact is *no worse within noise* when the difference is above ``−NOISE_Z`` standard
    errors: the posterior's lower hit rate could be luck of the ``n`` draws.
    """
    return paired_difference(hit_matrix(facts, post), hit_matrix(facts, point))


def paired_difference(
    hits_post: np.ndarray, hits_point: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-fact mean and standard error of row-paired hit differences (see above)."""
    d = hits_post - hits_point
    n = len(d)
    se = d.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(d.shape[1], np.nan)
    return d.mean(axis=0), se


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles of a weighted sample (inverse of the weighted empirical CDF, midpoints)."""
    order = np.argsort(x, kind="stable")
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cdf, x)


def shrinkage_table(
    particles: pd.DataFrame, priors: Sequence[Prior], point: Mapping[str, float]
) -> pd.DataFrame:
    """Prior vs posterior of every parameter, and the shrinkage of its variance.

    Returns:
        One row per parameter: ``parameter``, ``prior``, ``point`` (CMA-ES),
        ``posterior_mean``, ``posterior_sd``, ``q025``, ``median``, ``q975``, ``prior_sd``
        and ``posterior_sd`` in the prior's coordinates (``scale``), and ``shrinkage``.
    """
    w = particles["weight"].to_numpy(float)
    rows = []
    for p in priors:
        v = particles[p.name].to_numpy(float)
        x = np.asarray(p.to_internal(v), float)
        mx = float(np.average(x, weights=w))
        var_post = float(np.average((x - mx) ** 2, weights=w))
        _, var_prior = p.internal_moments()
        m = float(np.average(v, weights=w))
        lo, med, hi = weighted_quantile(v, w, [0.025, 0.5, 0.975])
        rows.append(
            {
                "parameter": p.name,
                "prior": p.describe(),
                "point": point.get(p.name, np.nan),
                "posterior_mean": m,
                "posterior_sd": float(np.sqrt(np.average((v - m) ** 2, weights=w))),
                "q025": lo,
                "median": med,
                "q975": hi,
                "scale": "log" if p.log else "linear",
                "prior_sd_scale": float(np.sqrt(var_prior)),
                "posterior_sd_scale": float(np.sqrt(var_post)),
                "shrinkage": 1.0 - var_post / var_prior,
            }
        )
    return pd.DataFrame(rows)


def weighted_correlations(particles: pd.DataFrame, priors: Sequence[Prior]) -> pd.DataFrame:
    """Posterior correlation matrix of the parameters (in the priors' coordinates)."""
    w = particles["weight"].to_numpy(float)
    x = np.column_stack([p.to_internal(particles[p.name].to_numpy(float)) for p in priors])
    c = np.cov(x, rowvar=False, aweights=w)
    c = np.atleast_2d(c)
    sd = np.sqrt(np.diag(c))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = c / np.outer(sd, sd)
    names = [p.name for p in priors]
    return pd.DataFrame(corr, index=names, columns=names)

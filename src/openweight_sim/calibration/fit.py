"""Fitting the free behavioural parameters to the in-sample facts (``openweight-sim calibrate``).

Two parts, both using only 2023Q1–2024Q4 data:

1. **Behavioural parameters** (:data:`FREE_PARAMETERS`): a simulated-moments fit. For a
   candidate vector θ the model runs from 2023Q1 to 2024Q4 under ``R`` fixed seeds (common
   random numbers: the same seeds for every θ, so the objective is a deterministic function
   of θ) and the loss :func:`loss` compares the replication mean of each fact's simulated
   counterpart with the observed value. The optimiser is CMA-ES on the unit cube of the
   bounds (:mod:`~openweight_sim.calibration.search`), seeded from the run's
   ``SeedSequence``; the current scenario values are the first point evaluated and the
   first generation's mean, so the fit never returns anything worse than the values it
   started from. Each generation is one parallel batch on a pool started once per fit
   (:mod:`~openweight_sim.calibration.pool`). The best point is then re-scored on fresh
   seeds.
2. **Catch-up rates** (:func:`estimate_catch_up`): in-sample, releases replay the historical
   table, so a lab's ``catch_up`` cannot move any simulated fact before 2025. It is
   estimated directly from the table instead, by least squares on the model's own rule
   (:func:`openweight_sim.releases.generation_quality`).

The loss (documented in ``docs/calibration.md``): for fact ``i`` with observed value
``o``, band ``[l, h]`` and simulated mean ``s``,

- prices (log scale): ``d = ln s − ln o``, tolerance ``t = ln(h/o)`` if ``d > 0`` else
  ``ln(o/l)``;
- shares and Elo gaps (linear): ``d = s − o``, ``t = h − o`` if ``d > 0`` else ``o − l``;
- ``t`` is floored at a quarter of the band's full width (in the same scale), so a fact
  whose observed value sits on an edge of its band does not get a zero tolerance;
- ``z = min(|d| / t, Z_CAP)``; a missing simulated value (no such product that quarter)
  counts as ``Z_CAP``;
- ``loss = mean of z²`` over the facts that behaviour can move (the facts that hold by
  construction, H100 rental prices and the replayed quality gap, are left out).

``|z| ≤ 1`` is exactly "within the band" unless the floor applies, so the loss measures
the same thing as the scorecard, with a smooth penalty that grows with the size of a miss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.calibration.facts import BY_CONSTRUCTION, IN_SAMPLE_END, load_facts
from openweight_sim.calibration.objective import Evaluation, Objective, scorecard_of
from openweight_sim.calibration.pool import RunPool
from openweight_sim.calibration.search import SIGMA0, cma_search, default_population
from openweight_sim.releases import history_table
from openweight_sim.scenario import Scenario, ScenarioError, get_dotted, load_scenario

Z_CAP = 4.0
"""Largest standardised miss a single fact can contribute (z² ≤ 16)."""

FLOOR_FRACTION = 0.25
"""A side's tolerance is at least this fraction of the band's full width."""

CALIBRATION_COUNT = 3000
"""Developers per run while fitting (8 quarters at 3,000 developers take ~0.2 s)."""


@dataclass(frozen=True)
class FreeParameter:
    """A parameter the fit may move.

    Attributes:
        path: dotted scenario path.
        low: lower bound.
        high: upper bound.
        log: search on a log scale (positive multiplicative parameters).
        targets: the facts that identify it, in words.
    """

    path: str
    low: float
    high: float
    log: bool = False
    targets: str = ""

    def clamp(self, value: float) -> float:
        """``value`` moved into ``[low, high]`` (a start outside the bounds starts on them)."""
        return min(max(float(value), self.low), self.high)

    def to_unit(self, value: float) -> float:
        """Map a value in ``[low, high]`` to ``[0, 1]``."""
        v = min(max(float(value), self.low), self.high)
        if self.log:
            return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (v - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        """Map ``u`` in ``[0, 1]`` back to a value, rounded to 4 significant digits."""
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        return float(f"{v:.4g}")


FREE_PARAMETERS: tuple[FreeParameter, ...] = (
    FreeParameter(
        "developers.price_sensitivity",
        0.9,
        5.0,
        log=True,
        targets="price levels and markups (all price facts); lower bound: below about 0.84 the "
        "baseline's least price-sensitive class (enterprise, capability-led: 1.6 × 0.75) has "
        "alpha <= 1, and with log price its sellers have no finite best response",
    ),
    FreeParameter(
        "developers.quality_sensitivity",
        2.0,
        10.0,
        log=True,
        targets="premium of the best model: flagship price, spend shares "
        "(prior: >= 2 per 100 Elo, since Arena Elo compresses capability: GPT-4o vs 4o mini "
        "~13 Elo at a 17x price ratio, F20-F22)",
    ),
    FreeParameter(
        "developers.switching_cost",
        0.0,
        5.0,
        targets="inertia of spend shares (F23–F26)",
    ),
    FreeParameter(
        "developers.ecosystem_weight",
        0.0,
        1.0,
        targets="incumbent advantage (F23, F25, F27)",
    ),
    FreeParameter(
        "labs.openai.brand",
        0.0,
        3.0,
        targets="OpenAI enterprise spend share (F23, F25); bounded at >= 0: its rationale is "
        "a first mover's trust (ChatGPT), a preference that cannot be negative",
    ),
    FreeParameter(
        "labs.anthropic.brand",
        -2.0,
        3.0,
        targets="Anthropic enterprise spend share (F24, F26)",
    ),
    FreeParameter(
        "developers.segments.enterprise.open_constant",
        -5.0,
        0.0,
        targets="open share of enterprise workloads (F27, F51): enterprises' preference for "
        "closed vendors (bounded at <= 0: no positive enterprise taste for open weights)",
    ),
    FreeParameter(
        "developers.self_host_overhead",
        0.0,
        5.0,
        targets="self-hosting against hosted open models (F27)",
    ),
    FreeParameter(
        "pricing.nest_sigma",
        0.5,
        0.95,
        targets="host competition: hosted 70B price (F07–F09) "
        "(prior: hosts of the same weights are close substitutes, F10, F46)",
    ),
)
"""The default free parameters, their bounds and the facts that identify them."""


def standardised_misses(card: pd.DataFrame) -> np.ndarray:
    """Standardised miss ``z`` of each fact (see the module docstring), capped at Z_CAP.

    Args:
        card: facts with ``observed``, ``low``, ``high``, ``simulated_mean`` and
            ``log_scale`` columns (a scorecard joined with the facts).

    Returns:
        ``z ≥ 0`` per row; ``Z_CAP`` where the simulated value is missing or not positive
        on a log scale.
    """
    o = card["observed"].to_numpy(float)
    lo = card["low"].to_numpy(float)
    hi = card["high"].to_numpy(float)
    s = card["simulated_mean"].to_numpy(float)
    logs = card["log_scale"].to_numpy(bool)
    z = np.full(o.size, Z_CAP)
    with np.errstate(divide="ignore", invalid="ignore"):
        tr = np.where(logs, np.log(np.where(logs, np.abs(s), 1.0)), s)
        s_t = np.where(logs, np.where(s > 0, tr, np.nan), s)
        o_t = np.where(logs, np.log(o), o)
        lo_t = np.where(logs, np.log(lo), lo)
        hi_t = np.where(logs, np.log(hi), hi)
    d = s_t - o_t
    tol = np.where(d > 0, hi_t - o_t, o_t - lo_t)
    tol = np.maximum(tol, FLOOR_FRACTION * (hi_t - lo_t))
    ok = np.isfinite(d) & (tol > 0)
    z[ok] = np.minimum(np.abs(d[ok]) / tol[ok], Z_CAP)
    return z


def loss(card: pd.DataFrame) -> float:
    """Mean squared standardised miss over the facts that behaviour can move.

    Facts that hold by construction (:data:`~openweight_sim.calibration.facts.BY_CONSTRUCTION`)
    are left out: no parameter moves them.
    """
    keep = ~card["metric"].isin(BY_CONSTRUCTION).to_numpy()
    z = standardised_misses(card)[keep]
    return float(np.mean(z**2)) if z.size else 0.0


@dataclass
class FitResult:
    """What :func:`fit` found.

    Attributes:
        start: the scenario's values of the free parameters before the fit, moved into the
            bounds (``settings["scenario_values"]`` has them as they were).
        fitted: the best values found.
        start_loss: loss at ``start`` (the fit's seeds).
        fitted_loss: loss at ``fitted`` (the fit's seeds).
        fresh_start_loss: loss at ``start`` on fresh seeds, never seen by the search.
        fresh_loss: loss at ``fitted`` on the same fresh seeds (an honest estimate: the
            fit's own loss is biased down by selecting on its seeds' noise).
        trace: every evaluation.
        catch_up: catch-up estimates from the historical table (lab path → estimate row).
        cards: scorecards: ``start`` and ``fitted`` (the fit's seeds), ``fresh_start``
            and ``fresh_fitted`` (the fresh seeds).
        settings: replications, seeds, developer count, budget, optimiser settings.
    """

    start: dict[str, float]
    fitted: dict[str, float]
    start_loss: float
    fitted_loss: float
    fresh_start_loss: float
    fresh_loss: float
    trace: pd.DataFrame
    catch_up: pd.DataFrame
    cards: dict[str, pd.DataFrame]
    settings: dict[str, Any]


def estimate_catch_up(scenario: Scenario) -> pd.DataFrame:
    """Estimate each catching-up lab's ``catch_up`` from the historical release table.

    The model's rule for a non-frontier lab's next top-tier release is
    ``q_new = q_prev + c·(F − q_prev)`` with ``F`` the closed frontier. For each lab with at
    least two consecutive top-tier releases in the table, ``c`` is the least-squares slope
    through the origin of ``q_new − q_prev`` on ``F − q_prev``, where ``F`` is the best
    closed quality released up to the quarter of ``q_new`` (the quality-gap definition).

    Args:
        scenario: gives the labs, their top tier and the history table's name.

    Returns:
        One row per lab: ``path``, ``lab``, ``estimate``, ``current``, ``generations``
        and ``releases`` (the names used); labs without two releases are left out.
    """
    if not scenario.history:
        return pd.DataFrame(
            columns=["path", "lab", "estimate", "current", "generations", "releases"]
        )
    table = history_table(scenario.history).sort_values("date", kind="stable")
    closed = table[~table["open_weights"]]
    rows = []
    for key, lab in scenario.labs.items():
        if lab.frontier_lab:
            continue
        top = table[(table["lab"] == key) & (table["tier"] == lab.tiers[0])]
        if len(top) < 2:
            continue
        gains, gaps = [], []
        for prev, new in zip(top.itertuples(), top.iloc[1:].itertuples(), strict=False):
            frontier = closed.loc[closed["quarter_index"] <= new.quarter_index, "quality"].max()
            gap = float(frontier) - float(prev.quality)
            if gap <= 0:
                continue
            gains.append(float(new.quality) - float(prev.quality))
            gaps.append(gap)
        if not gaps:
            continue
        g, d = np.array(gaps), np.array(gains)
        est = float(np.clip((g * d).sum() / (g * g).sum(), 0.0, 1.0))
        rows.append(
            {
                "path": f"labs.{key}.catch_up",
                "lab": key,
                "estimate": round(est, 2),
                "current": lab.catch_up,
                "generations": len(gaps),
                "releases": " → ".join(top["name"]),
            }
        )
    return pd.DataFrame(rows)


def _check_params(scenario: Scenario, params: Sequence[FreeParameter]) -> dict[str, float]:
    """The scenario's values of the free parameters (4 significant digits).

    Raises:
        ScenarioError: a path that is not a number of the scenario.
    """
    data = scenario.model_dump(mode="python")
    start = {}
    for p in params:
        try:
            value = get_dotted(data, p.path)
        except (KeyError, TypeError):
            raise ScenarioError("calibrate", p.path, "not a parameter of the scenario") from None
        if not isinstance(value, int | float):
            raise ScenarioError("calibrate", p.path, f"not a number (got {value!r})")
        start[p.path] = float(f"{float(value):.4g}")
    return start


@dataclass(frozen=True)
class FitSeeds:
    """Every seed of a fit, spawned from its root ``SeedSequence``.

    Children ``0..R−1`` are the run seeds (the same as
    ``spawn_seeds(root, R)`` of :mod:`openweight_sim.seeds`, so the fit's runs are the
    replications ``validate --seed root`` makes), child ``R`` seeds the CMA-ES sampler and
    children ``R+1..R+F`` are the fresh seeds the best point is re-scored on.
    """

    runs: list[int]
    sampler: int
    fresh: list[int]


def fit_seeds(root: int, replications: int, fresh: int) -> FitSeeds:
    """The run, sampler and fresh seeds of a fit with this root seed."""
    children = np.random.SeedSequence(root).spawn(replications + 1 + fresh)

    def as_int(c: np.random.SeedSequence) -> int:
        return int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))

    runs = [as_int(c) for c in children[:replications]]
    sampler = int(children[replications].generate_state(1, dtype=np.uint32)[0])
    return FitSeeds(runs, sampler, [as_int(c) for c in children[replications + 1 :]])


def _check_settings(
    replications: int, max_evals: int, n_params: int, fresh_replications: int | None
) -> int:
    """Refuse impossible settings; the number of fresh replications.

    Raises:
        ScenarioError: a setting out of range.
    """
    if replications < 1:
        raise ScenarioError("calibrate", "replications", f"must be >= 1 (got {replications})")
    if max_evals < 1:
        raise ScenarioError("calibrate", "max_evals", f"must be >= 1 (got {max_evals})")
    if n_params < 2:
        raise ScenarioError("calibrate", "params", "CMA-ES needs at least two free parameters")
    n_fresh = 2 * replications if fresh_replications is None else fresh_replications
    if n_fresh < 1:
        raise ScenarioError("calibrate", "fresh_replications", f"must be >= 1 (got {n_fresh})")
    return n_fresh


def _search(
    obj: Objective,
    params: Sequence[FreeParameter],
    start: Mapping[str, float],
    sampler_seed: int,
    sigma0: float,
    population: int,
) -> tuple[float, int]:
    """Evaluate the start, then CMA-ES from it until the budget is spent.

    Returns:
        The start's loss and the number of generations.
    """
    (start_loss,) = obj.evaluate([start], "start", -1)
    generations = cma_search(
        obj.evaluate_units,
        np.array([p.to_unit(start[p.path]) for p in params]),
        sampler_seed,
        best_point=lambda: np.array([p.to_unit(obj.best.point[p.path]) for p in params]),
        evaluations=lambda: len(obj.trace),
        sigma0=sigma0,
        population=population,
    )
    return float(start_loss if start_loss is not None else np.nan), generations


def _rescore(
    obj: Objective,
    start: Mapping[str, float],
    best: Mapping[str, float],
    fresh_seeds: Sequence[int],
) -> tuple[float, float, dict[str, pd.DataFrame]]:
    """The start's and the best point's losses on fresh seeds, and the four scorecards."""
    (fs_loss, _, fs_card), (ff_loss, _, ff_card) = obj.score([start, best], fresh_seeds)
    cards = {
        "start": obj.card(start),
        "fitted": obj.card(best),
        "fresh_start": scorecard_of(fs_card),
        "fresh_fitted": scorecard_of(ff_card),
    }
    return fs_loss, ff_loss, cards


def _seed_record(seeds: FitSeeds) -> dict[str, Any]:
    return {"run_seeds": seeds.runs, "sampler_seed": seeds.sampler, "fresh_seeds": seeds.fresh}


def _optimiser_record(population: int, sigma0: float) -> dict[str, Any]:
    return {
        "optimiser": "CMA-ES (cmaes, ask/tell, batch per generation)",
        "population": population,
        "sigma0": sigma0,
        "z_cap": Z_CAP,
        "floor_fraction": FLOOR_FRACTION,
    }


def fit(
    scenario: str | Path | Scenario = "baseline",
    *,
    params: Sequence[FreeParameter] = FREE_PARAMETERS,
    replications: int = 3,
    seed: int = 0,
    max_evals: int = 600,
    overrides: Mapping[str, Any] | None = None,
    fresh_replications: int | None = None,
    sigma0: float = SIGMA0,
    population: int | None = None,
    on_eval: Callable[[Evaluation, Evaluation], None] | None = None,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
) -> FitResult:
    """Fit the free parameters to the in-sample facts with CMA-ES.

    The scenario's current values (moved into the bounds if outside them) are the first
    evaluation and the first generation's mean, so the fit never returns anything worse
    than them on its own seeds. Each
    generation's candidates × replications run as one batch on a pool started once for the
    whole fit (:class:`~openweight_sim.calibration.pool.RunPool`); the trace is the same
    for every executor and worker count. The best point and the start are then re-scored
    on fresh seeds.

    Args:
        scenario: the scenario to fit (its current values are the starting point).
        params: the free parameters and their bounds (at least two).
        replications: runs per evaluation (fixed seeds, :func:`fit_seeds`).
        seed: root seed of the runs, the sampler and the fresh seeds.
        max_evals: evaluation budget (each evaluation is ``replications`` runs).
        overrides: applied to every run; defaults to ``developers.count`` =
            :data:`CALIBRATION_COUNT` (unless given) and always ``end`` = 2024Q4.
        fresh_replications: runs of the re-scoring (default ``2 × replications``).
        sigma0: CMA-ES initial step size on the unit cube.
        population: candidates per generation (default ``4 + floor(3 ln n)``).
        on_eval: progress callback ``(evaluation, best so far)``.
        executor: ``serial``, ``processes`` or ``dask`` (the sweep executors' workers).
        workers: parallel workers.
        scheduler: address of a running Dask scheduler (implies ``dask``).
        scheduler_file: scheduler file of a running Dask cluster (implies ``dask``).

    Returns:
        The fitted values, the losses before and after (fit seeds and fresh seeds), the
        trace, the scorecards and the catch-up estimates.

    Raises:
        ScenarioError: a free parameter is not a number of the scenario, bad overrides or
            a bad setting.
    """
    n_fresh = _check_settings(replications, max_evals, len(params), fresh_replications)
    ov = {"developers.count": CALIBRATION_COUNT, **dict(overrides or {}), "end": IN_SAMPLE_END}
    sc = load_scenario(scenario)
    load_scenario(sc, ov)  # fail early on bad overrides
    scenario_values = _check_params(sc, params)
    start = {p.path: p.clamp(scenario_values[p.path]) for p in params}
    facts = load_facts()
    seeds = fit_seeds(seed, replications, n_fresh)
    popsize = population or default_population(len(params))
    t0 = time.perf_counter()
    with RunPool(executor, workers, scheduler, scheduler_file) as pool:
        obj = Objective(
            sc,
            [p.path for p in params],
            lambda u: {p.path: p.from_unit(x) for p, x in zip(params, u, strict=True)},
            seeds.runs,
            facts,
            ov,
            max_evals,
            loss,
            pool,
            on_eval,
        )
        start_loss, generations = _search(obj, params, start, seeds.sampler, sigma0, popsize)
        best = obj.best
        fs_loss, ff_loss, cards = _rescore(obj, start, best.point, seeds.fresh)
    return FitResult(
        start=start,
        fitted=dict(best.point),
        start_loss=start_loss,
        fitted_loss=best.loss,
        fresh_start_loss=fs_loss,
        fresh_loss=ff_loss,
        trace=obj.trace_frame(),
        catch_up=estimate_catch_up(sc),
        cards=cards,
        settings={
            "scenario": sc.name,
            "scenario_values": scenario_values,
            "seed": seed,
            **_seed_record(seeds),
            "replications": replications,
            "max_evals": max_evals,
            "evaluations": len(obj.trace),
            "generations": generations,
            **_optimiser_record(popsize, sigma0),
            "executor": pool.executor,
            "overrides": ov,
            "seconds": round(time.perf_counter() - t0, 1),
        },
    )

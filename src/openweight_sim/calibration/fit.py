"""Fitting the free behavioural parameters to the in-sample facts (``openweight-sim calibrate``).

Two parts, both using only 2023Q1–2024Q4 data:

1. **Behavioural parameters** (:data:`FREE_PARAMETERS`): a simulated-moments fit. For a
   candidate vector θ the model runs from 2023Q1 to 2024Q4 under ``R`` fixed seeds (common
   random numbers: the same seeds for every θ, so the objective is a deterministic function
   of θ) and the loss :func:`loss` compares the replication mean of each fact's simulated
   counterpart with the observed value. The optimiser is a Latin-hypercube search over the
   bounds followed by bounded Nelder–Mead from the best point found, both seeded; the
   current scenario values are always the first point evaluated, so the fit never returns
   anything worse than the values it started from.
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
- ``loss = mean of z²`` over the facts that behaviour can move (the exogenous H100 rental
  facts are left out).

``|z| ≤ 1`` is exactly "within the band" unless the floor applies, so the loss measures
the same thing as the scorecard, with a smooth penalty that grows with the size of a miss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.calibration.facts import EXOGENOUS, IN_SAMPLE_END, load_facts
from openweight_sim.calibration.scorecard import scorecard, simulate, simulated_stats
from openweight_sim.releases import history_table
from openweight_sim.scenario import Scenario, ScenarioError, get_dotted, load_scenario
from openweight_sim.seeds import spawn_seeds

Z_CAP = 4.0
"""Largest standardised miss a single fact can contribute (z² ≤ 16)."""

FLOOR_FRACTION = 0.25
"""A side's tolerance is at least this fraction of the band's full width."""

NM_STEPS = (0.15, 0.06, 0.025)
"""Nelder–Mead restarts from the best point so far, with shrinking initial simplices."""

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
        0.3,
        5.0,
        log=True,
        targets="price levels and markups (all price facts)",
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
        -2.0,
        3.0,
        targets="OpenAI enterprise spend share (F23, F25)",
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
        2.0,
        targets="open share of enterprise workloads (F27): enterprises' preference for "
        "closed vendors",
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
    """Mean squared standardised miss over the facts that behaviour can move."""
    keep = ~card["metric"].isin(EXOGENOUS).to_numpy()
    z = standardised_misses(card)[keep]
    return float(np.mean(z**2)) if z.size else 0.0


@dataclass
class Evaluation:
    """One evaluation of the objective."""

    index: int
    phase: str
    point: dict[str, float]
    loss: float
    within: int
    seconds: float


class Budget(Exception):
    """Raised inside the optimiser when the evaluation budget is spent."""


@dataclass
class Objective:
    """The deterministic calibration objective θ ↦ loss, with a trace and a budget.

    Args:
        scenario: the scenario whose free parameters are fitted.
        params: the free parameters.
        seeds: run seeds (common random numbers across evaluations).
        facts: the in-sample facts.
        overrides: overrides applied to every run (e.g. developer count, ``end``).
        max_evals: evaluation budget; :class:`Budget` is raised when it is spent.
        on_eval: called after every evaluation (progress bar).
        run_options: how the replications run (``executor``, ``workers``, ``scheduler`` of
            :func:`openweight_sim.runs.run_replications`); they never change the loss.
    """

    scenario: Scenario
    params: Sequence[FreeParameter]
    seeds: list[int]
    facts: pd.DataFrame
    overrides: Mapping[str, Any]
    max_evals: int
    on_eval: Callable[[Evaluation, Evaluation], None] | None = None
    run_options: Mapping[str, Any] = field(default_factory=dict)
    trace: list[Evaluation] = field(default_factory=list)
    _cache: dict[tuple[float, ...], float] = field(default_factory=dict)

    @property
    def best(self) -> Evaluation:
        """The best evaluation so far (ties: the earliest)."""
        return min(self.trace, key=lambda e: (e.loss, e.index))

    def point_of(self, unit: Sequence[float]) -> dict[str, float]:
        """Parameter values of a point of the unit cube."""
        return {p.path: p.from_unit(u) for p, u in zip(self.params, unit, strict=True)}

    def evaluate_values(self, values: Mapping[str, float], phase: str) -> float:
        """Run the replications at ``values`` and return the loss (cached by value)."""
        key = tuple(values[p.path] for p in self.params)
        if key in self._cache:
            return self._cache[key]
        if len(self.trace) >= self.max_evals:
            raise Budget
        t0 = time.perf_counter()
        sim = simulate(
            self.scenario,
            overrides={**self.overrides, **values},
            seeds=self.seeds,
            **self.run_options,
        )
        card = pd.concat([self.facts, simulated_stats(sim, self.facts)], axis=1)
        value = loss(card)
        mean = card["simulated_mean"]
        within = int((mean.notna() & (mean >= card["low"]) & (mean <= card["high"])).sum())
        ev = Evaluation(
            len(self.trace), phase, dict(values), value, within, time.perf_counter() - t0
        )
        self.trace.append(ev)
        self._cache[key] = value
        if self.on_eval is not None:
            self.on_eval(ev, self.best)
        return value

    def __call__(self, unit: np.ndarray, phase: str = "nelder-mead") -> float:
        """The objective on the unit cube (what the optimiser sees)."""
        return self.evaluate_values(self.point_of(unit), phase)

    def trace_frame(self) -> pd.DataFrame:
        """The trace as a table: eval, phase, loss, within, seconds, one column per parameter."""
        rows = [
            {
                "eval": e.index,
                "phase": e.phase,
                "loss": e.loss,
                "within_tolerance": e.within,
                "seconds": round(e.seconds, 3),
                **e.point,
            }
            for e in self.trace
        ]
        return pd.DataFrame(rows)


@dataclass
class FitResult:
    """What :func:`fit` found.

    Attributes:
        start: the scenario's values of the free parameters before the fit.
        fitted: the best values found.
        start_loss: loss at ``start``.
        fitted_loss: loss at ``fitted``.
        trace: every evaluation.
        catch_up: catch-up estimates from the historical table (lab path → estimate row).
        settings: replications, seed, seeds, developer count, budget, duration.
    """

    start: dict[str, float]
    fitted: dict[str, float]
    start_loss: float
    fitted_loss: float
    trace: pd.DataFrame
    catch_up: pd.DataFrame
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


def _simplex(x0: np.ndarray, step: float) -> np.ndarray:
    """An initial Nelder–Mead simplex: ``x0`` and one vertex per axis, ``step`` away inside [0, 1].

    The objective is a step function of θ at fine resolution (discrete choices under fixed
    random numbers), so the simplex starts large and restarts smaller.
    """
    n = x0.size
    pts = [x0]
    for i in range(n):
        x = x0.copy()
        x[i] = x[i] + step if x[i] + step <= 1.0 else x[i] - step
        pts.append(x)
    return np.vstack(pts)


def _check_params(scenario: Scenario, params: Sequence[FreeParameter]) -> dict[str, float]:
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


def _optimise(
    obj: Objective,
    start: Mapping[str, float],
    seed: int,
    max_evals: int,
    explore_fraction: float,
) -> float:
    """Evaluate the start, a Latin hypercube, then Nelder–Mead restarts; the start's loss.

    Stops when the budget is spent; the best point found is ``obj.best``.
    """
    from scipy.optimize import minimize
    from scipy.stats import qmc

    params = obj.params
    start_loss = obj.evaluate_values(start, "start")
    try:
        n_explore = round(explore_fraction * (max_evals - 1))
        if n_explore > 0:
            sampler = qmc.LatinHypercube(d=len(params), seed=np.random.default_rng(seed))
            for u in sampler.random(n_explore):
                obj(u, "latin-hypercube")
        for step in NM_STEPS:
            before = obj.best.loss
            x0 = np.array([p.to_unit(obj.best.point[p.path]) for p in params])
            minimize(
                obj,
                x0,
                method="Nelder-Mead",
                bounds=[(0.0, 1.0)] * len(params),
                options={
                    "initial_simplex": _simplex(x0, step),
                    "maxfev": 10 * max_evals,
                    "xatol": 1e-3,
                    "fatol": 1e-4,
                },
            )
            if obj.best.loss >= before and step != NM_STEPS[0]:
                break
    except Budget:
        pass
    return start_loss


def fit(
    scenario: str | Path | Scenario = "baseline",
    *,
    params: Sequence[FreeParameter] = FREE_PARAMETERS,
    replications: int = 3,
    seed: int = 0,
    max_evals: int = 600,
    overrides: Mapping[str, Any] | None = None,
    explore_fraction: float = 0.35,
    on_eval: Callable[[Evaluation, Evaluation], None] | None = None,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
) -> FitResult:
    """Fit the free parameters to the in-sample facts.

    Args:
        scenario: the scenario to fit (its current values are the starting point).
        params: the free parameters and their bounds.
        replications: runs per evaluation (fixed seeds from ``spawn_seeds(seed, R)``).
        seed: root seed of the runs and of the optimiser.
        max_evals: evaluation budget (each evaluation is ``replications`` runs).
        overrides: applied to every run; defaults to ``developers.count`` =
            :data:`CALIBRATION_COUNT` (unless given) and always ``end`` = 2024Q4.
        explore_fraction: share of the budget spent on the Latin-hypercube search.
        on_eval: progress callback ``(evaluation, best so far)``.
        executor: where each evaluation's replications run: ``serial``, ``processes`` or
            ``dask`` (the sweep executors; the fit is the same for all). Worth it with a
            running Dask cluster (``scheduler``) or many replications: every evaluation
            starts its own pool otherwise.
        workers: parallel workers.
        scheduler: address of a running Dask scheduler (implies ``dask``).

    Returns:
        The fitted values, the losses before and after, the trace and the catch-up estimates.

    Raises:
        ScenarioError: a free parameter is not a number of the scenario, or bad overrides.
    """
    if replications < 1:
        raise ScenarioError("calibrate", "replications", f"must be >= 1 (got {replications})")
    if max_evals < 1:
        raise ScenarioError("calibrate", "max_evals", f"must be >= 1 (got {max_evals})")
    ov = {"developers.count": CALIBRATION_COUNT, **dict(overrides or {}), "end": IN_SAMPLE_END}
    sc = load_scenario(scenario)
    load_scenario(sc, ov)  # fail early on bad overrides
    start = _check_params(sc, params)
    facts = load_facts()
    seeds = spawn_seeds(seed, replications)
    run_options = {"executor": executor, "workers": workers, "scheduler": scheduler}
    obj = Objective(sc, params, seeds, facts, ov, max_evals, on_eval, run_options)
    t0 = time.perf_counter()
    start_loss = _optimise(obj, start, seed, max_evals, explore_fraction)
    best = obj.best
    return FitResult(
        start=start,
        fitted=dict(best.point),
        start_loss=start_loss,
        fitted_loss=best.loss,
        trace=obj.trace_frame(),
        catch_up=estimate_catch_up(sc),
        settings={
            "scenario": sc.name,
            "replications": replications,
            "seed": seed,
            "run_seeds": seeds,
            "max_evals": max_evals,
            "evaluations": len(obj.trace),
            "overrides": ov,
            "seconds": round(time.perf_counter() - t0, 1),
            "z_cap": Z_CAP,
            "floor_fraction": FLOOR_FRACTION,
        },
    )


def fitted_scorecard(
    scenario: str | Path | Scenario,
    values: Mapping[str, float],
    seeds: list[int],
    overrides: Mapping[str, Any],
    **run_options: Any,
) -> pd.DataFrame:
    """The in-sample scorecard at given parameter values (the fit's own settings).

    ``run_options`` (``executor``, ``workers``, ``scheduler``) say where the runs go.
    """
    sim = simulate(scenario, overrides={**overrides, **values}, seeds=seeds, **run_options)
    return scorecard(sim)

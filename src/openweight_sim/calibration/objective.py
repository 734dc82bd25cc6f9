"""The calibration objective θ ↦ loss, evaluated a batch of candidates at a time.

For a candidate θ the model runs 2023Q1–2024Q4 under fixed seeds (common random numbers:
the same seeds for every θ, so the objective is a deterministic function of θ), and the
loss (:func:`openweight_sim.calibration.fit.loss`) compares each fact's replication mean
with its band. A batch's runs (candidates × seeds) go to one :class:`RunPool` together;
every result is put back in its place, so the trace does not depend on which worker ran
what.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.calibration.pool import RunPool
from openweight_sim.calibration.scorecard import scorecard, simulated_stats
from openweight_sim.runs import RunTask, run_task
from openweight_sim.scenario import Scenario, load_scenario


@dataclass
class Evaluation:
    """One evaluation of the objective.

    Attributes:
        index: position in the trace (0 is the scenario's own values).
        phase: ``start`` or the search phase (``cma-es r<restart>``).
        generation: the CMA-ES generation (−1 for the start).
        point: the parameter values.
        loss: the loss at ``point``.
        within: facts within tolerance at ``point``.
        seconds: the batch's wall time divided by its evaluations (the runs of a batch
            overlap on the workers).
    """

    index: int
    phase: str
    generation: int
    point: dict[str, float]
    loss: float
    within: int
    seconds: float


def loss_and_card(
    sim: pd.DataFrame, facts: pd.DataFrame, loss: Callable[[pd.DataFrame], float]
) -> tuple[float, int, pd.DataFrame]:
    """The loss, the facts within tolerance and the scorecard of stacked replications."""
    card = pd.concat([facts, simulated_stats(sim, facts)], axis=1)
    mean = card["simulated_mean"]
    within = int((mean.notna() & (mean >= card["low"]) & (mean <= card["high"])).sum())
    return loss(card), within, card


def stack(frames: Sequence[pd.DataFrame], seeds: Sequence[int]) -> pd.DataFrame:
    """Replications' per-quarter frames as one table with ``replication`` and ``seed``."""
    parts = [
        df.assign(replication=r, seed=s)[["replication", "seed", *df.columns]]
        for r, (df, s) in enumerate(zip(frames, seeds, strict=True))
    ]
    return pd.concat(parts, ignore_index=True)


@dataclass
class Objective:
    """The deterministic objective with a trace, a cache and an evaluation budget.

    Args:
        scenario: the scenario whose free parameters are fitted.
        paths: the free parameters' dotted paths, in order.
        from_unit: maps a point of the unit cube to parameter values.
        seeds: run seeds (common random numbers across evaluations).
        facts: the in-sample facts.
        overrides: overrides applied to every run (e.g. developer count, ``end``).
        max_evals: evaluation budget (cached points do not count).
        loss: the loss of a scorecard joined with the facts.
        pool: where the runs go.
        on_eval: called after every evaluation with ``(evaluation, best so far)``.
    """

    scenario: Scenario
    paths: Sequence[str]
    from_unit: Callable[[Sequence[float]], dict[str, float]]
    seeds: list[int]
    facts: pd.DataFrame
    overrides: Mapping[str, Any]
    max_evals: int
    loss: Callable[[pd.DataFrame], float]
    pool: RunPool
    on_eval: Callable[[Evaluation, Evaluation], None] | None = None
    trace: list[Evaluation] = field(default_factory=list)
    _cache: dict[tuple[float, ...], tuple[float, pd.DataFrame]] = field(default_factory=dict)

    @property
    def best(self) -> Evaluation:
        """The best evaluation so far (ties: the earliest)."""
        return min(self.trace, key=lambda e: (e.loss, e.index))

    def key(self, values: Mapping[str, float]) -> tuple[float, ...]:
        """The cache key of a point."""
        return tuple(float(values[p]) for p in self.paths)

    def card(self, values: Mapping[str, float]) -> pd.DataFrame:
        """The scorecard of an evaluated point (the fit's own runs)."""
        _, card = self._cache[self.key(values)]
        return scorecard_of(card)

    def score(
        self, points: Sequence[Mapping[str, float]], seeds: Sequence[int]
    ) -> list[tuple[float, int, pd.DataFrame]]:
        """Loss, facts within and scorecard of each point under other seeds (no trace)."""
        tasks = [
            RunTask(load_scenario(self.scenario, {**self.overrides, **pt}), s, r)
            for pt in points
            for r, s in enumerate(seeds)
        ]
        results = self.pool.map(run_task, tasks)
        n = len(seeds)
        out = []
        for i in range(len(points)):
            frames = [res.quarters for res in results[i * n : (i + 1) * n]]
            out.append(loss_and_card(stack(frames, seeds), self.facts, self.loss))
        return out

    def evaluate(
        self, points: Sequence[Mapping[str, float]], phase: str, generation: int
    ) -> list[float | None]:
        """Losses of a batch of points; None for those the budget did not reach.

        New points are evaluated in batch order up to the budget, all in one batch of
        runs; points already evaluated (also within the batch) reuse their loss.
        """
        fresh: list[tuple[float, ...]] = []
        todo: list[Mapping[str, float]] = []
        for pt in points:
            k = self.key(pt)
            if k in self._cache or k in fresh:
                continue
            if len(self.trace) + len(todo) >= self.max_evals:
                break
            fresh.append(k)
            todo.append(pt)
        if todo:
            t0 = time.perf_counter()
            scored = self.score(todo, self.seeds)
            each = (time.perf_counter() - t0) / len(todo)
            for pt, k, (value, within, card) in zip(todo, fresh, scored, strict=True):
                ev = Evaluation(len(self.trace), phase, generation, dict(pt), value, within, each)
                self.trace.append(ev)
                self._cache[k] = (value, card)
                if self.on_eval is not None:
                    self.on_eval(ev, self.best)
        return [
            self._cache[self.key(pt)][0] if self.key(pt) in self._cache else None for pt in points
        ]

    def evaluate_units(
        self, units: Sequence[np.ndarray], phase: str, generation: int
    ) -> list[float | None]:
        """:meth:`evaluate` on points of the unit cube (what the search asks)."""
        return self.evaluate([self.from_unit(u) for u in units], phase, generation)

    def trace_frame(self) -> pd.DataFrame:
        """The trace: eval, phase, generation, loss, within, seconds, one column per parameter."""
        rows = [
            {
                "eval": e.index,
                "phase": e.phase,
                "generation": e.generation,
                "loss": e.loss,
                "within_tolerance": e.within,
                "seconds": round(e.seconds, 3),
                **e.point,
            }
            for e in self.trace
        ]
        return pd.DataFrame(rows)


def scorecard_of(card: pd.DataFrame) -> pd.DataFrame:
    """The public scorecard of a card built by :func:`loss_and_card`.

    Same columns as :func:`~openweight_sim.calibration.scorecard.scorecard`.
    """
    sim_cols = ["simulated_mean", "simulated_p5", "simulated_p95", "n"]
    return scorecard(None, card.drop(columns=sim_cols), stats=card[sim_cols])

"""The value of openness to Meta over a posterior: parameter and run-to-run uncertainty.

:func:`meta_value_posterior` draws ``draws`` parameter sets from a posterior sample with
:func:`openweight_sim.posterior.predictive.draw_parameters` (the seed scheme of ``compare
--posterior``), and for each draw ``d`` computes Meta's paired value of openness exactly as
:func:`openweight_sim.meta.value.meta_value` does: the scenario at the drawn values against
its Meta-internal twin, replication ``r`` of both worlds, and of every draw, with the seed
``spawn_seeds(seed, R)[r]`` (common random numbers, so draws differ by their parameters,
not by their luck). Every draw's runs go to the executor as one batch, so the result does
not depend on the executor or the number of workers.

Per run, the quantities are the cumulative discounted value of openness and of each
channel over the run (the channels add up to the total) and the value from Meta's first
review on (``forward``; NaN when the run ends before the review). Their variance is split
by the law of total variance (:func:`openweight_sim.posterior.predictive.decompose`) into
the part from the parameters and the part from run-to-run noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from openweight_sim.counterfactual import meta_internal_scenario
from openweight_sim.meta.payoff import CHANNELS
from openweight_sim.meta.value import MetaValue, paired_value
from openweight_sim.posterior.predictive import (
    DECOMPOSITION_COLUMNS,
    decompose,
    draw_parameters,
    load_posterior,
)
from openweight_sim.runs import run_replications
from openweight_sim.scenario import Scenario, load_scenario

QUANTITIES = ["openness", *CHANNELS, "forward"]
"""Per-run quantities: cumulative value of openness, its channels, and the forward value."""
VALUES_COLUMNS = ["draw", "replication", "seed", *QUANTITIES]
"""Columns of :meth:`MetaValuePosterior.values` (USD, discounted to the first quarter)."""
PREDICTIVE_COLUMNS = ["channel", "from", *DECOMPOSITION_COLUMNS[3:]]
"""Columns of :meth:`MetaValuePosterior.decomposition`."""


@dataclass
class MetaValuePosterior:
    """The value of openness to Meta at parameter sets drawn from a posterior.

    Attributes:
        scenario: the scenario with the overrides, before any draw's values.
        draws: the drawn parameter sets (dotted path → value), in draw order.
        seeds: the run seeds; replication ``r`` of every draw and both worlds uses
            ``seeds[r]``.
        root: the root seed of the draws and of the run seeds.
        per_draw: one :class:`~openweight_sim.meta.value.MetaValue` per draw.
    """

    scenario: Scenario
    draws: list[dict[str, float]]
    seeds: list[int]
    root: int
    per_draw: list[MetaValue]

    def values(self) -> pd.DataFrame:
        """One row per draw and replication: the per-run quantities (USD).

        ``openness`` and the channel columns are the cumulative discounted values over the
        run (:meth:`MetaValue.per_run`), ``forward`` the value from Meta's first review on.
        """
        frames = [mv.per_run().assign(draw=d) for d, mv in enumerate(self.per_draw)]
        return pd.concat(frames, ignore_index=True)[VALUES_COLUMNS]

    def value(self) -> pd.DataFrame:
        """Per draw, replication and quarter: :attr:`MetaValue.value` with a ``draw`` column."""
        frames = [mv.value.assign(draw=d) for d, mv in enumerate(self.per_draw)]
        df = pd.concat(frames, ignore_index=True)
        return df[["draw", *[c for c in df.columns if c != "draw"]]]

    def draws_frame(self) -> pd.DataFrame:
        """One row per draw: ``draw`` and the parameter values."""
        return pd.DataFrame([{"draw": d, **p} for d, p in enumerate(self.draws)])

    def review_quarter(self) -> str:
        """Meta's first review quarter (the start of ``forward``) over the draws."""
        return ", ".join(dict.fromkeys(mv.review_quarter() for mv in self.per_draw))

    def decomposition(self, level: float = 0.95) -> pd.DataFrame:
        """Law-of-total-variance split of each per-run quantity.

        Args:
            level: coverage of the intervals.

        Returns:
            One row per quantity (``openness``, the channels, ``forward``): ``from`` (the
            quarter the value counts from), the mean over all runs, the predictive interval
            (``lo``/``hi``, all runs: parameters and noise), the interval of the draw means
            (``param_lo``/``param_hi``), the two variances and the parameters' share.
        """
        v = self.values()
        start = self.scenario.start
        rows = []
        for q in QUANTITIES:
            stats = decompose(v[["draw", "replication", q]].rename(columns={q: "value"}), level)
            frm = self.review_quarter() if q == "forward" else start
            rows.append({"channel": q, "from": frm, **stats})
        return pd.DataFrame(rows, columns=PREDICTIVE_COLUMNS)


def meta_value_posterior(
    scenario: str | Path | Scenario,
    posterior: str | Path | pd.DataFrame,
    draws: int = 20,
    replications: int = 5,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
) -> MetaValuePosterior:
    """The value of openness to Meta over ``draws`` parameter sets drawn from a posterior.

    Args:
        scenario: bundled name, YAML path or Scenario.
        posterior: a posterior sample (:func:`~openweight_sim.posterior.predictive.
            load_posterior`) or the directory holding one.
        draws: parameter sets drawn (with replacement, by weight).
        replications: paired runs per draw, seeds ``spawn_seeds(seed, R)`` for every draw.
        seed: root seed of the draws and of the runs.
        overrides: dotted-path overrides applied to every run, under the drawn values.
        executor: ``serial``, ``processes`` or ``dask`` (same results for all).
        workers: parallel workers.
        scheduler: address of a running Dask scheduler (implies ``dask``).

    Returns:
        A :class:`MetaValuePosterior`; ``.decomposition()`` gives the variance split.
    """
    sample = posterior if isinstance(posterior, pd.DataFrame) else load_posterior(posterior)
    ov = dict(overrides or {})
    base = load_scenario(scenario, ov)
    params = draw_parameters(sample, draws, seed)
    worlds = [load_scenario(scenario, {**ov, **p}) for p in params]
    twins = [meta_internal_scenario(sc) for sc in worlds]
    reps = run_replications(
        [*worlds, *twins], replications, seed,
        executor=executor, workers=workers, scheduler=scheduler,
    )  # fmt: skip
    per_draw = []
    for sc, twin, ra, rb in zip(worlds, twins, reps[:draws], reps[draws:], strict=True):
        value = paired_value(ra.quarters, rb.quarters, sc.meta_payoff.discount_rate)
        per_draw.append(MetaValue(sc, twin, list(ra.seeds), seed, value, ra.quarters, rb.quarters))
    return MetaValuePosterior(base, params, list(reps[0].seeds), seed, per_draw)

"""The market model as an ABC simulator: parameter values → simulated in-sample facts.

A particle's summary statistics are the simulated counterparts of the in-sample facts
(``data/calibration_facts.csv``, whatever facts are there when the posterior runs): the mean
over ``replications`` runs, 2023Q1–2024Q4, of each fact's column in its quarter (NaN where
the model has no such product). The distance (:func:`facts_distance`) is the calibration
loss's: the root mean square of the standardised misses of
:func:`openweight_sim.calibration.fit.standardised_misses` (tolerance bands, log scale for
prices, capped at ``Z_CAP``) over the facts that behaviour can move (those that hold by
construction, ``BY_CONSTRUCTION``, are left out, as in the loss), so a distance of 1 is
"on average at the edge of the band" and the distance is at most ``Z_CAP``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.calibration.facts import BY_CONSTRUCTION, IN_SAMPLE_END, load_facts
from openweight_sim.scenario import Scenario

FACT_FIELDS = ("metric", "observed", "low", "high", "log_scale")


def facts_table(facts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The in-sample facts (default: the bundled ones)."""
    return load_facts() if facts is None else facts


@dataclass(frozen=True)
class FactsSimulator:
    """Picklable ``(values, seed) -> {"s": simulated fact values}`` for ABC-SMC.

    Attributes:
        scenario: the scenario whose parameters the values override.
        overrides: applied to every run (developer count; ``end`` is forced to 2024Q4).
        facts: the in-sample facts.
        replications: runs per particle, seeds ``spawn_seeds(seed, replications)``.
    """

    scenario: Scenario
    overrides: Mapping[str, Any]
    facts: pd.DataFrame
    replications: int = 1

    def __call__(self, values: Mapping[str, float], seed: int) -> dict:
        """Run the particle's replications (serially: the particle is the parallel unit)."""
        from openweight_sim.calibration.scorecard import simulate, simulated_stats
        from openweight_sim.seeds import spawn_seeds

        sim = simulate(
            self.scenario,
            overrides={**self.overrides, **values, "end": IN_SAMPLE_END},
            seeds=spawn_seeds(seed, self.replications),
        )
        stats = simulated_stats(sim, self.facts)
        return {"s": stats["simulated_mean"].to_numpy(float)}


@dataclass(frozen=True)
class FactsDistance:
    """Picklable distance: RMS standardised miss over the facts behaviour can move.

    Facts that hold by construction (inputs, the replayed release table) are left out.

    Attributes:
        facts: the in-sample facts (bands and scales).
    """

    facts: pd.DataFrame

    def __call__(self, x: dict, x0: dict) -> float:
        """Distance of simulated facts ``x['s']`` from the observed facts."""
        z = misses(self.facts, np.asarray(x["s"], float))
        keep = ~self.facts["metric"].isin(BY_CONSTRUCTION).to_numpy()
        return float(np.sqrt(np.mean(z[keep] ** 2))) if keep.any() else 0.0


def misses(facts: pd.DataFrame, simulated: np.ndarray) -> np.ndarray:
    """Standardised miss of every fact for one vector of simulated values."""
    from openweight_sim.calibration.fit import standardised_misses

    card = facts[list(FACT_FIELDS)].assign(simulated_mean=simulated)
    return standardised_misses(card)


def observed_stats(facts: pd.DataFrame) -> dict:
    """The observed summary statistics (the facts' observed values)."""
    return {"s": facts["observed"].to_numpy(float)}


def within_band(facts: pd.DataFrame, simulated: np.ndarray) -> np.ndarray:
    """Boolean per fact: the simulated value lies in the fact's band (NaN: a miss)."""
    s = np.asarray(simulated, float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(s) & (s >= facts["low"].to_numpy()) & (s <= facts["high"].to_numpy())


def hit_matrix(facts: pd.DataFrame, sims: np.ndarray) -> np.ndarray:
    """1.0 where simulation ``i`` (row) lies in fact ``j``'s band, else 0.0.

    Returns:
        An ``n_sims × n_facts`` array.
    """
    sims = np.atleast_2d(np.asarray(sims, float))
    return np.vstack([within_band(facts, s) for s in sims]).astype(float)

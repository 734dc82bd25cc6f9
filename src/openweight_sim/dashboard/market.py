"""The dashboard's model: a market run and, on request, its no-open-weights counterfactual.

SolaraViz creates the model from the sidebar's values on Reset (:mod:`.controls` turns them
into scenario overrides) and steps it; the panels read its per-quarter frames.
"""

from __future__ import annotations

import itertools
import threading

import mesa
import pandas as pd

from openweight_sim.counterfactual import counterfactual_scenario, meta_internal_scenario
from openweight_sim.dashboard.controls import (
    DEFAULT_DEVELOPERS,
    DEFAULT_SEED,
    baseline_value,
    mau_label,
    settings,
    slider_overrides,
)
from openweight_sim.model import OpenWeightMarket
from openweight_sim.scenario import load_scenario

_run_ids = itertools.count()


class DashboardMarket(mesa.Model):
    """The dashboard's model: a market run plus its no-open-weights counterfactual.

    It wraps an :class:`~openweight_sim.model.OpenWeightMarket` (``market``) and, once the
    counterfactual is asked for, a shadow market of the same scenario with every lab closed,
    same overrides and same seed (``counterfactual``), stepped in lockstep.

    Args:
        scenario_name: a bundled scenario.
        meta_release_interval: quarters between Meta's generations.
        meta_moe_leverage: total/active parameters of Meta's frontier releases.
        llama_mau_threshold: Llama licence threshold, a label of ``MAU_CHOICES``.
        cn_aversion: multiplier on the segments' aversion to Chinese-origin models.
        frontier_growth: Elo per quarter of the closed frontier after the history.
        price_sensitivity: multiplier on the segments' price sensitivity.
        switching_cost: utility cost of changing model family.
        efficiency_growth: serving efficiency growth per year.
        developers: developers simulated.
        rng: random seed, shared by the run and its counterfactual.
        counterfactual: build the counterfactual at once (otherwise on first request).
    """

    def __init__(
        self,
        scenario_name: str = "baseline",
        meta_release_interval: int = baseline_value("labs.meta.release_interval"),
        meta_moe_leverage: float = baseline_value("labs.meta.moe_leverage.frontier"),
        llama_mau_threshold: str = mau_label(baseline_value("labs.meta.mau_threshold")),
        cn_aversion: float = baseline_value("developers.cn_aversion"),
        frontier_growth: float = baseline_value("technology.frontier_growth"),
        price_sensitivity: float = baseline_value("developers.price_sensitivity"),
        switching_cost: float = baseline_value("developers.switching_cost"),
        efficiency_growth: float = baseline_value("technology.efficiency_growth"),
        developers: int = DEFAULT_DEVELOPERS,
        rng: int = DEFAULT_SEED,
        counterfactual: bool = False,
    ):
        super().__init__(rng=rng)
        values = {
            "meta_release_interval": meta_release_interval,
            "meta_moe_leverage": meta_moe_leverage,
            "llama_mau_threshold": llama_mau_threshold,
            "cn_aversion": cn_aversion,
            "frontier_growth": frontier_growth,
            "price_sensitivity": price_sensitivity,
            "switching_cost": switching_cost,
            "efficiency_growth": efficiency_growth,
        }
        self.seed = int(rng)
        self.run_id = next(_run_ids)
        self.overrides = {**slider_overrides(values), "developers.count": int(developers)}
        self.market = OpenWeightMarket(
            load_scenario(scenario_name), rng=self.seed, **self.overrides
        )
        self.config = self.market.config
        self.counterfactual_config = counterfactual_scenario(self.config)
        self.counterfactual: OpenWeightMarket | None = None
        self.meta_internal_config = meta_internal_scenario(self.config)
        self.meta_internal: OpenWeightMarket | None = None
        self.datacollector = self.market.datacollector
        self._lock = threading.RLock()
        if counterfactual:
            self.counterfactual_frame()

    @property
    def quarters(self) -> list[str]:
        """All quarters of the horizon."""
        return list(self.config.quarters)

    @property
    def quarters_done(self) -> int:
        """Quarters simulated so far."""
        return len(next(iter(self.datacollector.model_vars.values()), []))

    def step(self) -> None:
        """Simulate one quarter of the run (and of the counterfactual, if shown)."""
        with self._lock:
            self.market.step()
            if self.counterfactual is not None:
                self._catch_up()
            if self.meta_internal is not None:
                self._catch_up(self.meta_internal)
            self.running = self.market.running

    def frame(self) -> pd.DataFrame:
        """Per-quarter outputs of the run so far."""
        with self._lock:
            return self.market.quarters_frame()

    def counterfactual_frame(self) -> pd.DataFrame:
        """Per-quarter outputs of the counterfactual, created and caught up on demand."""
        with self._lock:
            if self.counterfactual is None:
                self.counterfactual = OpenWeightMarket(self.counterfactual_config, rng=self.seed)
            self._catch_up()
            return self.counterfactual.quarters_frame()

    def meta_internal_frame(self) -> pd.DataFrame:
        """Per-quarter outputs of the Meta-internal twin (same seed), caught up on demand.

        The value-of-openness panel reads it: the run minus this twin is what openness
        pays Meta (:mod:`openweight_sim.meta.value`).
        """
        with self._lock:
            if self.meta_internal is None:
                self.meta_internal = OpenWeightMarket(self.meta_internal_config, rng=self.seed)
            self._catch_up(self.meta_internal)
            return self.meta_internal.quarters_frame()

    def _catch_up(self, cf: OpenWeightMarket | None = None) -> None:
        cf = self.counterfactual if cf is None else cf
        assert cf is not None
        while cf.running and cf.steps < self.market.steps:
            cf.step()

    def settings(self) -> list[tuple[str, str, bool]]:
        """The slider settings in effect: (label, value, differs from the baseline)."""
        return settings(self.config)

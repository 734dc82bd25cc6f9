"""Meta's payoff from its open-model programme, and the policy rule that reads it.

Each quarter the focal lab (``meta_payoff.lab``, Meta in the baseline) books

    avoided inference = internal tokens × (price of a comparable closed API − own cost)
    ad lift           = ad revenue × lift per 100 Elo × (its best quality − 1186)/100
    ecosystem         = value per developer × developers building on its family
    − training spend booked this quarter − a share of capex

(docs/ODD.md, Accounting). Its policy rule: a lab with ``consolidate_below`` set turns
closed when the payoff summed over the last four quarters falls below that threshold.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from openweight_sim.options import CLOSED_API, Options
from openweight_sim.releases import REFERENCE_ELO, Release

if TYPE_CHECKING:
    from openweight_sim.scenario import MetaPayoff as MetaPayoffParams

NAN = float("nan")
TRAILING_QUARTERS = 4
"""Quarters over which the policy rule sums the payoff."""


@dataclass(frozen=True, slots=True)
class PayoffTerms:
    """One quarter of the focal lab's payoff, USD."""

    avoided_inference: float = 0.0
    ad_lift: float = 0.0
    ecosystem_value: float = 0.0
    training_cost: float = 0.0
    capex_share: float = 0.0

    @property
    def net(self) -> float:
        """Net payoff: the three gains minus training spend and the capex share."""
        return (
            self.avoided_inference
            + self.ad_lift
            + self.ecosystem_value
            - self.training_cost
            - self.capex_share
        )


def meta_payoff(
    params: MetaPayoffParams,
    years: float,
    catalogue: list[Release],
    training_cost: float,
    serving_efficiency: float,
    serving_cost: Callable[[Release, float], float],
    opts: Options,
    prices: np.ndarray,
    on_family: int,
    scale: float,
) -> PayoffTerms:
    """The focal lab's payoff this quarter.

    Args:
        params: the scenario's ``meta_payoff`` parameters.
        years: years since the start of the run (growth of revenue, tokens, capex).
        catalogue: all the lab's releases so far (internal models count: Meta AI runs on
            its best model).
        training_cost: training spend the lab booked this quarter.
        serving_efficiency: the lab's serving efficiency.
        serving_cost: serving cost of a release on a server of a given efficiency.
        opts: this quarter's options.
        prices: this quarter's price per option (NaN for self-hosting).
        on_family: simulated developers building on the lab's family.
        scale: real developer firms per simulated developer.
    """
    mp = params
    avoided = ad_lift = 0.0
    if catalogue:
        best = max(catalogue, key=lambda r: r.quality)
        own_cost = serving_cost(best, serving_efficiency)
        closed = (opts.kind == CLOSED_API) & (opts.quality >= best.quality - 30.0)
        closed &= np.isfinite(prices)  # withdrawn offers have no price
        alt = float(prices[closed].min()) if closed.any() else NAN
        tokens = mp.internal_tokens_m * (1.0 + mp.internal_token_growth) ** years
        avoided = tokens * max(0.0, alt - own_cost) if np.isfinite(alt) else 0.0
        revenue = mp.ad_revenue_q * (1.0 + mp.ad_revenue_growth) ** years
        lift = mp.ad_lift_per_100elo * max(0.0, best.quality - REFERENCE_ELO) / 100.0
        ad_lift = revenue * lift
    return PayoffTerms(
        avoided_inference=avoided,
        ad_lift=ad_lift,
        ecosystem_value=mp.ecosystem_value_per_dev * float(on_family) * scale,
        training_cost=training_cost,
        capex_share=mp.capex_q * (1.0 + mp.capex_growth) ** years * mp.capex_share,
    )


class PayoffHistory:
    """The focal lab's payoff over the run: the trailing window the policy reads, the total."""

    def __init__(self) -> None:
        self._trailing: deque[float] = deque(maxlen=TRAILING_QUARTERS)
        self.cumulative = 0.0

    def add(self, net: float) -> None:
        """Record one quarter's net payoff."""
        self._trailing.append(net)
        self.cumulative += net

    @property
    def trailing(self) -> float:
        """Net payoff summed over the last four quarters (fewer at the start)."""
        return sum(self._trailing)


def consolidates(trailing_payoff: float | None, threshold: float | None) -> bool:
    """Whether a lab turns closed: its trailing payoff fell below its threshold.

    Args:
        trailing_payoff: the payoff over the last four quarters (None: not tracked).
        threshold: the lab's ``consolidate_below`` (None: never consolidates).
    """
    return threshold is not None and trailing_payoff is not None and trailing_payoff < threshold

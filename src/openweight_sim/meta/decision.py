"""Meta's annual review: keep releasing open weights, or consolidate.

Once a year (``meta_payoff.review_quarter``, from ``meta_payoff.review_from``) a deciding
Meta (``meta_payoff.decide``) estimates the value of staying open over the next
``horizon_q`` quarters and consolidates — stops open releases for good, keeps its internal
ones — when the estimate is negative. Meta cannot run the counterfactual world, so the
estimate is a stated proxy built only from what it observed last quarter (its
:class:`~openweight_sim.meta.payoff.MetaObservation`) and the labs' catch-up rates:

* ecosystem: its ecosystem term over the last four quarters (mean), assumed to continue
  while open and to stop when it consolidates;
* moat: the community's share of Meta's next catch-up step, ``community_catch_up ×
  catch_up × lead(rival, Meta)`` Elo, valued at the attention rate;
* leakage: the followers' extra catch-up step owed to Meta's weights, ``leakage ×
  mean follower catch_up × lead(rival, follower)`` Elo, valued at the follower attention
  rate where it takes them past Meta;
* the API it forgoes (``api_capture`` × rivals' rents) and the training and capex that
  openness adds.

Ad-revenue terms grow at ``ad_revenue_growth``; every quarter is discounted at
``discount_rate``. The notebook (05) compares the proxy's decisions with the paired value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from openweight_sim.meta.payoff import (
    MetaObservation,
    ad_revenue,
    capex,
    lead,
)
from openweight_sim.scenario import quarter_index

if TYPE_CHECKING:
    from openweight_sim.scenario import MetaPayoff as MetaPayoffParams


@dataclass(frozen=True, slots=True)
class ReviewEstimate:
    """Meta's forward-looking estimate of the value of staying open, USD (discounted)."""

    ecosystem: float
    moat: float
    leakage: float
    api: float
    training: float

    @property
    def total(self) -> float:
        """The estimate: gains minus costs over the horizon."""
        return self.ecosystem + self.moat - self.leakage - self.api - self.training


def is_review(params: MetaPayoffParams, q: int) -> bool:
    """Whether quarter ``q`` (absolute index) is one of Meta's annual reviews.

    The estimate is computed (and reported) at every review; only a deciding Meta
    (``meta_payoff.decide``) acts on it.
    """
    return q >= quarter_index(params.review_from) and q % 4 == params.review_quarter - 1


def first_review(params: MetaPayoffParams) -> int:
    """Absolute index of Meta's first review quarter."""
    q = quarter_index(params.review_from)
    while q % 4 != params.review_quarter - 1:
        q += 1
    return q


def discount_factor(rate: float, quarters: float) -> float:
    """Present value of 1 USD ``quarters`` quarters ahead at annual ``rate``."""
    return (1.0 + rate) ** (-quarters / 4.0)


def estimate_openness(
    params: MetaPayoffParams,
    obs: MetaObservation,
    meta_catch_up: float,
    follower_catch_up: float,
    ecosystem_q: float,
) -> ReviewEstimate:
    """Meta's proxy estimate of the value of staying open (module docstring).

    Args:
        params: the scenario's ``meta_payoff`` block.
        obs: Meta's observation of the last quarter.
        meta_catch_up: Meta's catch-up per generation.
        follower_catch_up: the mean catch-up of the other non-frontier labs.
        ecosystem_q: Meta's ecosystem term, mean of the last four quarters it observed.
    """
    mp = params
    gap = lead(obs.rival_best, obs.meta_best)
    moat_elo = mp.community_catch_up * meta_catch_up * gap
    follower_gap = lead(obs.rival_best, obs.follower_best)
    step = mp.leakage * follower_catch_up * follower_gap
    leak_elo = lead(obs.follower_best + step, obs.meta_best) - lead(
        obs.follower_best, obs.meta_best
    )
    eco = moat = leak = api = training = 0.0
    for h in range(1, mp.horizon_q + 1):
        d = discount_factor(mp.discount_rate, h)
        revenue = ad_revenue(mp, obs.years + h / 4.0)
        eco += d * ecosystem_q
        moat += d * revenue * mp.attention_per_100elo * moat_elo / 100.0
        leak += d * revenue * mp.follower_attention_per_100elo * leak_elo / 100.0
        api += d * mp.api_capture * max(0.0, obs.rival_rents)
        training += d * (
            mp.open_training_extra * obs.open_training
            + mp.open_capex_share * capex(mp, obs.years + h / 4.0)
        )
    return ReviewEstimate(eco, moat, leak, api, training)

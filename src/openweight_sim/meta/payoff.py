"""Meta's payoff per quarter, as a sum of channel terms that both worlds compute alike.

The payoff (USD per quarter) is the sum of six terms, one per channel of the value of
openness (docs/ODD.md 7.14). Each is computed the same way in the scenario and in its
Meta-internal twin (:func:`openweight_sim.counterfactual.meta_internal_scenario`), so the
value of openness by channel is the difference of one term between the two worlds:

* ``moat``: −ad revenue × attention × (best closed rival's lead over Meta's best)⁺ / 100
  − rent exposure × closed rivals' API rents. Rivals are the closed lines of closed and
  hybrid labs that sell an API; Meta's best is its best model, internal ones included.
* ``leakage``: −ad revenue × follower attention × (best open model of another lab − Meta's
  best)⁺ / 100. Only *open* releases of other labs enter here and only *closed* lines enter
  the moat, so a release never counts twice; leakage itself is the catch-up of other labs,
  faster in the world where Meta's weights are open.
* ``input_cost``: −Meta's own tokens × min(own serving cost, cheapest API of comparable
  quality), own cost at Meta's own efficiency without community gains.
* ``ecosystem``: value per developer × developers on Meta's family + own tokens × the
  saving that community work on the open weights brings to Meta's serving cost.
* ``api``: while Meta is not open, a share of closed rivals' API rents it could earn
  selling its models (off by default).
* ``training``: −training cost amortised over each release's life, plus what openness adds
  to an open release, − the capex share charged to AI models, plus what openness adds
  while Meta is open. Training and capex that both worlds incur cancel in the difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openweight_sim.scenario import MetaPayoff as MetaPayoffParams

CHANNELS = ("moat", "leakage", "input_cost", "ecosystem", "api", "training")
"""The payoff's terms, in the order tables and plots show them."""


@dataclass(frozen=True, slots=True)
class MetaObservation:
    """What the payoff reads from one simulated quarter (USD, Elo, M tokens).

    Attributes:
        years: years since the run's start (growth of revenue, tokens, capex).
        meta_best: quality of Meta's best model so far (NaN before its first).
        rival_best: best closed-line quality of rival labs (NaN: none).
        follower_best: best open release of any other lab, commercial licence (NaN: none).
        rival_rents: closed rivals' API revenue minus serving cost this quarter.
        own_cost: Meta's cost of serving its best model itself, USD per M tokens.
        buy_price: cheapest API price of a model within 30 Elo of Meta's best (NaN: none).
        ecosystem_devs: real developer firms building on Meta's family.
        has_open: Meta has released open weights (community work on them exists).
        is_open: Meta's current policy releases open weights.
        training: Meta's amortised training cost this quarter.
        open_training: the part of ``training`` from open releases.
    """

    years: float
    meta_best: float
    rival_best: float
    follower_best: float
    rival_rents: float
    own_cost: float
    buy_price: float
    ecosystem_devs: float
    has_open: bool
    is_open: bool
    training: float
    open_training: float


@dataclass(frozen=True, slots=True)
class PayoffTerms:
    """One quarter of Meta's payoff by channel, USD (costs negative)."""

    moat: float = 0.0
    leakage: float = 0.0
    input_cost: float = 0.0
    ecosystem: float = 0.0
    api: float = 0.0
    training: float = 0.0

    @property
    def net(self) -> float:
        """Net payoff: the sum of the channel terms."""
        return sum(getattr(self, f.name) for f in fields(self))


def ad_revenue(params: MetaPayoffParams, years: float) -> float:
    """Meta's ad revenue this quarter, USD."""
    return params.ad_revenue_q * (1.0 + params.ad_revenue_growth) ** years


def own_tokens(params: MetaPayoffParams, years: float) -> float:
    """Meta's own inference this quarter, M tokens."""
    return params.internal_tokens_m * (1.0 + params.internal_token_growth) ** years


def capex(params: MetaPayoffParams, years: float) -> float:
    """Meta's capex this quarter, USD."""
    return params.capex_q * (1.0 + params.capex_growth) ** years


def lead(top: float, own: float) -> float:
    """Elo by which ``top`` exceeds ``own`` (0 when behind or when either is missing)."""
    if not (math.isfinite(top) and math.isfinite(own)):
        return 0.0
    return max(0.0, top - own)


def serving_route(own_cost: float, buy_price: float) -> float:
    """Meta's unit cost of its own tokens: serve itself or buy, whichever is cheaper."""
    return min(own_cost, buy_price) if math.isfinite(buy_price) else own_cost


def payoff_terms(params: MetaPayoffParams, obs: MetaObservation) -> PayoffTerms:
    """Meta's payoff this quarter by channel (module docstring for the equations).

    Args:
        params: the scenario's ``meta_payoff`` block.
        obs: this quarter's observation.
    """
    mp = params
    revenue = ad_revenue(mp, obs.years)
    moat = -revenue * mp.attention_per_100elo * lead(obs.rival_best, obs.meta_best) / 100.0
    moat -= mp.rent_exposure * max(0.0, obs.rival_rents)
    leak = lead(obs.follower_best, obs.meta_best)
    leakage = -revenue * mp.follower_attention_per_100elo * leak / 100.0
    input_cost = saving = 0.0
    if math.isfinite(obs.meta_best):
        tokens = own_tokens(mp, obs.years)
        base = serving_route(obs.own_cost, obs.buy_price)
        input_cost = -tokens * base
        if obs.has_open:
            community = obs.own_cost / (1.0 + mp.community_serving)
            saving = tokens * (base - serving_route(community, obs.buy_price))
    ecosystem = mp.ecosystem_value_per_dev * obs.ecosystem_devs + saving
    api = 0.0 if obs.is_open else mp.api_capture * max(0.0, obs.rival_rents)
    k = capex(mp, obs.years)
    training = -obs.training - mp.open_training_extra * obs.open_training
    training -= k * (mp.capex_share + (mp.open_capex_share if obs.is_open else 0.0))
    return PayoffTerms(moat, leakage, input_cost, ecosystem, api, training)


def amortised_training(
    releases: list[tuple[int, float, bool]], q: int, life: int
) -> tuple[float, float]:
    """Training cost booked in quarter ``q``: each release's cost spread over ``life`` quarters.

    A release's cost is booked evenly from its release quarter for ``life`` quarters (charges
    after the run's end are not booked), so quarterly figures read as economics rather than
    lumps in release quarters.

    Args:
        releases: (release quarter, training cost, open weights) per release.
        q: absolute quarter index.
        life: amortisation life, quarters.

    Returns:
        (total amortised cost, the part from open releases).
    """
    total = open_part = 0.0
    for quarter, cost, is_open in releases:
        if 0 <= q - quarter < life:
            total += cost / life
            open_part += cost / life if is_open else 0.0
    return total, open_part


class PayoffHistory:
    """Meta's payoff over the run: the running total (``meta_cumulative_payoff``)."""

    def __init__(self) -> None:
        self.cumulative = 0.0

    def add(self, net: float) -> None:
        """Record one quarter's net payoff."""
        self.cumulative += net

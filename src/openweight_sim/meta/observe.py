"""What Meta reads from the simulated market: its quarterly observation and its review.

Kept apart from the equations (:mod:`openweight_sim.meta.payoff` and
:mod:`openweight_sim.meta.decision`, pure functions) so that the market model only calls
:func:`observe` once per quarter after booking and :func:`review_estimate` at the start of a
quarter.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from openweight_sim.meta.decision import estimate_openness, is_review
from openweight_sim.meta.payoff import MetaObservation, amortised_training
from openweight_sim.options import CLOSED_API, HOSTED, OPEN_API
from openweight_sim.records import QuarterRecord

COMPARABLE_ELO = 30.0
"""An API counts as a substitute for Meta's own model within this many Elo of it."""


def _best(qualities: list[float]) -> float:
    return max(qualities) if qualities else math.nan


def rival_keys(model: Any, focal: str) -> list[str]:
    """Closed rivals: labs other than Meta that sell an API and are closed or hybrid now."""
    return [
        k
        for k, lab in model.labs.items()
        if k != focal and lab.spec.first_party_api and lab.policy in ("closed", "hybrid")
    ]


def buy_price(record: QuarterRecord, quality: float) -> float:
    """Cheapest API price this quarter of a model within :data:`COMPARABLE_ELO` of ``quality``."""
    opts, prices = record.options, record.prices
    api = np.isin(opts.kind, (CLOSED_API, OPEN_API, HOSTED)) & np.isfinite(prices)
    api &= opts.quality >= quality - COMPARABLE_ELO
    return float(prices[api].min()) if api.any() else math.nan


def observe(model: Any, record: QuarterRecord) -> MetaObservation:
    """Meta's observation of the quarter just booked (the market model ``model``).

    Args:
        model: the market model (``OpenWeightMarket``) after booking the quarter.
        record: the quarter's record.
    """
    mp = model.config.meta_payoff
    meta = model.labs[mp.lab]
    rivals = rival_keys(model, mp.lab)
    rival_q = [r.quality for k in rivals for r in model.labs[k].catalogue if not r.open_weights]
    follower_q = [
        r.quality
        for k, lab in model.labs.items()
        if k != mp.lab
        for r in lab.catalogue
        if r.open_weights and r.license != "research"
    ]
    meta_best = _best([r.quality for r in meta.catalogue])
    own = math.nan
    if meta.catalogue:
        best = max(meta.catalogue, key=lambda r: r.quality)
        own = model.serving().cost(best, meta.spec.serving_efficiency)
    costs = meta.spec.training_cost_usd
    training, open_training = amortised_training(
        [(r.quarter, getattr(costs, r.tier), r.open_weights) for r in meta.catalogue],
        model.q,
        mp.training_life_q,
    )
    return MetaObservation(
        years=(model.q - model.q0) / 4.0,
        meta_best=meta_best,
        rival_best=_best(rival_q),
        follower_best=_best(follower_q),
        rival_rents=sum(model.labs[k].revenue - model.labs[k].serving_cost for k in rivals),
        own_cost=own,
        buy_price=buy_price(record, meta_best) if meta.catalogue else math.nan,
        ecosystem_devs=float(record.focal_developers) * model.developers.scale,
        has_open=any(r.open_weights for r in meta.catalogue),
        is_open=meta.policy != "closed",
        training=training,
        open_training=open_training,
    )


def review_estimate(model: Any, q: int) -> float:
    """Meta's review estimate at the start of quarter ``q`` (NaN: no review this quarter).

    A review happens at the scenario's review quarters while Meta is open and has observed
    a quarter; it reads Meta's last observation, its ecosystem term over the last four
    quarters, its catch-up and the mean catch-up of the other non-frontier labs.

    Args:
        model: the market model (``OpenWeightMarket``).
        q: absolute quarter index.
    """
    mp = model.config.meta_payoff
    meta = model.labs[mp.lab]
    if not is_review(mp, q) or meta.policy == "closed" or model.meta_obs is None:
        return math.nan
    followers = [
        lab.spec.catch_up
        for k, lab in model.labs.items()
        if k != mp.lab and not lab.spec.frontier_lab
    ]
    follower = float(np.mean(followers)) if followers else 0.0
    eco = float(np.mean(model.meta_ecosystem))
    return estimate_openness(mp, model.meta_obs, meta.spec.catch_up, follower, eco).total

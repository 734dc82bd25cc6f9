"""The quarter's prices: Bertrand–Nash (zeta-markup fixed point) or adaptive adjustment.

Strategic options are priced by their firm (a lab its API options, a host its hosted ones);
self-hosting is priced at its own cost, which is folded into utility, so the solver sees it
at a placeholder price of 1 with no markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from openweight_sim import market
from openweight_sim.options import CLOSED_API, HOSTED, OPEN_API, Options
from openweight_sim.records import DemandSystem

if TYPE_CHECKING:
    from openweight_sim.scenario import Pricing


def solver_cost(opts: Options) -> np.ndarray:
    """Marginal cost as the solver sees it: self-hosting at 1 (its cost is in its utility)."""
    return np.where(opts.self_hosted, 1.0, opts.cost)


def pricing_firms(opts: Options, tier_conduct: float) -> np.ndarray:
    """Who sets each option's price: a lab (or, below full conduct, its tier's division).

    With ``tier_conduct`` < 1 a lab's API options of different tiers are priced by
    separate divisions (ids ``3·lab + tier``); hosts keep their own ids (after every
    division's), self-hosting its negative ids. At 1 the lab prices all its tiers jointly.
    """
    if tier_conduct >= 1.0:
        return opts.firm
    lab_api = (opts.kind == CLOSED_API) | (opts.kind == OPEN_API)
    division = np.where(lab_api, 3 * opts.lab + opts.tier, opts.firm)
    hosted = opts.kind == HOSTED
    # a host's firm id is (number of labs + host index): move it past every division
    division[hosted] = 2 * (opts.firm[hosted] - opts.host[hosted]) + opts.firm[hosted]
    return division


def ownership_matrix(
    opts: Options, closed_conduct: float, tier_conduct: float = 1.0
) -> np.ndarray | None:
    """Which options' profits each pricing firm weighs (J×J); None: each firm its own options.

    With ``closed_conduct`` > 0, closed labs also weigh each other's closed APIs by that
    weight (partial collusion among closed labs). With 0 < ``tier_conduct`` < 1, a lab's
    tier divisions weigh each other's profits by that weight (partial internalisation of
    cannibalisation between a lab's own tiers).
    """
    partial_tiers = 0.0 < tier_conduct < 1.0
    if closed_conduct <= 0 and not partial_tiers:
        return None
    firm = pricing_firms(opts, tier_conduct)
    ownership = (firm[:, None] == firm[None, :]).astype(float)
    if partial_tiers:
        lab_api = (opts.kind == CLOSED_API) | (opts.kind == OPEN_API)
        sibling = lab_api[:, None] & lab_api[None, :] & (opts.lab[:, None] == opts.lab[None, :])
        ownership[sibling & (ownership == 0)] = tier_conduct
    if closed_conduct > 0:
        closed = opts.kind == CLOSED_API
        rivals = closed[:, None] & closed[None, :] & (opts.lab[:, None] != opts.lab[None, :])
        ownership[rivals] = closed_conduct
    return ownership


def quarter_prices(
    opts: Options,
    demand: DemandSystem,
    pricing: Pricing,
    last_prices: Mapping[int, float],
    tol: float = 1e-10,
    max_iter: int = 2_000,
) -> market.Equilibrium:
    """Bertrand–Nash (or adaptive) prices of this quarter's options.

    Args:
        opts: the options.
        demand: the groups' utilities, availability and weights.
        pricing: the scenario's pricing parameters.
        last_prices: last quarter's price per option id (warm start; adaptive anchor).
        tol: stopping tolerance of the zeta-markup fixed point.
        max_iter: iteration budget; a market without a pure-strategy equilibrium stops
            here and is flagged (``pricing_converged``).
    """
    pr = pricing
    cost = solver_cost(opts)
    # Warm start from last quarter's prices (new options start at cost): the fixed point
    # is the same, it is just reached in fewer iterations.
    initial = np.array([last_prices.get(int(k), c) for k, c in zip(opts.key, cost, strict=True)])
    initial = np.clip(initial, cost, pr.price_cap)
    eq = market.solve_equilibrium(
        demand.delta,
        cost,
        demand.alpha,
        weight=demand.weight,
        firm=pricing_firms(opts, pr.tier_conduct),
        nest=opts.nest,
        sigma=pr.nest_sigma,
        log_price=True,
        available=demand.available,
        fixed=opts.self_hosted,
        ownership=ownership_matrix(opts, pr.closed_conduct, pr.tier_conduct),
        tol=tol,
        max_iter=max_iter,
        price_cap=pr.price_cap,
        initial_prices=initial,
    )
    if pr.method == "adaptive":
        eq = _adapt(opts, demand, pr, last_prices, initial, cost, eq)
    return eq


def _adapt(
    opts: Options,
    demand: DemandSystem,
    pr: Pricing,
    last_prices: Mapping[int, float],
    initial: np.ndarray,
    cost: np.ndarray,
    eq: market.Equilibrium,
) -> market.Equilibrium:
    """Adaptive pricing: existing options move a share ``adjustment`` toward the Nash price."""
    target = eq.prices
    prices = np.where(
        np.isin(opts.key, list(last_prices)),
        initial + pr.adjustment * (target - initial),
        target,
    )
    prices = np.where(opts.self_hosted, cost, prices)
    shares = market.logit_shares(
        demand.delta,
        prices,
        demand.alpha,
        nest=opts.nest,
        sigma=pr.nest_sigma,
        log_price=True,
        available=demand.available & ~eq.withdrawn,
    )
    return market.Equilibrium(
        prices=prices,
        shares=shares,
        markups=prices - cost,
        converged=True,
        iterations=eq.iterations,
        price_at_cap=~opts.self_hosted & ~eq.withdrawn & (prices >= pr.price_cap),
        below_cost=~opts.self_hosted & (prices < cost) & (shares.sum(axis=0) > 0),
        withdrawn=eq.withdrawn,
        no_best_response=eq.no_best_response,
    )

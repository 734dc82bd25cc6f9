"""Property-based checks of the pricing solver and the demand system on random markets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytic import mixed_logit_shares
from openweight_sim.market import (
    Equilibrium,
    consumer_surplus,
    logit_shares,
    sample_choices,
    solve_equilibrium,
)
from openweight_sim.market._groups import _Groups
from openweight_sim.market._zeta import _ZetaMap


@dataclass
class Market:
    delta: np.ndarray  # (G, J)
    cost: np.ndarray  # (J,)
    alpha: np.ndarray  # (G,)
    weight: np.ndarray  # (G,)
    firm: np.ndarray  # (J,)
    nest: np.ndarray  # (J,)
    sigma: float
    log_price: bool
    available: np.ndarray  # (G, J) bool
    fixed: np.ndarray  # (J,) bool

    def kwargs(self) -> dict:
        return {
            "alpha": self.alpha,
            "nest": self.nest,
            "sigma": self.sigma,
            "log_price": self.log_price,
            "available": self.available,
        }


@st.composite
def markets(draw: st.DrawFn) -> Market:
    n_seg = draw(st.integers(1, 4))
    n_prod = draw(st.integers(2, 8))
    log_price = draw(st.booleans())
    sigma = draw(st.sampled_from([0.0, 0.3, 0.6, 0.9]) | st.floats(0.0, 0.9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    low = 1.05 if log_price else 0.3
    return Market(
        delta=rng.normal(0.5, 1.5, (n_seg, n_prod)),
        cost=rng.uniform(0.05, 2.0, n_prod),
        alpha=rng.uniform(low, 4.0, n_seg),
        weight=rng.uniform(0.1, 2.0, n_seg),
        firm=rng.integers(0, draw(st.integers(1, n_prod)), n_prod),
        nest=rng.integers(0, draw(st.integers(1, 3)), n_prod),
        sigma=sigma,
        log_price=log_price,
        available=rng.random((n_seg, n_prod)) < draw(st.sampled_from([1.0, 0.8, 0.5])),
        fixed=rng.random(n_prod) < draw(st.sampled_from([0.0, 0.25])),
    )


def _firm_profit_gradient(mk: Market, prices: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference derivative of each owner's total profit w.r.t. its own prices."""
    grad = np.zeros_like(prices)
    for j in range(prices.size):
        owned = mk.firm == mk.firm[j]
        values = []
        for step in (h, -h):
            p = prices.copy()
            p[j] += step * max(1.0, prices[j])
            q = mk.weight @ logit_shares(mk.delta, p, **mk.kwargs())
            values.append(((p - mk.cost) * q)[owned].sum())
        grad[j] = (values[0] - values[1]) / (2 * h * max(1.0, prices[j]))
    return grad


# Derandomized: with several segments, log price and sigma ~ 0.9 about 1 random market in
# 5000 has no pure-strategy equilibrium (best responses cycle, no finite root of the FOCs; see
# test_market_without_equilibrium_fails_gracefully), so a fresh random draw each run would make
# this test flaky without revealing a defect. The same 60 markets are checked every run.
@settings(max_examples=60, deadline=None, derandomize=True)
@given(markets())
def test_equilibrium_is_valid_and_a_nash_equilibrium(mk: Market) -> None:
    eq = solve_equilibrium(
        mk.delta, mk.cost, weight=mk.weight, firm=mk.firm, fixed=mk.fixed, **mk.kwargs()
    )
    assert eq.converged, eq.explain()
    for arr in (eq.prices, eq.shares, eq.markups):
        assert np.all(np.isfinite(arr))
    assert eq.shares.shape == mk.delta.shape
    assert np.all(eq.shares >= 0)
    assert np.all(eq.shares <= 1)
    assert np.all(eq.shares.sum(axis=1) < 1)
    assert np.all(eq.shares[~mk.available] == 0)
    assert np.all(eq.prices >= mk.cost - 1e-12)
    assert np.all(eq.prices[mk.fixed] == mk.cost[mk.fixed])
    assert np.all(eq.markups[mk.fixed] == 0)
    # inside shares plus the outside share (from the log-sum) add up to one in every segment
    cs = consumer_surplus(mk.delta, eq.prices, **mk.kwargs())
    outside = np.exp(-np.asarray(mk.alpha) * cs)
    np.testing.assert_allclose(eq.shares.sum(axis=1) + outside, 1.0, rtol=0, atol=1e-12)
    # the reported shares are the demand at the reported prices
    np.testing.assert_allclose(
        eq.shares, logit_shares(mk.delta, eq.prices, **mk.kwargs()), rtol=1e-10, atol=1e-15
    )
    # no owner can gain by moving one of its strategic prices: the profit gradient vanishes
    strategic = ~mk.fixed & mk.available.any(axis=0)
    grad = _firm_profit_gradient(mk, eq.prices)
    scale = mk.weight.sum()
    np.testing.assert_allclose(grad[strategic] / scale, 0.0, atol=1e-6)
    # unreachable strategic products are priced at cost
    dead = ~mk.fixed & ~mk.available.any(axis=0)
    assert np.all(eq.prices[dead] == mk.cost[dead])


def test_market_without_equilibrium_fails_gracefully() -> None:
    """Two firms, 4 products each, one nest (sigma 0.9), log price, 4 segments.

    Best responses cycle here (firm 0 alternately prices product 0 out of the market) and
    no finite root of the FOCs was found from many starts. The solver must not claim
    convergence at a spurious point (e.g. a price run away to infinity, where the
    Lambda-weighted FOC residual vanishes) and must return finite, usable prices.
    """
    mk = Market(
        delta=np.array(
            [
                [
                    -0.385486,
                    -2.826905,
                    0.557851,
                    1.292979,
                    -0.319721,
                    2.316667,
                    0.075629,
                    -0.422555,
                ],
                [1.541547, -1.288472, 1.271721, 3.537121, 1.40619, 0.152745, 1.702205, 2.153185],
                [0.477868, 0.915845, 1.53002, 2.106554, 0.025624, 0.721516, 2.411949, 0.890814],
                [0.290246, 3.400426, -1.092748, 0.252933, 1.639684, 2.066363, -0.72218, 0.692078],
            ]
        ),
        cost=np.array(
            [0.37212, 1.339099, 0.843306, 0.308168, 0.373053, 0.773539, 1.288481, 1.120122]
        ),
        alpha=np.array([3.039281, 2.067223, 1.741684, 1.749964]),
        weight=np.array([0.463901, 1.591635, 1.159246, 0.998909]),
        firm=np.array([0, 1, 0, 0, 1, 1, 0, 1]),
        nest=np.zeros(8, dtype=int),
        sigma=0.9,
        log_price=True,
        available=np.ones((4, 8), dtype=bool),
        fixed=np.zeros(8, dtype=bool),
    )
    eq = solve_equilibrium(
        mk.delta, mk.cost, weight=mk.weight, firm=mk.firm, max_iter=2000, **mk.kwargs()
    )
    assert np.all(np.isfinite(eq.prices))
    assert np.all(eq.prices >= mk.cost)
    assert np.all(eq.prices < 1e3)
    assert eq.iterations <= 2000
    if eq.converged:  # would need a genuine stationary point
        grad = _firm_profit_gradient(mk, eq.prices) / mk.weight.sum()
        np.testing.assert_allclose(grad, 0.0, atol=1e-6)
    else:
        assert eq.residual >= 1e-12
        assert "NOT converged" in eq.explain()


@settings(max_examples=60, deadline=None)
@given(markets(), st.floats(-50.0, 50.0))
def test_shares_consistency(mk: Market, shift: float) -> None:
    prices = mk.cost * 1.5
    shares = logit_shares(mk.delta, prices, **mk.kwargs())
    assert np.all(np.isfinite(shares))
    assert np.all((shares >= 0) & (shares <= 1))
    cs = consumer_surplus(mk.delta, prices, **mk.kwargs())
    outside = np.exp(-mk.alpha * cs)
    np.testing.assert_allclose(shares.sum(axis=1) + outside, 1.0, rtol=0, atol=1e-12)
    # adding a constant c to every inside utility multiplies each odds ratio s_j / s_0 by
    # exactly e^c, nests or not (the outside option is the only thing that does not move)
    shifted = logit_shares(mk.delta + shift, prices, **mk.kwargs())
    outside_shifted = np.exp(-mk.alpha * consumer_surplus(mk.delta + shift, prices, **mk.kwargs()))
    ok = mk.available & (shares > 1e-250) & (shifted > 1e-250)
    odds = (shares / outside[:, None])[ok]
    odds_shifted = (shifted / outside_shifted[:, None])[ok]
    np.testing.assert_allclose(odds_shifted, odds * np.exp(shift), rtol=1e-9)
    assert np.all(shifted[~mk.available] == 0)


def _zeta_map(mk: Market, shift: float) -> _ZetaMap:
    """The solver's zeta map of a random market (as solve_equilibrium builds it)."""
    n_prod = mk.cost.size
    strategic = ~mk.fixed & mk.available.any(axis=0)
    sigma = mk.sigma if not _Groups.from_ids(mk.nest, n_prod).all_singletons else 0.0
    return _ZetaMap(
        np.where(mk.available, mk.delta + shift, -np.inf),
        mk.cost,
        mk.alpha,
        mk.weight,
        strategic,
        np.full(n_prod, 5.0),
        _Groups.from_ids(mk.nest, n_prod).code,
        _Groups.from_ids(mk.firm, n_prod).code,
        None,
        sigma,
        mk.log_price,
    )


@settings(max_examples=80, deadline=None)
@given(markets(), st.sampled_from([0.0, -40.0, 300.0]), st.integers(0, 2**32 - 1))
def test_compiled_zeta_map_matches_numpy(mk: Market, shift: float, seed: int) -> None:
    """The compiled evaluation (market._kernels) equals the numpy one up to round-off."""
    compiled = _zeta_map(mk, shift)
    reference = _zeta_map(mk, shift)
    reference.compiled = False
    assert compiled.compiled
    prices = compiled.clip(compiled.c * np.random.default_rng(seed).uniform(1.0, 3.0, mk.cost.size))
    new_c, foc_c = compiled(prices)
    new_r, foc_r = reference(prices)
    np.testing.assert_allclose(new_c, new_r, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(foc_c, foc_r, rtol=1e-9, atol=1e-12 * mk.weight.sum())
    assert compiled.best_res == reference.best_res or np.isclose(
        compiled.best_res, reference.best_res, rtol=1e-9, atol=1e-12
    )
    shares_c, cond_c = compiled.shares(prices, np.empty_like(compiled.d))
    shares_r, cond_r = reference.shares(prices, np.empty_like(reference.d))
    np.testing.assert_allclose(shares_c, shares_r, rtol=1e-12, atol=1e-300)
    assert (cond_c is None) == (cond_r is None)
    if cond_c is not None:
        np.testing.assert_allclose(cond_c, cond_r, rtol=1e-12, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
)
def test_sample_choices_matches_a_loop(n_groups: int, n_cat: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    prob = rng.dirichlet(np.ones(n_cat + 1), n_groups)[:, :n_cat]  # rows sum to < 1
    group = rng.integers(0, n_groups, 500)
    u = rng.random(500)
    got = sample_choices(prob, group, u)
    cum = np.cumsum(prob, axis=1)
    expected = [
        min(int(np.searchsorted(cum[g], ui, side="right")), n_cat - 1)
        for g, ui in zip(group, u, strict=True)
    ]
    np.testing.assert_array_equal(got, expected)


# --------------------------------------------------------------------------------------------
# Random-coefficient markets: discrete consumer types with their own alpha and quality tastes
# --------------------------------------------------------------------------------------------


@dataclass
class RCMarket:
    """A discrete-type random-coefficient market and the price cap it is solved under."""

    market: Market  # delta_gj = xi_j + x_j' beta_g, alpha_g per type
    xi: np.ndarray  # (J,)
    x: np.ndarray  # (J, K) quality characteristics
    beta: np.ndarray  # (G, K) quality coefficients per type
    price_cap: np.ndarray | None  # (J,)


@st.composite
def rc_markets(draw: st.DrawFn) -> RCMarket:
    """Types whose alphas differ up to 4x; a frontier nest beside singletons, or random nests.

    With a price cap, log-price types may be inelastic (alpha <= 1) and some costs may be at or
    above the cap, so the solver's flags (withdrawn, no_best_response, price_at_cap) are hit.
    """
    n_types = draw(st.integers(2, 6))
    n_prod = draw(st.integers(2, 10))
    n_char = draw(st.integers(1, 2))
    log_price = draw(st.booleans())
    capped = draw(st.booleans())
    frontier_nest = draw(st.booleans())
    sigma = draw(st.sampled_from([0.0, 0.5, 0.8]) | st.floats(0.0, 0.85))
    spread = draw(st.floats(1.0, 4.0))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    low = (0.6 if capped else 1.1) if log_price else 0.3
    alpha = rng.uniform(low, 2.0) * spread ** rng.uniform(0.0, 1.0, n_types)
    xi = rng.normal(0.5, 1.0, n_prod)
    x = rng.normal(0.0, 1.0, (n_prod, n_char))
    beta = rng.normal(0.8, 0.6, (n_types, n_char))
    if frontier_nest:  # the first products (one lab each) share nest 0, the rest are singletons
        n_frontier = int(rng.integers(2, n_prod + 1))
        nest = np.where(np.arange(n_prod) < n_frontier, 0, np.arange(n_prod))
        firm = np.concatenate([np.arange(n_frontier), rng.integers(0, n_prod, n_prod - n_frontier)])
    else:
        nest = rng.integers(0, draw(st.integers(1, 3)), n_prod)
        firm = rng.integers(0, draw(st.integers(1, n_prod)), n_prod)
    cost = rng.uniform(0.05, 2.0, n_prod)
    market = Market(
        delta=xi[None, :] + beta @ x.T,
        cost=cost,
        alpha=alpha,
        weight=rng.dirichlet(np.ones(n_types)) * draw(st.sampled_from([1.0, 1e4])),
        firm=firm,
        nest=nest,
        sigma=sigma,
        log_price=log_price,
        available=rng.random((n_types, n_prod)) < draw(st.sampled_from([1.0, 0.7])),
        fixed=rng.random(n_prod) < draw(st.sampled_from([0.0, 0.2])),
    )
    cap = cost * rng.uniform(0.8, 8.0, n_prod) if capped else None
    return RCMarket(market=market, xi=xi, x=x, beta=beta, price_cap=cap)


def _assert_shares_add_up(mk: Market, eq: Equilibrium) -> None:
    """Per type: shares in [0, 1], inside + outside = 1; aggregate: bought = sold, sums to 1."""
    assert np.all((eq.shares >= 0) & (eq.shares <= 1))
    assert np.all(eq.shares.sum(axis=1) <= 1)
    available = mk.available & ~eq.withdrawn[None, :]
    kwargs = {**mk.kwargs(), "available": available}
    outside = np.exp(-mk.alpha * consumer_surplus(mk.delta, eq.prices, **kwargs))
    np.testing.assert_allclose(eq.shares.sum(axis=1) + outside, 1.0, rtol=0, atol=1e-12)
    total = mk.weight.sum()
    inside = eq.demand.sum() / total
    np.testing.assert_allclose(inside + mk.weight @ outside / total, 1.0, rtol=0, atol=1e-12)
    # tokens bought (per type, weighted) equal tokens sold (per product)
    np.testing.assert_allclose(eq.demand, mk.weight @ eq.shares, rtol=1e-12, atol=0)
    assert np.all(eq.shares[~available] == 0)
    assert np.all(eq.demand[eq.withdrawn] == 0)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(rc_markets())
def test_random_coefficient_markets(rc: RCMarket) -> None:
    """Shares add up, prices are at or above cost unless flagged, and the FOCs hold."""
    mk = rc.market
    eq = solve_equilibrium(
        mk.delta,
        mk.cost,
        weight=mk.weight,
        firm=mk.firm,
        fixed=mk.fixed,
        price_cap=rc.price_cap,
        **mk.kwargs(),
    )
    assert eq.converged, eq.explain()
    _assert_shares_add_up(mk, eq)
    # the solver's shares are the plain type-by-type formula's (everything available)
    if mk.available.all() and not eq.withdrawn.any():
        reference, _ = mixed_logit_shares(
            rc.xi, rc.x, rc.beta, mk.alpha, eq.prices, mk.nest, mk.sigma, mk.log_price
        )
        np.testing.assert_allclose(eq.shares, reference, rtol=1e-9, atol=1e-300)
    flagged = eq.withdrawn | eq.no_best_response
    assert np.all(eq.prices[~flagged] >= mk.cost[~flagged] - 1e-12)
    assert np.all(eq.prices[eq.withdrawn] == mk.cost[eq.withdrawn])
    assert np.all(eq.prices[mk.fixed] == mk.cost[mk.fixed])
    if rc.price_cap is not None:
        # withdrawn sellers and products nobody can buy are quoted at cost
        priced = ~mk.fixed & ~eq.withdrawn & mk.available.any(axis=0)
        assert np.all(eq.prices[priced] <= rc.price_cap[priced])
    # first-order conditions by finite differences: every owner's profit gradient vanishes in
    # its strategic prices below the cap and is >= 0 at the cap (it would like to go higher)
    live = Market(**{**mk.__dict__, "available": mk.available & ~eq.withdrawn[None, :]})
    strategic = ~mk.fixed & live.available.any(axis=0)
    grad = _firm_profit_gradient(live, eq.prices) / mk.weight.sum()
    interior = strategic & ~eq.price_at_cap
    np.testing.assert_allclose(grad[interior], 0.0, atol=1e-6)
    assert np.all(grad[strategic & eq.price_at_cap] > -1e-6)


def test_price_a_hair_below_the_cap_is_at_the_cap() -> None:
    """A search that stops just below the cap still reports the product at the cap.

    Found by :func:`test_random_coefficient_markets`: two single-product firms, log price,
    alpha 1.32; product 0 sells to 77% of consumers at its cap, so its demand is inelastic
    there (``alpha (1 - s) = 0.30 <= 1``) and the cap, not the market, sets its price. The
    iteration stopped 5e-14 below the cap (the FOC residual there is under tol) and the
    solver used to report a plain equilibrium without ``price_at_cap`` or
    ``no_best_response``.
    """
    delta = np.array(
        [[-0.29041976656097257, 0.7885733306800894], [-0.3484160652471824, 0.8583382817917906]]
    )
    cost = np.array([0.10374027082398332, 1.519350561915873])
    cap = np.array([0.27892190690209134, 9.423962755949189])
    weight = np.array([0.8187177351668874, 0.18128226483311272])
    eq = solve_equilibrium(
        delta, cost, 1.3165502745803592, weight=weight, log_price=True, price_cap=cap
    )
    assert eq.converged
    assert eq.prices[0] <= cap[0] and eq.prices[0] == pytest.approx(cap[0], rel=1e-12)
    assert eq.price_at_cap.tolist() == [True, False]
    assert eq.no_best_response.tolist() == [True, False]
    assert eq.no_equilibrium
    # product 0 really is inelastic at the cap, and product 1 is an interior best response
    assert 1.3165502745803592 * (1 - eq.shares[:, 0]) @ weight < 1
    assert eq.prices[1] < 0.9 * cap[1]

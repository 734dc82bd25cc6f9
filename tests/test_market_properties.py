"""Property-based checks of the pricing solver and the demand system on random markets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from openweight_sim.market import (
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

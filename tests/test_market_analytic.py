"""Closed-form checks of the demand, pricing, cost and diffusion primitives (market package)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import lambertw

from analytic import markov_long_run_share, monopoly_markup
from openweight_sim.market import (
    Equilibrium,
    bass_fraction,
    bass_step,
    consumer_surplus,
    logit_shares,
    nash_prices,
    sample_choices,
    serving_cost,
    solve_equilibrium,
)

ALPHA = 2.0
DELTA = np.array([3.0, 2.5, 1.0])
COST = np.array([0.5, 0.3, 0.1])


# ------------------------------------------------------------------ logit shares


def test_logit_shares_match_textbook_formula() -> None:
    prices = np.array([1.0, 0.7, 0.4])
    ev = np.exp(DELTA - ALPHA * prices)
    np.testing.assert_allclose(logit_shares(DELTA, prices, ALPHA), ev / (1 + ev.sum()), rtol=1e-14)


def test_nested_shares_match_textbook_formula() -> None:
    delta = np.array([1.0, 0.5, 0.2, -0.3])
    prices = np.array([0.4, 0.3, 0.2, 0.1])
    nest = np.array([0, 0, 1, 1])
    sigma = 0.6
    v = np.exp((delta - ALPHA * prices) / (1 - sigma))
    d_n = np.array([v[:2].sum(), v[2:].sum()])
    nest_share = d_n ** (1 - sigma) / (1 + (d_n ** (1 - sigma)).sum())
    expected = v / d_n[nest] * nest_share[nest]
    got = logit_shares(delta, prices, ALPHA, nest=nest, sigma=sigma)
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_singleton_nests_and_sigma_zero_are_plain_logit() -> None:
    prices = np.array([1.0, 0.7, 0.4])
    plain = logit_shares(DELTA, prices, ALPHA)
    np.testing.assert_allclose(
        logit_shares(DELTA, prices, ALPHA, nest=[7, 8, 9], sigma=0.8), plain, rtol=1e-13
    )
    np.testing.assert_allclose(
        logit_shares(DELTA, prices, ALPHA, nest=[0, 0, 1], sigma=0.0), plain, rtol=1e-13
    )


def test_logit_shares_do_not_overflow() -> None:
    s = logit_shares(np.array([700.0, 699.0, 0.0]), np.zeros(3), 1.0)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s[:2], [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))])
    s = logit_shares(np.array([700.0, 650.0]), np.zeros(2), 1.0, nest=[0, 0], sigma=0.99)
    assert np.all(np.isfinite(s))
    assert s.sum() == pytest.approx(1.0)
    s = logit_shares(np.array([1.0, 1.0]), np.array([1e-300, 1.0]), 3.0, log_price=True)
    assert np.all(np.isfinite(s))
    assert s[0] == pytest.approx(1.0)


def test_unavailable_products_drop_out_of_the_nest() -> None:
    delta = np.array([[1.0, 0.5, 0.2], [0.3, 0.9, 1.2]])
    prices = np.array([0.3, 0.2, 0.5])
    avail = np.array([[True, False, True], [False, True, True]])
    got = logit_shares(delta, prices, [1.5, 2.5], nest=[0, 0, 1], sigma=0.5, available=avail)
    for g, alpha in enumerate([1.5, 2.5]):
        keep = avail[g]
        sub = logit_shares(
            delta[g, keep], prices[keep], alpha, nest=np.array([0, 0, 1])[keep], sigma=0.5
        )
        np.testing.assert_allclose(got[g, keep], sub, rtol=1e-13)
        assert np.all(got[g, ~keep] == 0.0)


# ------------------------------------------------------------------ Bertrand-Nash prices


def test_single_product_firms_logit() -> None:
    prices = nash_prices(DELTA, COST, ALPHA)
    np.testing.assert_allclose(prices, [1.2529319, 1.0320106, 0.6828668], atol=1e-7)
    shares = logit_shares(DELTA, prices, ALPHA)
    np.testing.assert_allclose(shares, [0.33593, 0.31695, 0.14217], atol=1e-5)
    np.testing.assert_allclose(prices - COST, 1 / (ALPHA * (1 - shares)), atol=1e-10)


def test_multi_product_firm_sets_common_markup() -> None:
    firm = np.array([1, 1, 2])
    prices = nash_prices(DELTA, COST, ALPHA, firm=firm)
    shares = logit_shares(DELTA, prices, ALPHA)
    markups = prices - COST
    firm_share = shares[:2].sum()
    np.testing.assert_allclose(markups[:2], 1.0368658, atol=1e-7)
    np.testing.assert_allclose(markups[:2], 1 / (ALPHA * (1 - firm_share)), atol=1e-10)
    np.testing.assert_allclose(markups[2], 1 / (ALPHA * (1 - shares[2])), atol=1e-10)


def test_monopolist_markup_is_lambert_w() -> None:
    prices = nash_prices(DELTA, COST, ALPHA, firm=np.zeros(3))
    a_sum = np.exp(DELTA - ALPHA * COST).sum()
    np.testing.assert_allclose(prices - COST, monopoly_markup(a_sum, ALPHA), atol=1e-10)
    np.testing.assert_allclose(prices - COST, 1.2160363, atol=1e-7)


@pytest.mark.parametrize(
    ("open_net_utility", "closed_markup"),
    [(0.8, 0.7537), (1.8, 0.6444), (2.7, 0.5738), (None, 1.000)],
)
def test_competitive_fringe_disciplines_closed_model(
    open_net_utility: float | None, closed_markup: float
) -> None:
    if open_net_utility is None:
        prices = nash_prices([3.0], [0.5], ALPHA)
    else:
        c_open = 0.2
        delta = [3.0, open_net_utility + ALPHA * c_open]
        prices = nash_prices(delta, [0.5, c_open], ALPHA, fixed=[False, True])
        assert prices[1] == c_open
    assert prices[0] - 0.5 == pytest.approx(closed_markup, abs=5e-5)


@pytest.mark.parametrize("n_hosts", [2, 3, 6])
def test_symmetric_hosts_in_one_nest(n_hosts: int) -> None:
    delta = np.full(n_hosts, 2.0)
    cost = np.full(n_hosts, 0.3)
    nest = np.zeros(n_hosts)
    markups = []
    for sigma in [0.0, 0.3, 0.6, 0.9, 0.99, 0.999]:
        eq = solve_equilibrium(delta, cost, ALPHA, nest=nest, sigma=sigma, tol=1e-14)
        assert eq.converged
        m = eq.markups
        np.testing.assert_allclose(m, m[0], rtol=1e-10)
        s = eq.shares[0, 0]
        closed_form = (1 - sigma) / (ALPHA * (1 - sigma / n_hosts - (1 - sigma) * s))
        assert m[0] == pytest.approx(closed_form, rel=1e-10, abs=1e-13)
        markups.append(m[0])
    assert np.all(np.diff(markups) < 0)
    assert markups[-1] < 1e-2


def test_monopolist_of_a_nest_converges_near_sigma_one() -> None:
    # one firm owning the whole nest: markup 1/(alpha(1 - S_nest)) whatever sigma; the plain
    # zeta map contracts at rate sigma here, SQUAREM must still get there
    n = 4
    delta, cost = np.full(n, 2.0), np.full(n, 0.3)
    eq = solve_equilibrium(delta, cost, ALPHA, firm=np.zeros(n), nest=np.zeros(n), sigma=0.999)
    assert eq.converged
    np.testing.assert_allclose(eq.markups, 1 / (ALPHA * (1 - eq.shares.sum())), rtol=1e-9)


def test_log_price_lerner_rule() -> None:
    alpha = 3.0
    prices = nash_prices([2.0], [1.0], alpha, log_price=True)
    s = logit_shares([2.0], prices, alpha, log_price=True)[0]
    assert (prices[0] - 1.0) / prices[0] == pytest.approx(1 / (alpha * (1 - s)), abs=1e-10)


def test_log_price_multi_product_lerner_rule() -> None:
    alpha = 2.5
    delta, cost = np.array([1.0, 0.5, 0.0]), np.array([1.0, 2.0, 0.5])
    prices = nash_prices(delta, cost, alpha, firm=[0, 0, 1], log_price=True)
    s = logit_shares(delta, prices, alpha, log_price=True)
    # single-product firm: Lerner rule; multi-product firm f: the FOCs give
    # p_j (1 - 1/alpha) = c_j + M with M = sum_f s_k m_k, hence an aggregate Lerner rule
    # M / R = 1 / (alpha (1 - S_f)) with revenue R = sum_f p_k s_k
    lerner = (prices - cost) / prices
    assert lerner[2] == pytest.approx(1 / (alpha * (1 - s[2])), abs=1e-10)
    margin = ((prices[:2] - cost[:2]) * s[:2]).sum()
    revenue = (prices[:2] * s[:2]).sum()
    assert margin / revenue == pytest.approx(1 / (alpha * (1 - s[:2].sum())), abs=1e-10)
    np.testing.assert_allclose(prices[:2] * (1 - 1 / alpha) - cost[:2], margin, atol=1e-10)


def test_ownership_matrix_reproduces_firm_ids() -> None:
    omega = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    a = solve_equilibrium(DELTA, COST, ALPHA, ownership=omega, tol=1e-14)
    b = solve_equilibrium(DELTA, COST, ALPHA, firm=[1, 1, 2], tol=1e-14)
    np.testing.assert_allclose(a.prices, b.prices, atol=1e-12)


def test_conduct_parameter_moves_prices_between_nash_and_collusion() -> None:
    nash = nash_prices(DELTA, COST, ALPHA)
    cartel = nash_prices(DELTA, COST, ALPHA, firm=np.zeros(3))
    theta = 0.5
    omega = np.full((3, 3), theta) + (1 - theta) * np.eye(3)
    mid = solve_equilibrium(DELTA, COST, ALPHA, ownership=omega).prices
    assert np.all(nash < mid)
    assert np.all(mid < cartel)


def test_price_cap_binds_and_counts_as_converged() -> None:
    eq = solve_equilibrium(DELTA, COST, ALPHA, price_cap=1.1)
    assert eq.converged
    free = nash_prices(DELTA, COST, ALPHA)
    assert eq.prices[0] == 1.1
    # the rivals best-respond to the capped price (lower than their unconstrained Nash price)
    assert np.all(eq.prices[1:] < free[1:])


def test_unreachable_product_is_priced_at_cost() -> None:
    avail = np.array([[True, True, False]])
    eq = solve_equilibrium(DELTA, COST, ALPHA, available=avail)
    assert eq.converged
    assert eq.prices[2] == COST[2]
    sub = nash_prices(DELTA[:2], COST[:2], ALPHA)
    np.testing.assert_allclose(eq.prices[:2], sub, atol=1e-10)


def test_prices_with_underflowed_demand_are_not_an_equilibrium() -> None:
    # at absurd prices every share underflows to 0, so the Lambda-weighted FOC residual is 0:
    # the solver must not stop there but find the real equilibrium
    eq = solve_equilibrium(DELTA, COST, ALPHA, initial_prices=np.full(3, 1e6))
    assert eq.converged
    np.testing.assert_allclose(eq.prices, [1.2529319, 1.0320106, 0.6828668], atol=1e-7)


def test_segments_aggregate_like_one_market_when_identical() -> None:
    delta = np.tile(DELTA, (3, 1))
    eq = solve_equilibrium(delta, COST, [ALPHA] * 3, weight=[0.2, 0.5, 1.3])
    np.testing.assert_allclose(eq.prices, nash_prices(DELTA, COST, ALPHA), atol=1e-10)
    assert eq.demand is not None
    np.testing.assert_allclose(eq.demand, 2.0 * eq.shares[0], rtol=1e-12)


def test_equilibrium_report() -> None:
    eq = solve_equilibrium(DELTA, COST, ALPHA, firm=[1, 1, 2])
    assert isinstance(eq, Equilibrium)
    assert eq.shares.shape == (1, 3)
    text = eq.explain()
    assert "converged" in text
    assert str(eq.iterations) in text
    assert len(text.splitlines()) == 2 + 3
    frame = eq.to_frame()
    assert list(frame.columns[:4]) == ["price", "cost", "markup", "lerner"]
    np.testing.assert_allclose(frame["cost"].to_numpy(), COST, atol=1e-14)
    np.testing.assert_allclose(frame["lerner"].to_numpy(), eq.markups / eq.prices)
    with pytest.raises(AttributeError):
        eq.converged = False  # type: ignore[misc]


def test_nash_prices_errors() -> None:
    with pytest.raises(ValueError, match="alpha"):
        nash_prices(DELTA, COST, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        nash_prices(DELTA, COST, ALPHA, nest=[0, 0, 1], sigma=1.0)
    with pytest.raises(ValueError, match="sigma"):
        nash_prices(DELTA, COST, ALPHA, sigma=-0.1)
    with pytest.raises(ValueError, match="shape"):
        nash_prices(DELTA, COST[:2], ALPHA)
    with pytest.raises(ValueError, match="shape"):
        nash_prices(np.tile(DELTA, (2, 1)), COST, ALPHA)
    with pytest.raises(ValueError, match="shape"):
        nash_prices(DELTA, COST, ALPHA, firm=[0, 1])
    with pytest.raises(ValueError, match="alpha > 1"):
        nash_prices(DELTA, COST, 0.9, log_price=True)
    with pytest.raises(RuntimeError, match="did not converge"):
        nash_prices(DELTA, COST, ALPHA, max_iter=2)


# ------------------------------------------------------------------ consumer surplus


def test_consumer_surplus_logsum_and_roy_identity() -> None:
    prices = np.array([1.0, 0.7, 0.4])
    cs = consumer_surplus(DELTA, prices, ALPHA)
    assert cs == pytest.approx(np.log1p(np.exp(DELTA - ALPHA * prices).sum()) / ALPHA, rel=1e-14)
    # Roy's identity: dCS/dp_j = -s_j, also with nests and segments
    delta = np.array([[1.0, 0.5, 0.2, -0.3], [0.0, 1.5, 0.2, 0.8]])
    prices = np.array([0.4, 0.3, 0.2, 0.1])
    kw = {"nest": [0, 0, 1, 1], "sigma": 0.7, "alpha": np.array([1.5, 3.0])}
    shares = logit_shares(delta, prices, **kw)
    h = 1e-6
    for j in range(4):
        up, dn = prices.copy(), prices.copy()
        up[j] += h
        dn[j] -= h
        grad = (consumer_surplus(delta, up, **kw) - consumer_surplus(delta, dn, **kw)) / (2 * h)
        np.testing.assert_allclose(grad, -shares[:, j], atol=1e-8)


# ------------------------------------------------------------------ costs


def test_serving_cost_reference_points() -> None:
    # dense 70B on a $2/h GPU at 40 % utilisation: 1600 tok/s
    assert serving_cost(2.0, 70e9) == pytest.approx(2.0 / (1600 * 3600) * 1e6 / 0.4, rel=1e-14)
    # DeepSeek-V3: 37B active of 671B serves ~1850 tok/s per GPU
    c = serving_cost(2.0, 37e9, 671e9, utilization=1.0)
    throughput = 2.0 / (c * 3600) * 1e6
    assert throughput == pytest.approx(1850, rel=2e-3)
    assert np.log(3027 / 1850) / np.log(671 / 37) == pytest.approx(0.17, abs=5e-3)
    # vectorised, and doubling efficiency halves cost
    arr = serving_cost(np.array([2.0, 4.0]), np.array([70e9, 8e9]), efficiency=2.0)
    assert isinstance(arr, np.ndarray)
    np.testing.assert_allclose(arr, [serving_cost(2.0, 70e9) / 2, serving_cost(4.0, 8e9) / 2])


# ------------------------------------------------------------------ Bass diffusion


@pytest.mark.parametrize(("p", "q"), [(0.03, 0.38), (0.01, 0.9), (0.2, 0.1), (0.5, 0.0)])
def test_bass_step_is_exact(p: float, q: float) -> None:
    f = 0.0
    for n in range(1, 121):
        f = bass_step(f, p, q)
        assert f == pytest.approx(bass_fraction(n * 0.25, p, q), abs=1e-12)
    assert bass_fraction(0.0, p, q) == 0.0


def test_bass_step_vectorised_and_edges() -> None:
    f = np.zeros(3)
    p = np.array([0.03, 0.0, 0.1])
    q = np.array([0.4, 0.5, 0.0])
    for _ in range(8):
        f = bass_step(f, p, q, dt=0.5)
    np.testing.assert_allclose(f, bass_fraction(4.0, p, q), atol=1e-12)
    assert f[1] == 0.0  # no innovators: nobody ever starts
    assert bass_step(1.0, 0.03, 0.4) == 1.0
    assert bass_fraction(1e4, 0.03, 0.4) == pytest.approx(1.0)
    # the closed form solves dF/dt = (p + qF)(1 - F)
    t, h = 2.0, 1e-6
    dfdt = (bass_fraction(t + h, 0.03, 0.4) - bass_fraction(t - h, 0.03, 0.4)) / (2 * h)
    ft = bass_fraction(t, 0.03, 0.4)
    assert dfdt == pytest.approx((0.03 + 0.4 * ft) * (1 - ft), rel=1e-7)


# ------------------------------------------------------------------ Lambert W markup


def test_monopoly_markup_formula() -> None:
    a_sum = np.array([0.0, 0.5, 3.0, 200.0])
    m = monopoly_markup(a_sum, 1.7)
    np.testing.assert_allclose(m, (1 + lambertw(a_sum / np.e).real) / 1.7, rtol=1e-15)
    # it solves alpha m = 1 + A exp(-alpha m)
    np.testing.assert_allclose(1.7 * m, 1 + a_sum * np.exp(-1.7 * m), rtol=1e-12)
    assert monopoly_markup(0.0, 2.0) == pytest.approx(0.5)


# ------------------------------------------------------------------ sampling and switching


def test_sample_choices_frequencies() -> None:
    prob = np.array(
        [
            [0.1, 0.2, 0.3, 0.4],
            [0.5, 0.0, 0.25, 0.2],  # remainder 0.05 goes to the last category
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    rng = np.random.default_rng(12345)
    n = 1_000_000
    group = rng.integers(0, 3, n)
    draws = sample_choices(prob, group, rng.random(n))
    assert draws.shape == (n,)
    assert draws.min() >= 0
    assert draws.max() <= 3
    expected = prob.copy()
    expected[:, -1] += 1 - prob.sum(axis=1)
    for g in range(3):
        mine = draws[group == g]
        freq = np.bincount(mine, minlength=4) / mine.size
        sd = np.sqrt(expected[g] * (1 - expected[g]) / mine.size)
        assert np.all(np.abs(freq - expected[g]) <= 5 * sd + 1e-12), (g, freq, expected[g])


def test_sample_choices_boundaries() -> None:
    prob = np.array([[0.25, 0.25, 0.5], [0.5, 0.5, 0.0]])
    group = np.array([0, 0, 0, 0, 1, 1, 1])
    u = np.array([0.0, 0.25, 0.4999, 0.5, 0.0, 0.5, 0.999999])
    np.testing.assert_array_equal(sample_choices(prob, group, u), [0, 1, 1, 2, 0, 1, 1])


def test_markov_long_run_share_matches_simulation() -> None:
    p_ab, p_ba = 0.1, 0.3
    rng = np.random.default_rng(7)
    n_chains = 200_000
    in_a = np.ones(n_chains, dtype=bool)
    for _ in range(60):  # second eigenvalue 0.6: 0.6**60 ~ 5e-14
        u = rng.random(n_chains)
        in_a = np.where(in_a, u >= p_ab, u < p_ba)
    share = markov_long_run_share(p_ab, p_ba)
    assert share == pytest.approx(0.75)
    assert abs(in_a.mean() - share) < 5 * np.sqrt(share * (1 - share) / n_chains)
    assert np.isnan(markov_long_run_share(0.0, 0.0))
    np.testing.assert_allclose(markov_long_run_share(np.array([0.2, 0.5]), 0.2), [0.5, 2 / 7])

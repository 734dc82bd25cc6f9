"""pyblp with random coefficients (discrete consumer types) as an oracle for the pricing solver.

The demand side prices over consumer types: type ``g`` has its own price sensitivity
``alpha_g`` and its own quality coefficients ``beta_g`` (general and coding quality, say), so
``delta_gj = xi_j + x_j' beta_g``, and the types have weights. That is BLP's random-coefficient
logit with discrete agent types. In pyblp every type is one agent of every market, with the
type's weight, and demographics that Pi maps into exact per-type coefficients (Sigma = 0, so
the nodes play no part)::

    pyblp:  u_gj = xi_j + (-alpha_bar + d_g0) f(p_j) + sum_k (beta_bar_k + d_gk) x_jk
    ours:   u_gj = delta_gj - alpha_g f(p_j),   delta_gj = xi_j + x_j' beta_g

with ``d_g0 = alpha_bar - alpha_g``, ``d_gk = beta_gk - beta_bar_k``, ``Pi = I`` and
``f(p) = p`` or ``ln p`` (``log(prices)`` in both of pyblp's formulations). pyblp's nested
logit with random coefficients (RCNL, one ``rho``) is our nested logit with ``sigma = rho``.

Every test simulates several markets (fixed seeds; types, weights and products differ by
market) in one pyblp ``Simulation`` and compares, market by market and to 1e-8 relative,
(a) aggregate and per-type shares at given prices and (b) Bertrand-Nash prices from pyblp's
``replace_endogenous`` (its plain zeta-markup iteration, to 1e-14) with
:func:`solve_equilibrium` run with one group per type.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from analytic import mixed_logit_shares
from openweight_sim.market import logit_shares, no_finite_best_response, solve_equilibrium
from openweight_sim.market._groups import _Groups

pyblp = pytest.importorskip("pyblp")
pyblp.options.verbose = False

RTOL = 1e-8
N_MARKETS = 6
N_TYPES = 3
N_CHAR = 2  # e.g. general (Arena) quality and coding quality
PYBLP_ITERATION = {"atol": 1e-14, "max_evaluations": 100_000}
# (owners per market at most, nests, rho, share of products each type cannot buy)
CASES = [(None, 0, None, 0.0), (3, 0, None, 0.0), (3, 2, 0.5, 0.0), (4, 3, 0.8, 0.0)]
CASES += [(3, 0, None, 0.3), (4, 2, 0.6, 0.3)]
CASE_IDS = [
    "logit-single",
    "logit-multi",
    "nested-0.5",
    "nested-0.8",
    "logit-availability",
    "nested-availability",
]


@dataclass(frozen=True)
class RCMarkets:
    """Several markets of a discrete-type random-coefficient (nested) logit.

    Attributes:
        market_ids: market of each product row (n,).
        firm_ids: owner of each product row (n,).
        nesting_ids: nest of each product row (n,), or ``None`` (plain logit).
        xi: product-specific utility (n,).
        x: quality characteristics (n, K).
        costs: marginal costs (n,).
        alpha: price sensitivity per market and type (T, G).
        beta: quality coefficients per market and type (T, G, K).
        weights: type weights per market (T, G), summing to one.
        available: which type can buy which product row (G, n), or ``None`` (all of them);
            pyblp's agent-specific availability.
    """

    market_ids: np.ndarray
    firm_ids: np.ndarray
    nesting_ids: np.ndarray | None
    xi: np.ndarray
    x: np.ndarray
    costs: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    weights: np.ndarray
    available: np.ndarray | None = None

    def rows(self, t: int) -> np.ndarray:
        """Boolean mask of market ``t``'s product rows."""
        return self.market_ids == t

    def delta(self, t: int) -> np.ndarray:
        """Our mean utilities of market ``t`` per type: ``xi_j + x_j' beta_g`` (G, J)."""
        sl = self.rows(t)
        return self.xi[sl][None, :] + self.beta[t] @ self.x[sl].T

    def nest(self, t: int) -> np.ndarray | None:
        """Nest ids of market ``t``'s products, or ``None``."""
        return None if self.nesting_ids is None else self.nesting_ids[self.rows(t)]

    def availability(self, t: int) -> np.ndarray | None:
        """What each type of market ``t`` can buy (G, J), or ``None``."""
        return None if self.available is None else self.available[:, self.rows(t)]


def _rc_markets(
    seed: int,
    alpha_range: tuple[float, float],
    n_firms_max: int | None = None,
    n_nests: int = 0,
    unavailable: float = 0.0,
) -> RCMarkets:
    """Random markets of 4-9 products with random owners, nests and per-market types.

    In every market the least price-sensitive type has ``alpha_range[0]`` and the most
    sensitive ``alpha_range[1]``; the others lie in between. Each type cannot buy a fraction
    ``unavailable`` of the products (at random; every product stays available to some type).
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(4, 10, N_MARKETS)
    n = int(sizes.sum())
    if n_firms_max is None:
        firm_ids = np.arange(n)
    else:
        firm_ids = np.concatenate([rng.integers(0, min(n_firms_max, j), j) for j in sizes])
    nesting_ids = None
    if n_nests:
        nesting_ids = np.concatenate(
            [rng.permutation(np.resize(np.arange(n_nests), j)) for j in sizes]
        )
    available = None
    if unavailable:
        available = rng.random((N_TYPES, n)) >= unavailable
        available[rng.integers(0, N_TYPES, n), np.arange(n)] = True
    lo, hi = alpha_range
    alpha = np.sort(rng.uniform(lo, hi, (N_MARKETS, N_TYPES)), axis=1)
    alpha[:, 0], alpha[:, -1] = lo, hi
    return RCMarkets(
        market_ids=np.repeat(np.arange(N_MARKETS), sizes),
        firm_ids=firm_ids,
        nesting_ids=nesting_ids,
        xi=rng.normal(0.5, 1.0, n),
        x=rng.normal(0.0, 1.0, (n, N_CHAR)),
        costs=rng.uniform(0.2, 1.5, n),
        alpha=alpha,
        beta=rng.normal(0.8, 0.6, (N_MARKETS, N_TYPES, N_CHAR)),
        weights=rng.dirichlet(np.ones(N_TYPES), N_MARKETS),
        available=available,
    )


def _simulation(
    mk: RCMarkets, log_price: bool, rho: float | None, prices: np.ndarray | None = None
) -> Any:
    """pyblp Simulation of the markets with one agent per type (exact per-type coefficients)."""
    names = [f"x{k}" for k in range(N_CHAR)]
    demographics = [f"d{k}" for k in range(N_CHAR + 1)]
    formula = pyblp.Formulation(" + ".join(["0", "log(prices)" if log_price else "prices", *names]))
    product_data: dict[str, np.ndarray] = {
        "market_ids": mk.market_ids,
        "firm_ids": mk.firm_ids,
        "prices": mk.costs * 1.5 if prices is None else prices,
        **{name: mk.x[:, k] for k, name in enumerate(names)},
    }
    if mk.nesting_ids is not None:
        product_data["nesting_ids"] = mk.nesting_ids
    alpha_bar = float(mk.alpha.mean())
    beta_bar = mk.beta.mean(axis=(0, 1))
    deviations = np.concatenate(
        [(alpha_bar - mk.alpha)[..., None], mk.beta - beta_bar], axis=2
    ).reshape(-1, N_CHAR + 1)
    agent_data = {
        "market_ids": np.repeat(np.arange(N_MARKETS), N_TYPES),
        "weights": mk.weights.ravel(),
        "nodes": np.zeros((N_MARKETS * N_TYPES, N_CHAR + 1)),
        **{name: deviations[:, k] for k, name in enumerate(demographics)},
    }
    if mk.available is not None:  # column k: the k-th product of the agent's market
        sizes = np.bincount(mk.market_ids)
        table = np.zeros((N_MARKETS, N_TYPES, sizes.max()))
        for t in range(N_MARKETS):
            table[t, :, : sizes[t]] = mk.availability(t)
        for k in range(sizes.max()):
            agent_data[f"availability{k}"] = table[:, :, k].ravel()
    return pyblp.Simulation(
        (formula, formula),
        product_data,
        beta=[-alpha_bar, *beta_bar],
        sigma=np.zeros((N_CHAR + 1, N_CHAR + 1)),
        pi=np.eye(N_CHAR + 1),
        rho=rho,
        agent_formulation=pyblp.Formulation(" + ".join(["0", *demographics])),
        agent_data=agent_data,
        xi=mk.xi,
    )


def _pyblp_equilibrium(mk: RCMarkets, log_price: bool, rho: float | None) -> Any:
    """pyblp's Bertrand-Nash prices (zeta-markup iteration to 1e-14) and shares there.

    Plain iteration (200-500 evaluations per market with a frontier nest of sigma 0.7): pyblp's
    SQUAREM extrapolates to negative prices with log price and fails.
    """
    return _simulation(mk, log_price, rho).replace_endogenous(
        costs=mk.costs,
        iteration=pyblp.Iteration("simple", PYBLP_ITERATION),
        compute_gradients=False,
        compute_hessians=False,
    )


def _unbounded(mk: RCMarkets, t: int, rho: float | None) -> np.ndarray:
    """Products of market ``t`` whose owner has no finite best response (log price)."""
    n_prod = int(mk.rows(t).sum())
    return no_finite_best_response(
        mk.alpha[t],
        mk.weights[t],
        mk.availability(t),
        _Groups.from_ids(mk.firm_ids[mk.rows(t)], n_prod).code,
        _Groups.from_ids(mk.nest(t), n_prod).code,
        rho or 0.0,
        np.ones(n_prod, bool),
    )


def _assert_equilibria_match(mk: RCMarkets, log_price: bool, rho: float | None) -> list[np.ndarray]:
    """Solve every market with one group per type and compare with pyblp; return markups."""
    results = _pyblp_equilibrium(mk, log_price, rho)
    prices = np.asarray(results.product_data.prices).ravel()
    shares = np.asarray(results.product_data.shares).ravel()
    markups = []
    for t in range(N_MARKETS):
        sl = mk.rows(t)
        eq = solve_equilibrium(
            mk.delta(t),
            mk.costs[sl],
            mk.alpha[t],
            weight=mk.weights[t],
            firm=mk.firm_ids[sl],
            nest=mk.nest(t),
            sigma=rho or 0.0,
            log_price=log_price,
            available=mk.availability(t),
        )
        msg = f"market {t}"
        if log_price:  # every type is elastic enough: each owner has a finite best response
            assert not _unbounded(mk, t, rho).any(), msg
        assert eq.converged and not eq.no_equilibrium, eq.explain()
        np.testing.assert_allclose(eq.prices, prices[sl], rtol=RTOL, atol=0, err_msg=msg)
        np.testing.assert_allclose(eq.demand, shares[sl], rtol=RTOL, atol=0, err_msg=msg)
        per_type = np.asarray(results.compute_probabilities(market_id=t)).T  # (G, J)
        np.testing.assert_allclose(eq.shares, per_type, rtol=RTOL, atol=0, err_msg=msg)
        assert np.all(eq.prices > mk.costs[sl])
        markups.append(eq.markups)
    return markups


@pytest.mark.parametrize("log_price", [False, True], ids=["linear", "log"])
@pytest.mark.parametrize(("n_firms_max", "n_nests", "rho", "unavailable"), CASES, ids=CASE_IDS)
def test_shares_at_given_prices(
    log_price: bool, n_firms_max: int | None, n_nests: int, rho: float | None, unavailable: float
) -> None:
    """Aggregate and per-type shares at arbitrary (non-equilibrium) prices agree with pyblp."""
    mk = _rc_markets(20 + n_nests, (1.5, 4.0), n_firms_max, n_nests, unavailable)
    rng = np.random.default_rng(5)
    prices = mk.costs * rng.uniform(1.05, 3.0, mk.costs.size)
    results = _simulation(mk, log_price, rho, prices).replace_endogenous(
        costs=mk.costs, prices=prices, iteration=pyblp.Iteration("return")
    )
    np.testing.assert_array_equal(np.asarray(results.product_data.prices).ravel(), prices)
    aggregate = np.asarray(results.product_data.shares).ravel()
    for t in range(N_MARKETS):
        sl = mk.rows(t)
        ours = logit_shares(
            mk.delta(t), prices[sl], mk.alpha[t], mk.nest(t), rho or 0.0, log_price,
            mk.availability(t),
        )  # fmt: skip
        per_type = np.asarray(results.compute_probabilities(market_id=t)).T
        np.testing.assert_allclose(ours, per_type, rtol=RTOL, atol=0)
        np.testing.assert_allclose(mk.weights[t] @ ours, aggregate[sl], rtol=RTOL, atol=0)
        # and the plain type-by-type formula of tests/analytic.py, with its outside option
        reference, outside = mixed_logit_shares(
            mk.xi[sl], mk.x[sl], mk.beta[t], mk.alpha[t], prices[sl], mk.nest(t),
            rho or 0.0, log_price, mk.availability(t),
        )  # fmt: skip
        np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=0)
        np.testing.assert_allclose(ours.sum(axis=1) + outside, 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("log_price", [False, True], ids=["linear", "log"])
@pytest.mark.parametrize(("n_firms_max", "n_nests", "rho", "unavailable"), CASES, ids=CASE_IDS)
def test_equilibrium_prices_match_pyblp(
    log_price: bool, n_firms_max: int | None, n_nests: int, rho: float | None, unavailable: float
) -> None:
    """Bertrand-Nash prices, aggregate and per-type shares agree with pyblp to 1e-8.

    The least and the most price-sensitive types differ by a factor 2.5 in alpha, and with
    log price every type has alpha > 1, so every owner has a finite best response
    (:func:`no_finite_best_response`, checked) whether or not it has a rival in its nest.
    """
    alpha_range = (1.6, 4.0) if log_price else (0.8, 2.0)
    assert alpha_range[1] / alpha_range[0] >= 2.0
    seed = 40 + n_nests + (n_firms_max or 0)
    mk = _rc_markets(seed, alpha_range, n_firms_max, n_nests, unavailable)
    if n_firms_max is not None:  # some market really has a multi-product firm
        assert any(np.unique(mk.firm_ids[mk.rows(t)]).size < mk.rows(t).sum() for t in range(6))
    _assert_equilibria_match(mk, log_price, rho)


def _frontier_markets(seed: int, n_frontier: int = 4, n_other: int = 4) -> RCMarkets:
    """Closed frontier APIs of different labs in one nest; the other products in their own.

    Product 0..n_frontier-1 of each market are the frontier models, one per lab (firm ids
    0..n_frontier-1), in nest 0. The others are singleton nests: lab 0's small model (a
    multi-product lab across nests), then hosts that sell one product each. The frontier
    models carry higher quality (and cost) than the others. The most price-sensitive type
    cannot buy the last lab's frontier model (say, data residency), so its frontier nest has
    one member fewer.
    """
    rng = np.random.default_rng(seed)
    size = n_frontier + n_other
    frontier = np.arange(size) < n_frontier
    firm = np.concatenate([np.arange(n_frontier), [0], n_frontier + np.arange(n_other - 1)])
    nest = np.where(frontier, 0, np.arange(size))
    x = rng.normal(0.0, 0.5, (N_MARKETS, size, N_CHAR)) + np.where(frontier, 1.0, -0.5)[:, None]
    costs = np.where(frontier, 2.0, 0.3) * rng.uniform(0.8, 1.25, (N_MARKETS, size))
    alpha = np.tile([1.2, 2.0, 3.0], (N_MARKETS, 1))
    available = np.ones((N_TYPES, N_MARKETS, size), bool)
    available[-1, :, n_frontier - 1] = False
    return RCMarkets(
        market_ids=np.repeat(np.arange(N_MARKETS), size),
        firm_ids=np.tile(firm, N_MARKETS),
        nesting_ids=np.tile(nest, N_MARKETS),
        xi=rng.normal(0.5, 0.5, N_MARKETS * size),
        x=x.reshape(-1, N_CHAR),
        costs=costs.ravel(),
        alpha=alpha,
        beta=rng.uniform(0.3, 2.5, (N_MARKETS, N_TYPES, N_CHAR)),
        weights=rng.dirichlet(np.ones(N_TYPES), N_MARKETS),
        available=available.reshape(N_TYPES, -1),
    )


@pytest.mark.parametrize("log_price", [True, False], ids=["log", "linear"])
def test_closed_frontier_nest_matches_pyblp(log_price: bool) -> None:
    """Frontier APIs of four labs share a nest (sigma 0.7); the rest are singleton nests.

    This is the pricing-discipline structure: the frontier models are close substitutes for
    each other, so each lab's markup on its frontier model is lower than in the same market
    without the nest (sigma 0), while prices still match pyblp to 1e-8 with both.
    """
    mk = _frontier_markets(7)
    assert mk.alpha[0, -1] / mk.alpha[0, 0] >= 2.5
    nested = _assert_equilibria_match(mk, log_price, 0.7)
    plain = _assert_equilibria_match(
        RCMarkets(**{**mk.__dict__, "nesting_ids": None}), log_price, None
    )
    frontier = mk.nesting_ids[mk.rows(0)] == 0
    for with_nest, without in zip(nested, plain, strict=True):
        assert np.all(with_nest[frontier] < without[frontier])


def test_problem_inverts_shares_and_prices_a_cost_shock() -> None:
    """pyblp's Problem recovers xi from observed shares and prices a counterfactual like ours.

    From the equilibrium shares of the frontier-nest markets (log price), a pyblp ``Problem``
    with the type coefficients fixed (Pi, rho and beta given; optimization ``return``) inverts
    shares into mean utilities by its contraction; the recovered xi must be the one simulated.
    Its ``compute_prices`` after a cost shock (frontier costs halved, the others up 20%) must
    give the prices of :func:`solve_equilibrium` on the shocked costs, to 1e-8.
    """
    mk = _frontier_markets(8)
    rho = 0.7
    simulated = _pyblp_equilibrium(mk, True, rho)
    beta = [-float(mk.alpha.mean()), *mk.beta.mean(axis=(0, 1))]
    with warnings.catch_warnings():  # nothing is estimated, so identification is moot
        warnings.simplefilter("ignore")
        results = simulated.to_problem().solve(
            sigma=np.zeros((N_CHAR + 1, N_CHAR + 1)),
            pi=np.eye(N_CHAR + 1),
            rho=rho,
            beta=beta,
            method="1s",
            optimization=pyblp.Optimization("return"),
            iteration=pyblp.Iteration("squarem", {"atol": 1e-14}),  # the BLP contraction
        )
    np.testing.assert_allclose(np.asarray(results.xi).ravel(), mk.xi, rtol=0, atol=1e-10)
    frontier = np.tile(mk.nesting_ids[mk.rows(0)] == 0, N_MARKETS)
    shocked = mk.costs * np.where(frontier, 0.5, 1.2)
    counterfactual = np.asarray(
        results.compute_prices(costs=shocked, iteration=pyblp.Iteration("simple", PYBLP_ITERATION))
    ).ravel()
    for t in range(N_MARKETS):
        sl = mk.rows(t)
        eq = solve_equilibrium(
            mk.delta(t),
            shocked[sl],
            mk.alpha[t],
            weight=mk.weights[t],
            firm=mk.firm_ids[sl],
            nest=mk.nest(t),
            sigma=rho,
            log_price=True,
            available=mk.availability(t),
        )
        assert eq.converged and not eq.no_equilibrium, eq.explain()
        np.testing.assert_allclose(eq.prices, counterfactual[sl], rtol=RTOL, atol=0)
        # halving their costs moves the frontier prices down
        before = np.asarray(simulated.product_data.prices).ravel()[sl]
        assert np.all((eq.prices < before)[frontier[sl]])


def test_inelastic_type_confined_to_the_frontier_nest() -> None:
    """A type with alpha < 1 that buys only frontier APIs still leaves an equilibrium.

    With log price a type with alpha <= 1 makes a seller's profit unbounded, unless the
    seller has rivals in its nest: then its own demand falls like ``p^(-alpha/(1 - sigma))``
    and ``alpha > 1 - sigma`` suffices (:func:`no_finite_best_response`). Here the least
    price-sensitive type (alpha 0.8, sigma 0.6) can buy only the four frontier APIs, one lab
    each; pyblp's uncapped iteration finds the equilibrium, and ours, run with a price cap
    (required when a type has alpha <= 1) far above it, finds the same prices to 1e-8 with
    no product at the cap.
    """
    base = _frontier_markets(9)
    size = int(base.rows(0).sum())
    frontier = np.arange(size) < 4
    available = np.ones((N_TYPES, N_MARKETS, size), bool)
    available[0][:, ~frontier] = False
    mk = RCMarkets(
        **{
            **base.__dict__,
            "alpha": np.tile([0.8, 1.5, 3.0], (N_MARKETS, 1)),
            "available": available.reshape(N_TYPES, -1),
        }
    )
    rho = 0.6
    assert 1.0 - rho < mk.alpha.min() < 1.0
    results = _pyblp_equilibrium(mk, True, rho)
    expected = np.asarray(results.product_data.prices).ravel()
    for t in range(N_MARKETS):
        sl = mk.rows(t)
        assert not _unbounded(mk, t, rho).any()
        eq = solve_equilibrium(
            mk.delta(t),
            mk.costs[sl],
            mk.alpha[t],
            weight=mk.weights[t],
            firm=mk.firm_ids[sl],
            nest=mk.nest(t),
            sigma=rho,
            log_price=True,
            available=mk.availability(t),
            price_cap=1e4,
        )
        assert eq.converged and not eq.no_equilibrium, eq.explain()
        assert not eq.price_at_cap.any()
        np.testing.assert_allclose(eq.prices, expected[sl], rtol=RTOL, atol=0)
    # the same type with a frontier model of its own nest (no rival there) is a different
    # matter: no finite best response for that model
    alone = RCMarkets(**{**mk.__dict__, "nesting_ids": np.arange(mk.xi.size)})
    assert _unbounded(alone, 0, rho)[frontier].all()

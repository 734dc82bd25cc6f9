"""pyblp as an independent oracle for the Bertrand-Nash pricing solver.

Each test simulates ~10 random markets (fixed seeds, 3-8 products each) in one pyblp
``Simulation``, solves the equilibrium with ``replace_endogenous`` and compares prices with
``nash_prices`` / ``solve_equilibrium`` market by market. Mean utilities enter pyblp through
``xi`` with a formulation that has only the price term, so delta is identical on both sides.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from openweight_sim.market import nash_prices, solve_equilibrium

pyblp = pytest.importorskip("pyblp")
pyblp.options.verbose = False

N_MARKETS = 10
ATOL = 1e-8


def _random_markets(
    seed: int, n_firms_max: int | None = None, n_nests: int = 0
) -> dict[str, np.ndarray]:
    """Product data for N_MARKETS markets with 3-8 products and random owners/nests."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 9, N_MARKETS)
    n = int(sizes.sum())
    market_ids = np.repeat(np.arange(N_MARKETS), sizes)
    if n_firms_max is None:
        firm_ids = np.arange(n)
    else:
        firm_ids = np.concatenate([rng.integers(0, min(n_firms_max, j), j) for j in sizes])
    data = {
        "market_ids": market_ids,
        "firm_ids": firm_ids,
        "delta": rng.normal(1.0, 1.0, n),
        "costs": rng.uniform(0.2, 1.5, n),
    }
    if n_nests:
        data["nesting_ids"] = np.concatenate(
            [rng.permutation(np.resize(np.arange(n_nests), j)) for j in sizes]
        )
    return data


def _pyblp_prices(
    data: dict[str, np.ndarray], formula: str, alpha: float, **kwargs: Any
) -> np.ndarray:
    product_data = {k: v for k, v in data.items() if k not in {"delta", "costs"}}
    product_data["prices"] = data["costs"]  # starting values only
    simulation = pyblp.Simulation(
        pyblp.Formulation(formula),
        product_data,
        beta=[-alpha],
        xi=data["delta"],
        **kwargs,
    )
    results = simulation.replace_endogenous(
        costs=data["costs"], iteration=pyblp.Iteration("simple", {"atol": 1e-14})
    )
    return np.asarray(results.product_data.prices).ravel()


def _compare(data: dict[str, np.ndarray], expected: np.ndarray, alpha: float, **kw: Any) -> None:
    for t in range(N_MARKETS):
        sl = data["market_ids"] == t
        nest = data["nesting_ids"][sl] if "nesting_ids" in data else None
        ours = nash_prices(
            data["delta"][sl], data["costs"][sl], alpha, firm=data["firm_ids"][sl], nest=nest, **kw
        )
        np.testing.assert_allclose(ours, expected[sl], rtol=0, atol=ATOL, err_msg=f"market {t}")


def test_logit_single_product_firms() -> None:
    data = _random_markets(seed=1)
    alpha = 1.8
    _compare(data, _pyblp_prices(data, "0 + prices", alpha), alpha)


def test_logit_multi_product_firms() -> None:
    data = _random_markets(seed=2, n_firms_max=3)
    assert any(np.unique(data["firm_ids"][data["market_ids"] == t]).size < 4 for t in range(10))
    alpha = 2.3
    _compare(data, _pyblp_prices(data, "0 + prices", alpha), alpha)


@pytest.mark.parametrize(("n_nests", "rho"), [(2, 0.4), (3, 0.8)])
def test_nested_logit(n_nests: int, rho: float) -> None:
    data = _random_markets(seed=3 + n_nests, n_firms_max=4, n_nests=n_nests)
    alpha = 1.5
    expected = _pyblp_prices(data, "0 + prices", alpha, rho=rho)
    _compare(data, expected, alpha, sigma=rho)


def test_log_price() -> None:
    data = _random_markets(seed=6, n_firms_max=3)
    alpha = 3.2
    expected = _pyblp_prices(data, "0 + log(prices)", alpha)
    _compare(data, expected, alpha, log_price=True)


def test_log_price_nested() -> None:
    data = _random_markets(seed=7, n_firms_max=4, n_nests=2)
    alpha = 2.5
    expected = _pyblp_prices(data, "0 + log(prices)", alpha, rho=0.5)
    _compare(data, expected, alpha, sigma=0.5, log_price=True)


def test_discrete_segments_match_pyblp_demographics() -> None:
    """G segments of a discrete-type mixed logit are pyblp agents with demographics.

    Agent g in market t has price coefficient -(alpha - d1_g) and taste (0.5 + d2_g) for a
    characteristic x; pyblp's agent weights are our segment weights.
    """
    rng = np.random.default_rng(11)
    data = _random_markets(seed=8, n_firms_max=3)
    n = data["delta"].size
    n_seg = 3
    x = rng.normal(0.0, 1.0, n)
    demog = rng.normal(0.0, 0.4, (N_MARKETS, n_seg, 2))
    weights = rng.dirichlet(np.ones(n_seg), N_MARKETS)
    alpha = 2.0
    agent_data = {
        "market_ids": np.repeat(np.arange(N_MARKETS), n_seg),
        "weights": weights.ravel(),
        "nodes": np.zeros((N_MARKETS * n_seg, 2)),
        "d1": demog[:, :, 0].ravel(),
        "d2": demog[:, :, 1].ravel(),
    }
    product_data = {
        "market_ids": data["market_ids"],
        "firm_ids": data["firm_ids"],
        "prices": data["costs"],
        "x": x,
    }
    simulation = pyblp.Simulation(
        (pyblp.Formulation("0 + prices + x"), pyblp.Formulation("0 + prices + x")),
        product_data,
        beta=[-alpha, 0.5],
        sigma=np.zeros((2, 2)),
        pi=np.eye(2),
        agent_formulation=pyblp.Formulation("0 + d1 + d2"),
        agent_data=agent_data,
        xi=data["delta"],
    )
    results = simulation.replace_endogenous(
        costs=data["costs"], iteration=pyblp.Iteration("simple", {"atol": 1e-14})
    )
    expected = np.asarray(results.product_data.prices).ravel()
    shares = np.asarray(results.product_data.shares).ravel()
    for t in range(N_MARKETS):
        sl = data["market_ids"] == t
        delta = data["delta"][sl][None, :] + x[sl][None, :] * (0.5 + demog[t, :, 1][:, None])
        eq = solve_equilibrium(
            delta,
            data["costs"][sl],
            alpha - demog[t, :, 0],
            weight=weights[t],
            firm=data["firm_ids"][sl],
        )
        assert eq.converged
        np.testing.assert_allclose(eq.prices, expected[sl], rtol=0, atol=ATOL)
        np.testing.assert_allclose(weights[t] @ eq.shares, shares[sl], rtol=0, atol=1e-10)


def test_custom_ownership_matrix_convention() -> None:
    """Asymmetric profit weights: Omega_jk is what the owner of j puts on k's profit."""
    rng = np.random.default_rng(12)
    n = 5
    delta, costs = rng.normal(1.0, 1.0, n), rng.uniform(0.2, 1.0, n)
    omega = np.eye(n)
    omega[0, 1], omega[1, 0], omega[2, 3], omega[4, 0] = 0.7, 0.2, 0.5, 0.3
    simulation = pyblp.Simulation(
        pyblp.Formulation("0 + prices"),
        {"market_ids": np.zeros(n), "firm_ids": np.arange(n), "ownership": omega, "prices": costs},
        beta=[-2.0],
        xi=delta,
    )
    results = simulation.replace_endogenous(
        costs=costs, iteration=pyblp.Iteration("simple", {"atol": 1e-14})
    )
    expected = np.asarray(results.product_data.prices).ravel()
    eq = solve_equilibrium(delta, costs, 2.0, ownership=omega)
    np.testing.assert_allclose(eq.prices, expected, rtol=0, atol=ATOL)

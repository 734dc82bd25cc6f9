"""Impossible markets: no price that is not an equilibrium is ever reported as one.

Unit tests of the solver's flags on tiny analytic markets (inelastic log-price demand, a
marginal cost above the cap), then the three impossible scenarios of issue 14 run as a user
would run them: every capped runaway is flagged ``no_equilibrium``, no seller sells below
cost, and the run's summary says so in one warning line.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from openweight_sim.market import (
    Equilibrium,
    impossible_market_warning,
    no_finite_best_response,
    quarter_flags,
    solve_equilibrium,
)

CAP = 50.0


def test_single_product_with_alpha_at_most_one_has_no_equilibrium() -> None:
    """alpha (1 - s) <= 1 at every price: profit rises for ever, the cap sets the price."""
    for alpha in (0.5, 0.8, 1.0):
        eq = solve_equilibrium([1.0], [1.0], alpha, log_price=True, price_cap=CAP)
        assert eq.prices[0] == CAP
        assert eq.price_at_cap.tolist() == [True]
        assert eq.no_best_response.tolist() == [True]
        assert eq.no_equilibrium
        assert "NO EQUILIBRIUM" in eq.explain()


def test_single_product_with_elastic_demand_is_a_flag_free_equilibrium() -> None:
    """alpha = 2: the Lerner rule (p - c)/p = 1/(alpha (1 - s)) holds and nothing is flagged."""
    eq = solve_equilibrium([1.0], [1.0], 2.0, log_price=True, price_cap=CAP)
    p, s = eq.prices[0], eq.shares[0, 0]
    assert (p - 1.0) / p == pytest.approx(1.0 / (2.0 * (1.0 - s)), rel=1e-10)
    assert not eq.no_equilibrium
    for flag in (eq.price_at_cap, eq.below_cost, eq.withdrawn, eq.no_best_response):
        assert not flag.any()


def test_a_cap_binding_on_elastic_demand_is_flagged_at_cap_but_is_an_equilibrium() -> None:
    """High cost, elastic demand: the cap binds (flagged) yet the capped game is well posed."""
    eq = solve_equilibrium([5.0], [150.0], 2.0, log_price=True, price_cap=200.0)
    assert eq.prices[0] == 200.0 and eq.price_at_cap[0]
    assert not eq.no_best_response[0] and not eq.no_equilibrium


@pytest.mark.parametrize(
    ("firm", "alpha", "tail_unbounded", "no_equilibrium"),
    [
        # one owner of the whole nest: the nest's share falls like p^-alpha, alpha <= 1
        ([0, 0], 0.7, True, True),
        ([0, 0], 1.3, False, False),
        # rivals in the nest: own tail elasticity alpha/(1 - sigma) = 1.4 > 1 (finite best
        # responses), yet at equal prices demand is inelastic, so prices spiral to the cap
        ([0, 1], 0.7, False, True),
        # rivals, alpha <= 1 - sigma = 0.5: no finite best response at all
        ([0, 1], 0.4, True, True),
        ([0, 1], 1.6, False, False),
    ],
)
def test_nested_analogue(
    firm: list[int], alpha: float, tail_unbounded: bool, no_equilibrium: bool
) -> None:
    """The multi-product/nested condition: alpha_g <= 1 (own nest) or <= 1 - sigma (rivals)."""
    sigma = 0.5
    tail = no_finite_best_response(
        np.array([alpha]),
        np.ones(1),
        None,
        np.array(firm),
        np.zeros(2, int),
        sigma,
        np.ones(2, bool),
    )
    assert tail.tolist() == [tail_unbounded] * 2
    eq = solve_equilibrium(
        [1.0, 1.0], [1.0, 1.0], alpha, firm=firm, nest=[0, 0], sigma=sigma, log_price=True,
        price_cap=CAP,
    )  # fmt: skip
    assert eq.no_equilibrium is no_equilibrium
    assert eq.no_best_response.all() is np.bool_(no_equilibrium)
    if not no_equilibrium:
        assert eq.prices.max() < CAP and eq.converged


def test_an_inelastic_segment_that_cannot_buy_a_product_does_not_flag_it() -> None:
    """Only segments with positive weight that can buy the product count."""
    alpha = np.array([0.5, 3.0])
    available = np.array([[False, True], [True, True]])
    flags = no_finite_best_response(
        alpha, np.ones(2), available, np.arange(2), np.arange(2), 0.0, np.ones(2, bool)
    )
    assert flags.tolist() == [False, True]
    weightless = no_finite_best_response(
        alpha, np.array([0.0, 1.0]), None, np.arange(2), np.arange(2), 0.0, np.ones(2, bool)
    )
    assert weightless.tolist() == [False, False]


def test_a_seller_whose_cost_exceeds_the_cap_refuses_to_serve() -> None:
    """Cost 5 above the cap 2: product 0 is withdrawn, product 1 priced as if alone."""
    eq = solve_equilibrium([1.0, 1.0], [5.0, 1.0], 2.0, log_price=True, price_cap=2.0)
    alone = solve_equilibrium([1.0], [1.0], 2.0, log_price=True, price_cap=2.0)
    assert eq.withdrawn.tolist() == [True, False]
    assert eq.demand[0] == 0.0 and eq.shares[0, 0] == 0.0
    assert eq.markups[0] == 0.0 and eq.prices[0] == 5.0  # quoted at cost, never sold
    np.testing.assert_allclose(eq.prices[1:], alone.prices, rtol=1e-12)
    assert not eq.below_cost.any() and not eq.no_equilibrium
    assert eq.price_at_cap.tolist() == [False, True]


def test_cost_exactly_at_the_cap_is_withdrawn_and_fixed_products_never_are() -> None:
    eq = solve_equilibrium(
        [1.0, 1.0, 1.0], [2.0, 3.0, 1.0], 2.0, log_price=True, price_cap=2.0,
        fixed=[False, True, False],
    )  # fmt: skip
    assert eq.withdrawn.tolist() == [True, False, False]
    assert eq.demand[1] > 0  # the fringe sells at cost whatever the cap


def test_below_cost_flag_and_quarter_flags() -> None:
    """A hand-built result (e.g. adaptive prices) below cost is flagged, and summed up."""
    eq = Equilibrium(
        prices=np.array([0.5, 3.0]),
        shares=np.array([[0.2, 0.1]]),
        markups=np.array([-0.5, 2.0]),
        converged=True,
        iterations=1,
        below_cost=np.array([True, False]),
    )
    assert eq.price_at_cap.tolist() == [False, False]  # flags not given default to False
    assert quarter_flags(eq) == {
        "no_equilibrium": False,
        "price_at_cap": False,
        "sold_below_cost": True,
        "withdrawn_offers": 0,
    }
    assert "below_cost" in eq.to_frame().columns


def test_warning_line_counts_quarters_across_replications() -> None:
    table = pd.DataFrame(
        {
            "quarter": ["2023Q1", "2023Q2", "2023Q1", "2023Q2"],
            "no_equilibrium": [False, False, True, False],
            "price_at_cap": [False, False, True, False],
            "sold_below_cost": [False] * 4,
            "withdrawn_offers": [0, 2, 0, 0],
        }
    )
    line = impossible_market_warning(table)
    assert line is not None and "\n" not in line
    assert "no price equilibrium" in line and "in 1 of 2 quarters (2023Q1)" in line
    assert "refusing to serve" in line and "below cost" not in line
    sound = table.assign(no_equilibrium=False, price_at_cap=False, withdrawn_offers=0)
    assert impossible_market_warning(sound) is None
    assert impossible_market_warning(table[["quarter"]]) is None  # an older results table


# --------------------------------------------------------------------------------------------
# The impossible scenarios, run as a user runs them
# --------------------------------------------------------------------------------------------

SMALL = {"developers.count": 400}
CASES = {
    "inelastic": {"developers.price_sensitivity": 0.52},
    "slow_gpus": {"technology.ref_throughput": 1.6},
    "low_cap": {"pricing.price_cap": 0.2},
}


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Quarters and offers of the three impossible markets and the baseline (small runs)."""
    from openweight_sim import OpenWeightMarket

    out = {}
    for name, overrides in {**CASES, "baseline": {}}.items():
        model = OpenWeightMarket("baseline", rng=3, **{**SMALL, **overrides}).run_model()
        out[name] = (model.quarters_frame(), model.offers_frame())
    return out


def _assert_no_unflagged_loss(quarters: pd.DataFrame, offers: pd.DataFrame) -> None:
    """No sale below cost and no negative gross margin is reported as a normal sale."""
    sold = offers["tokens_m"] > 0
    below = sold & (offers["price"] < offers["marginal_cost"])
    assert not (below & ~offers["sold_below_cost"]).any()
    negative = quarters["closed_gross_margin"] < 0
    assert not (negative & ~quarters["sold_below_cost"]).any()
    host_negative = quarters["host_gross_margin"] < 0
    assert not (host_negative & ~quarters["sold_below_cost"]).any()
    withdrawn = offers["withdrawn"]
    assert (offers.loc[withdrawn, "tokens_m"] == 0).all()
    assert offers.loc[withdrawn, "price"].isna().all()


def test_inelastic_demand_is_reported_as_no_equilibrium(runs) -> None:
    """price_sensitivity 0.52: closed prices sit at the 200 USD/M cap and say so."""
    quarters, offers = runs["inelastic"]
    assert quarters["no_equilibrium"].all()
    capped = offers[offers["price_at_cap"]]
    # at the cap, or a hair below it where the search stopped (market.pricing._NEAR_CAP)
    assert len(capped) and np.allclose(capped["price"], 200.0, rtol=1e-3, atol=0.0)
    # every offer whose price is set by the cap is in a quarter reported as no equilibrium
    assert set(offers.loc[offers["no_best_response"], "quarter"]) <= set(
        quarters.loc[quarters["no_equilibrium"], "quarter"]
    )
    _assert_no_unflagged_loss(quarters, offers)
    # nothing computed from the capped prices is reported as a market outcome
    from openweight_sim.metrics import _PRICE_DEPENDENT

    for col in ("price_closed", "price_gpt4_level", "closed_gross_margin", "meta_net_payoff"):
        assert col in _PRICE_DEPENDENT
        assert quarters[col].isna().all(), col
    shares = [c for c in quarters.columns if c.startswith("share_tokens_")]
    assert shares and quarters[shares].isna().all().all()
    # what does not depend on prices is still reported
    assert quarters["best_closed"].notna().all() and quarters["adoption"].notna().all()


@pytest.mark.parametrize("name", ["slow_gpus", "low_cap"])
def test_sellers_below_cost_refuse_to_serve(runs, name: str) -> None:
    """Cost above the cap: offers are withdrawn, nobody sells below cost, margins >= 0."""
    quarters, offers = runs[name]
    assert quarters["withdrawn_offers"].sum() > 0 and offers["withdrawn"].any()
    assert not quarters["sold_below_cost"].any()
    margin = quarters["closed_gross_margin"].dropna()
    assert len(margin) and (margin >= 0).all()
    _assert_no_unflagged_loss(quarters, offers)


def test_baseline_has_no_flag(runs) -> None:
    quarters, offers = runs["baseline"]
    for col in ("no_equilibrium", "price_at_cap", "sold_below_cost"):
        assert not quarters[col].any(), col
    assert (quarters["withdrawn_offers"] == 0).all()
    for col in ("price_at_cap", "no_best_response", "sold_below_cost", "withdrawn"):
        assert not offers[col].any(), col
    assert impossible_market_warning(quarters) is None


def test_run_summary_warns_about_an_impossible_market(tmp_path) -> None:
    """``openweight-sim run`` prints one warning line under its table."""
    out = tmp_path / "inelastic"
    cmd = [
        sys.executable, "-m", "openweight_sim.cli", "run", "baseline",
        "--set", "developers.price_sensitivity=0.52", "--set", "developers.count=300",
        "--set", "end=2023Q4", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "no price equilibrium in 4 of 4 quarters" in warnings[0]
    quarters = pd.read_csv(out / "quarters.csv")
    assert quarters["no_equilibrium"].all()
    offers = pd.read_csv(out / "offers.csv")
    assert offers["price_at_cap"].any()

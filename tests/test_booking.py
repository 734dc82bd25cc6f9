"""Quarter booking: the record's sums, labs and hosts booking themselves, the offer rows."""

from __future__ import annotations

import mesa
import numpy as np
import pytest

from openweight_sim import OpenWeightMarket
from openweight_sim.agents import Lab
from openweight_sim.hosts import HostingProvider
from openweight_sim.options import CLOSED_API, HOSTED, OPEN_API, SELF_HOST, Options
from openweight_sim.records import QuarterRecord
from openweight_sim.scenario import load_scenario


@pytest.fixture(scope="module")
def stepped():
    """A small baseline run, stopped after each of its first eight quarters."""
    m = OpenWeightMarket("baseline", rng=3, **{"developers.count": 2_000})
    states = []
    for _ in range(8):
        cash = {k: lab.cash for k, lab in m.labs.items()}
        m.step()
        dev = m.developers
        states.append(
            {
                "record": m.record,
                "cash_before": cash,
                "cash": {k: lab.cash for k, lab in m.labs.items()},
                "lab": {
                    k: (lab.revenue, lab.serving_cost, lab.training_cost_q, lab.tokens)
                    for k, lab in m.labs.items()
                },
                "host": {k: (h.revenue, h.cost, h.tokens) for k, h in m.hosts.items()},
                "dev_tokens": dev.tokens.copy(),
                "dev_paid": dev.price_paid.copy(),
                "dev_choice": dev.choice.copy(),
                "scale": dev.scale,
            }
        )
    return m, states


def test_tokens_bought_equal_tokens_sold_and_spend_per_option(stepped):
    _m, states = stepped
    for st in states:
        rec = st["record"]
        scale = st["scale"]
        assert rec.tokens.sum() == pytest.approx(st["dev_tokens"].sum() * scale, rel=1e-12)
        # per option: the developers on it, their tokens and the price they paid
        key_col = {int(k): j for j, k in enumerate(rec.options.key)}
        tokens = np.zeros(rec.options.size)
        spend = np.zeros(rec.options.size)
        buying = st["dev_tokens"] > 0
        for k, t, p in zip(
            st["dev_choice"][buying], st["dev_tokens"][buying], st["dev_paid"][buying], strict=True
        ):
            tokens[key_col[int(k)]] += t * scale
            spend[key_col[int(k)]] += t * p * scale
        np.testing.assert_allclose(rec.tokens, tokens, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(rec.spend, spend, rtol=1e-9, atol=1e-6)


def test_spend_is_revenue_booked_to_labs_and_hosts(stepped):
    _m, states = stepped
    for st in states:
        rec = st["record"]
        lab_rev = sum(v[0] for v in st["lab"].values())
        host_rev = sum(v[0] for v in st["host"].values())
        self_spend = rec.spend[rec.options.kind == SELF_HOST].sum()
        assert rec.spend.sum() == pytest.approx(lab_rev + host_rev + self_spend, rel=1e-12)
        # every token sold is booked to one lab (its model family)
        assert sum(v[3] for v in st["lab"].values()) == pytest.approx(rec.tokens.sum())
        # hosts sell exactly the hosted options' tokens
        hosted = rec.options.kind == HOSTED
        host_tok = sum(v[2] for v in st["host"].values())
        assert host_tok == pytest.approx(rec.tokens[hosted].sum(), rel=1e-12)


def test_labs_book_cash_from_the_record(stepped):
    _m, states = stepped
    for st in states:
        for k, (revenue, serving, training, _tokens) in st["lab"].items():
            assert st["cash"][k] == st["cash_before"][k] + (revenue - serving - training)


def test_self_hosting_has_no_market_price_and_costs_what_is_spent(stepped):
    _m, states = stepped
    rec = states[-1]["record"]
    selfh = rec.options.self_hosted
    assert selfh.any()
    assert np.isnan(rec.prices[selfh]).all() and np.isnan(rec.marginal_cost[selfh]).all()
    np.testing.assert_array_equal(rec.serving_cost[selfh], rec.spend[selfh])
    api = ~selfh
    np.testing.assert_array_equal(rec.serving_cost[api], rec.options.cost[api] * rec.tokens[api])
    assert (rec.enterprise_tokens <= rec.tokens + 1e-9).all()
    assert (rec.enterprise_spend <= rec.spend + 1e-6).all()


def test_offer_rows_come_from_the_record(stepped):
    m, states = stepped
    offers = m.offers_frame()
    for st in states:
        rec = st["record"]
        rows = offers[offers["quarter"] == rec.quarter].reset_index(drop=True)
        assert list(rows["option"]) == rec.options.names
        np.testing.assert_array_equal(rows["tokens_m"], rec.tokens)
        np.testing.assert_array_equal(rows["spend_usd"], rec.spend)
        api = ~rec.options.self_hosted
        np.testing.assert_array_equal(rows["price"][api], rec.prices[api])


def hand_record() -> QuarterRecord:
    """Four options: a closed API and an open API of lab 0, a hosted offer of host 1
    (release 7), self-hosting of lab 1."""
    n = 4
    opts = Options(
        key=np.arange(n),
        kind=np.array([CLOSED_API, OPEN_API, HOSTED, SELF_HOST], dtype=np.int8),
        rid=np.array([5, 6, 7, 7]),
        lab=np.array([0, 0, 1, 1]),
        host=np.array([-1, -1, 1, -1]),
        firm=np.array([0, 0, 3, -1]),
        quality=np.full(n, 1200.0),
        cost=np.array([1.0, 0.5, 0.4, 2.0]),
        open=np.array([False, True, True, True]),
        cn=np.zeros(n, dtype=bool),
        community=np.zeros(n, dtype=bool),
        research=np.zeros(n, dtype=bool),
        brand=np.zeros(n),
        tier=np.zeros(n, dtype=np.int8),
        mau_threshold=np.full(n, np.inf),
        active_b=np.full(n, 70.0),
        coding=np.full(n, 1190.0),
        tokens_per_task=np.ones(n),
        nest=np.array([5, 6, 7, 7]),
        names=["a", "b", "c", "d"],
    )
    tokens = np.array([100.0, 50.0, 200.0, 10.0])
    spend = np.array([500.0, 60.0, 300.0, 45.0])
    return QuarterRecord(
        quarter="2025Q1",
        options=opts,
        prices=np.array([5.0, 1.2, 1.5, np.nan]),
        marginal_cost=np.array([1.0, 0.5, 0.4, np.nan]),
        tokens=tokens,
        spend=spend,
        serving_cost=np.array([100.0, 25.0, 80.0, 45.0]),
        enterprise_tokens=np.zeros(n),
        enterprise_spend=np.zeros(n),
        enterprise_workloads=np.zeros(n),
        focal_developers=0,
        consumer_surplus=0.0,
        pricing_converged=True,
        pricing_iterations=1,
    )


def test_lab_and_host_book_themselves_from_a_record():
    sc = load_scenario("baseline")
    model = mesa.Model(rng=0)
    lab0 = Lab(model, "openai", sc.labs["openai"], index=0)
    lab1 = Lab(model, "meta", sc.labs["meta"], index=1)
    lab0.cash, lab0.training_cost_q = 1_000.0, 200.0
    host = HostingProvider(model, "fireworks", sc.hosts["fireworks"], index=1)
    other = HostingProvider(model, "together", sc.hosts["together"], index=0)
    rec = hand_record()
    for agent in (lab0, lab1, host, other):
        agent.book(rec)
    # a lab's revenue is its own API sales; its tokens include hosted and self-hosted use
    assert (lab0.revenue, lab0.serving_cost, lab0.tokens) == (560.0, 125.0, 150.0)
    assert lab0.cash == 1_000.0 + 560.0 - 125.0 - 200.0
    assert (lab1.revenue, lab1.serving_cost, lab1.tokens) == (0.0, 0.0, 210.0)
    fixed = sc.hosts["fireworks"].fixed_cost_usd
    assert (host.revenue, host.tokens) == (300.0, 200.0)
    assert host.cost == 80.0 + fixed
    assert host.profit_by_release == {7: 300.0 - 80.0 - fixed}
    assert (other.revenue, other.cost, other.profit_by_release) == (0.0, 0.0, {})

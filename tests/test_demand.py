"""The demand side: workloads, taste types, volume bands, task success, per-tier pricing.

Closed forms and identities, not today's calibrated numbers: the classes a scenario
enumerates, the task-success term, who wins hard and routine work, the developers'
portfolios and adoption, self-hosting paid at each developer's own volume, and the
pricing conduct of a lab's tier divisions against its analytic first-order conditions.
"""

from __future__ import annotations

import numpy as np
import pytest

from openweight_sim import market
from openweight_sim.agents import DeveloperPopulation
from openweight_sim.demand_classes import (
    BAND_CUTS,
    BAND_MEANS,
    ClassArrays,
    class_utility,
    log_task_success,
    workload_capability,
)
from openweight_sim.model import OpenWeightMarket
from openweight_sim.options import (
    CLOSED_API,
    SELF_HOST,
    OfferCatalogue,
    build_options,
    quarter_options,
)
from openweight_sim.pricing import ownership_matrix, pricing_firms
from openweight_sim.releases import Release, coding_from_general, coding_offsets
from openweight_sim.scenario import load_scenario
from openweight_sim.serving import self_host_variable_cost


@pytest.fixture(scope="module")
def sc():
    return load_scenario("baseline")


def test_band_means_are_the_tercile_means_of_a_standard_normal():
    rng = np.random.default_rng(0)
    z = rng.standard_normal(2_000_000)
    band = np.searchsorted(np.array(BAND_CUTS), z)
    np.testing.assert_allclose(np.bincount(band) / z.size, [1 / 3] * 3, atol=2e-3)
    means = [z[band == b].mean() for b in range(3)]
    np.testing.assert_allclose(means, BAND_MEANS, atol=3e-3)


def test_log_task_success_is_the_compounded_logistic():
    cap = np.array([900.0, 1200.0, 1500.0])
    got = log_task_success(cap, 1200.0, 80.0, 4.0)
    p = 1.0 / (1.0 + np.exp(-(cap - 1200.0) / 80.0))
    np.testing.assert_allclose(got, 4.0 * np.log(p), rtol=1e-12)
    assert log_task_success(np.array(1200.0), 1200.0, 80.0, 4.0) == pytest.approx(4 * np.log(0.5))
    # no steps: success does not matter; far above the difficulty: success is certain
    assert log_task_success(np.array(500.0), 1200.0, 80.0, 0.0) == 0.0
    assert log_task_success(np.array(5000.0), 1200.0, 80.0, 4.0) == pytest.approx(0.0, abs=1e-12)
    # far below: no overflow, linear in the gap
    assert log_task_success(np.array(-1e6), 0.0, 1.0, 1.0) == pytest.approx(-1e6)


def test_classes_enumerate_segment_workload_taste_band(sc):
    cls = ClassArrays.from_scenario(sc)
    dev = sc.developers
    expected = sum(len(dev.segment_workloads(k)) for k in dev.segments)
    expected *= len(dev.taste_types) * 3
    assert cls.size == expected == len(cls.names)
    seg_keys, work_keys = list(dev.segments), list(dev.workloads)
    for c in range(cls.size):
        s, w, k, b = cls.segment[c], cls.workload[c], cls.taste[c], cls.band[c]
        assert cls.index[s, w, k, b] == c
        seg, work = dev.segments[seg_keys[s]], dev.workloads[work_keys[w]]
        taste = dev.taste_types[k]
        assert cls.alpha[c] == pytest.approx(
            seg.price_sensitivity * dev.price_sensitivity * work.price_weight * taste.price
        )
        assert cls.beta_quality[c] == pytest.approx(
            seg.quality_sensitivity * dev.quality_sensitivity * work.quality_weight * taste.quality
        )
        assert cls.band_tokens[c] == pytest.approx(
            seg.tokens_m * np.exp(seg.tokens_sigma * BAND_MEANS[b]) * work.volume
        )
    # a segment without a workload type has no class for it
    hobby, batch = seg_keys.index("hobbyist"), work_keys.index("batch")
    assert (cls.index[hobby, batch] == -1).all()
    # bounded support: with log price every class's demand is elastic (alpha > 1)
    assert (cls.alpha > 1.0).all()


def _release(rid: int, lab: str, quality: float, coding: float, *, open_weights: bool = False):
    return Release(
        rid=rid,
        lab=lab,
        name=f"{lab}-{rid}",
        quarter=0,
        tier="small" if quality < 1250 else "frontier",
        quality=quality,
        total_b=8.0 if quality < 1250 else 400.0,
        active_b=8.0 if quality < 1250 else 50.0,
        open_weights=open_weights,
        license="permissive" if open_weights else "proprietary",
        origin="US",
        coding=coding,
    )


def test_a_cheap_weak_model_wins_routine_work_but_not_hard_work(sc):
    """Cost per successful task: at 1/20 of the price a weak model takes batch work and
    loses coding work, where its errors compound over the task's steps."""
    strong = _release(0, "openai", 1300.0, 1360.0)
    weak = _release(1, "anthropic", 1150.0, 1130.0)
    items = quarter_options(OfferCatalogue(), [strong, weak], sc.labs, [], 0.4)
    mau = {k: lab.mau_threshold for k, lab in sc.labs.items()}
    opts = build_options(items, mau, np.ones(2), len(sc.labs))
    opts.brand[:] = 0.0
    cls = ClassArrays.from_scenario(sc)
    u = class_utility(opts, cls, np.zeros(len(sc.labs)), np.full((cls.size, 2), np.nan), 0.0)
    prices = np.array([2.0, 0.1])
    net = u - cls.alpha[:, None] * np.log(prices)[None, :]
    work = list(sc.developers.workloads)
    coding = cls.workload == work.index("coding")
    batch = cls.workload == work.index("batch")
    assert (net[coding, 0] > net[coding, 1]).all()  # hard work: the strong model
    assert (net[batch, 1] > net[batch, 0]).all()  # routine bulk work: the cheap one
    # the capability a workload sees weighs the domains
    cap = workload_capability(opts, cls)
    np.testing.assert_allclose(cap[coding], np.tile([1360.0, 1130.0], (coding.sum(), 1)))
    np.testing.assert_allclose(cap[batch], np.tile([1300.0, 1150.0], (batch.sum(), 1)))


def test_coding_capability_of_generated_releases_uses_the_labs_measured_offset():
    offsets = coding_offsets()
    # Anthropic's measured releases code better than their general Elo predicts
    assert offsets["anthropic"] > 30 > 0 > offsets["openai"]
    m = OpenWeightMarket("baseline", rng=3, **{"developers.count": 200}).run_model()
    for lab in ("anthropic", "openai", "google"):
        gen = [r for r in m.labs[lab].catalogue if not r.historical]
        assert gen
        for r in gen:
            assert r.coding == pytest.approx(coding_from_general(r.quality) + offsets[lab])


def test_portfolios_adoption_and_tastes_per_developer(sc):
    pop = DeveloperPopulation(sc, ClassArrays.from_scenario(sc), np.random.default_rng(5))
    dev = sc.developers
    seg_keys = list(dev.segments)
    sizes = np.bincount(pop.firm, minlength=pop.count)
    np.testing.assert_array_equal(sizes, pop.n_rows)
    for i in range(0, pop.count, 997):
        rows = pop.rows_of(i)
        seg = seg_keys[pop.segment[rows.start]]
        names = [pop.workload_names[w] for w in pop.workload[rows]]
        assert names == dev.segment_workloads(seg)  # its segment's portfolio, in order
        assert len(set(pop.taste[rows])) == len(set(pop.band[rows])) == 1  # the developer's
    # adoption is per developer: all of a developer's workloads adopt together
    assert (pop.adopted == pop.firm_adopted[pop.firm]).all()
    pop.adopt(0.6, np.random.default_rng(1))
    assert pop.adoption_fraction() == pytest.approx(0.6, abs=1 / pop.count)
    assert (pop.adopted == pop.firm_adopted[pop.firm]).all()
    # taste types: exact shares within every segment
    first = pop.first_row
    for s in range(len(seg_keys)):
        members = pop.segment[first] == s
        counts = np.bincount(pop.taste[first][members], minlength=len(dev.taste_types))
        want = [t.share * members.sum() for t in dev.taste_types]
        assert np.all(np.abs(counts - want) <= 1)


def test_self_hosting_is_paid_at_each_developers_own_volume():
    m = OpenWeightMarket(
        "baseline", rng=2, **{"developers.count": 2000, "end": "2024Q4", "pricing.nest_sigma": 0.6}
    ).run_model()
    rec, dev = m.record, m.developers
    opts = rec.options
    col_of_key = {int(k): j for j, k in enumerate(opts.key)}
    cols = np.array([col_of_key.get(int(c), -1) for c in dev.choice])
    on = (cols >= 0) & dev.adopted & (dev.tokens > 0)
    selfh = on & (opts.kind[np.maximum(cols, 0)] == SELF_HOST)
    assert selfh.any(), "the regulated segment must self-host"
    variable = self_host_variable_cost(opts, m.classes, opts.cost)
    rows = np.flatnonzero(selfh)
    var = variable[dev.klass[rows], cols[rows]]
    fixed = m.classes.self_host_fixed[dev.klass[rows]]
    np.testing.assert_allclose(
        dev.price_paid[rows] * dev.tokens[rows], var * dev.tokens[rows] + fixed, rtol=1e-12
    )
    # the quarter's self-hosting cost is reported apart from what the market is paid
    q = m.quarters_frame().set_index("quarter").loc["2024Q4"]
    spend = dev.price_paid[on] * dev.tokens[on] * dev.scale
    is_self = opts.kind[cols[on]] == SELF_HOST
    assert q["self_host_cost"] == pytest.approx(spend[is_self].sum(), rel=1e-9)
    assert q["total_spend"] == pytest.approx(spend[~is_self].sum(), rel=1e-9)
    is_open = opts.open[cols[on]]
    assert q["share_open_spend"] == pytest.approx(
        spend[is_open & ~is_self].sum() / spend[~is_self].sum(), rel=1e-9
    )


def _two_tier_lab():
    """One lab selling a frontier and a small closed model, plus an open model's host."""
    sc = load_scenario("baseline")
    rels = [_release(0, "openai", 1300.0, 1300.0), _release(1, "openai", 1180.0, 1180.0)]
    items = quarter_options(OfferCatalogue(), rels, sc.labs, [], 0.4)
    mau = {k: lab.mau_threshold for k, lab in sc.labs.items()}
    return build_options(items, mau, np.array([2.0, 0.2]), len(sc.labs))


def test_tier_divisions_price_each_tier_as_a_single_product_firm():
    """tier_conduct = 0: each product satisfies the single-product Lerner rule
    (p − c)/p = 1/(α(1 − s)) (log price, plain logit)."""
    opts = _two_tier_lab()
    firms = pricing_firms(opts, 0.0)
    assert firms[0] != firms[1]
    assert ownership_matrix(opts, 0.0, 0.0) is None  # divisions are plain firm ids
    alpha, delta, cost = 3.0, np.array([2.0, 1.0]), opts.cost
    eq = market.solve_equilibrium(delta, cost, alpha, firm=firms, log_price=True, tol=1e-14)
    p, s = eq.prices, eq.shares[0] if eq.shares.ndim == 2 else eq.shares
    np.testing.assert_allclose((p - cost) / p, 1.0 / (alpha * (1.0 - s)), rtol=1e-9)


def test_a_lab_pricing_its_tiers_jointly_adds_its_profit_per_buyer():
    """tier_conduct = 1, log price, plain logit: p_j = α (c_j + Π) / (α − 1) with Π the lab's
    profit per consumer Σ_k (p_k − c_k) s_k — the same additive markup on every tier, which
    is why joint pricing puts a small model's price far above its cost."""
    opts = _two_tier_lab()
    firms = pricing_firms(opts, 1.0)
    assert firms[0] == firms[1]
    alpha, delta, cost = 3.0, np.array([2.0, 1.0]), opts.cost
    eq = market.solve_equilibrium(delta, cost, alpha, firm=firms, log_price=True, tol=1e-14)
    p, s = eq.prices, eq.shares[0] if eq.shares.ndim == 2 else eq.shares
    profit = float(((p - cost) * s).sum())
    np.testing.assert_allclose(p, alpha * (cost + profit) / (alpha - 1.0), rtol=1e-9)
    # partial conduct lies in between, through the ownership matrix
    omega = ownership_matrix(opts, 0.0, 0.5)
    assert omega is not None and omega[0, 1] == omega[1, 0] == 0.5
    mid = market.solve_equilibrium(
        delta, cost, alpha, firm=pricing_firms(opts, 0.5), ownership=omega, log_price=True
    )
    sep = market.solve_equilibrium(
        delta, cost, alpha, firm=pricing_firms(opts, 0.0), log_price=True
    )
    assert sep.prices[1] < mid.prices[1] < eq.prices[1]


def test_closed_frontier_apis_share_one_nest_only_when_asked(sc):
    rels = [
        _release(0, "openai", 1300.0, 1300.0),
        _release(1, "anthropic", 1290.0, 1350.0),
        _release(2, "openai", 1180.0, 1180.0),
        _release(3, "mistral", 1260.0, 1250.0, open_weights=True),
    ]
    items = quarter_options(OfferCatalogue(), rels, sc.labs, [], 0.4)
    mau = {k: lab.mau_threshold for k, lab in sc.labs.items()}
    cost = np.ones(len(items))
    apart = build_options(items, mau, cost, len(sc.labs))
    np.testing.assert_array_equal(apart.nest, apart.rid)
    shared = build_options(items, mau, cost, len(sc.labs), closed_frontier_nest=True)
    frontier = (shared.kind == CLOSED_API) & (shared.tier == 0)
    assert frontier.sum() == 2 and len(set(shared.nest[frontier])) == 1
    assert not set(shared.nest[~frontier]) & set(shared.nest[frontier])
    np.testing.assert_array_equal(shared.nest[~frontier], shared.rid[~frontier])

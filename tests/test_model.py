"""The Mesa model: required outputs, reproducibility, batch_run, agents, conservation."""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd
import pytest

from openweight_sim import OpenWeightMarket
from openweight_sim.agents import Developer, HostingProvider, Lab
from openweight_sim.scenario import quarter_label

SMALL_KW = {"developers.count": 300}
REQUIRED = [
    "quarter",
    "price_closed",
    "price_open_hosted",
    "price_gpt4_level",
    "share_open_tokens",
    "share_open_tokens_cn",
    "share_open_spend",
    "quality_gap",
    "closed_gross_margin",
    "meta_net_payoff",
]


def test_required_columns_and_horizon(baseline_small):
    df = baseline_small.quarters_frame()
    assert list(df.columns[: len(REQUIRED)]) == REQUIRED or set(REQUIRED) <= set(df.columns)
    assert df["quarter"].iloc[0] == "2023Q1" and df["quarter"].iloc[-1] == "2027Q4"
    assert len(df) == 20
    assert not baseline_small.running
    later = df[df["quarter"] >= "2024Q1"]
    for col in REQUIRED[1:]:
        assert later[col].notna().all(), col


def test_same_seed_same_dataframe_different_seed_differs():
    kw = {"developers.count": 600}
    a = OpenWeightMarket("baseline", rng=7, **kw).run_model().quarters_frame()
    b = OpenWeightMarket("baseline", rng=7, **kw).run_model().quarters_frame()
    c = OpenWeightMarket("baseline", rng=8, **kw).run_model().quarters_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_batch_run_works():
    results = mesa.batch_run(
        OpenWeightMarket,
        {"scenario": "baseline", "developers.count": [500, 1000]},
        rng=[1, 2],
        max_steps=8,
        number_processes=1,
        data_collection_period=1,
        display_progress=False,
    )
    df = pd.DataFrame(results)
    assert set(df["developers.count"]) == {500, 1000}
    assert df["Step"].max() == 8
    last = df[df["quarter"] == "2024Q4"]
    assert len(last) >= 4  # 2 counts x 2 seeds (x labs/hosts rows from agent reporters)
    assert last["price_closed"].notna().all()


def test_agents_by_type(baseline_small):
    m = baseline_small
    labs = m.agents_by_type[Lab]
    assert {a.key for a in labs} == set(m.config.labs)
    assert len(m.agents_by_type[HostingProvider]) == len(m.config.hosts)
    devs = m.agents_by_type[Developer]
    assert len(devs) == m.config.developers.count
    d = next(iter(devs))
    assert d.segment in m.config.developers.segments
    assert isinstance(d.tokens, float)


def test_developer_views_built_on_first_access_one_per_developer():
    m = OpenWeightMarket("baseline", rng=2, **{"developers.count": 500})
    m.run_model(max_steps=6)
    # set-up and running create no views (white-box: Mesa's own registry dict)
    assert not dict.__contains__(m._agents_by_type, Developer)
    assert len(m._all_agents) == len(m.config.labs) + len(m.config.hosts)
    devs = m.agents_by_type[Developer]
    assert devs is m.agents_by_type[Developer]  # built once
    dev = m.developers
    assert sorted(d.row for d in devs) == list(range(dev.count))
    names = list(m.config.developers.segments)
    work = list(m.config.developers.workloads)
    for d in devs:
        rows = dev.rows_of(d.row)  # the developer's workloads
        assert (dev.firm[rows] == d.row).all()
        assert d.segment == names[dev.segment[rows.start]]
        assert d.adopted == bool(dev.adopted[rows].all()) == bool(dev.adopted[rows].any())
        assert d.tokens == float(dev.tokens[rows].sum())
        assert d.choice == m.offers.name(int(dev.choice[rows.start]))
        assert d.choices == {
            work[dev.workload[r]]: m.offers.name(int(dev.choice[r]))
            for r in range(rows.start, rows.stop)
        }
    assert any(d.choice not in (None, "outside") for d in devs)
    # multi-homing: some developer serves two workloads with different models
    assert any(len({c for c in d.choices.values() if c not in (None, "outside")}) > 1 for d in devs)
    # views are Mesa agents: in the model's agent set, and the run continues with them
    assert len(m.agents) == dev.count + len(m.config.labs) + len(m.config.hosts)
    m.step()
    assert sum(d.tokens for d in devs) == pytest.approx(float(dev.tokens.sum()), rel=1e-12)


def test_developer_views_switched_off_or_beyond_the_default_limit():
    off = OpenWeightMarket("baseline", rng=0, developer_agents=False, **SMALL_KW)
    assert Developer not in off.agents_by_type
    assert {type(a) for a in off.agents} == {Lab, HostingProvider}
    big = OpenWeightMarket("baseline", rng=0, **{"developers.count": 50_001})
    assert Developer not in big.agents_by_type
    on = OpenWeightMarket("baseline", rng=0, developer_agents=True, **SMALL_KW)
    assert len(on.agents_by_type[Developer]) == 300


def test_views_do_not_change_results():
    a = OpenWeightMarket("baseline", rng=4, **SMALL_KW)
    b = OpenWeightMarket("baseline", rng=4, developer_agents=False, **SMALL_KW)
    assert len(a.agents_by_type[Developer]) == 300  # built before the run
    a.run_model(max_steps=5)
    b.run_model(max_steps=5)
    pd.testing.assert_frame_equal(a.quarters_frame(), b.quarters_frame())


def test_tokens_bought_equal_tokens_sold(baseline_small):
    m = baseline_small
    dev = m.developers
    sold = m.offers_frame()
    last = sold[sold["quarter"] == "2027Q4"]
    bought = float(dev.tokens.sum() * dev.scale)
    assert last["tokens_m"].sum() == pytest.approx(bought, rel=1e-12)
    q = m.quarters_frame().set_index("quarter")
    assert q.loc["2027Q4", "total_tokens"] == pytest.approx(bought, rel=1e-12)
    # spend: every dollar paid is revenue of a lab or a host, or self-hosting cost
    labs = m.labs_frame()
    hosts = m.hosts_frame()
    rev = labs[labs["quarter"] == "2027Q4"]["api_revenue_usd"].sum()
    rev += hosts[hosts["quarter"] == "2027Q4"]["revenue_usd"].sum()
    selfh = last[last["kind"] == "self_host"]["spend_usd"].sum()
    assert rev == pytest.approx(q.loc["2027Q4", "total_spend"], rel=1e-9)
    assert selfh == pytest.approx(q.loc["2027Q4", "self_host_cost"], rel=1e-12)


def test_history_then_rules(baseline_small):
    rel = baseline_small.releases_frame()
    hist = rel[rel["historical"]]
    assert hist["quarter"].max() <= "2024Q4"
    assert (rel[rel["quarter"] >= "2025Q1"]["historical"] == False).all()  # noqa: E712
    assert (rel["quarter"] >= "2025Q1").sum() > 10


def test_prices_at_or_above_cost_and_finite(baseline_small):
    offers = baseline_small.offers_frame()
    api = offers[offers["kind"] != "self_host"]
    assert (api["price"] >= api["marginal_cost"] - 1e-9).all()
    assert np.isfinite(api[["price", "marginal_cost", "tokens_m"]].to_numpy()).all()


def test_meta_consolidation_stops_open_releases():
    m = OpenWeightMarket("meta_consolidates", rng=1, **{"developers.count": 400}).run_model()
    rel = m.releases_frame()
    meta = rel[(rel["lab"] == "meta") & (rel["quarter"] >= "2026Q3")]
    assert len(meta) > 0 and not meta["open_weights"].any()
    before = rel[(rel["lab"] == "meta") & (rel["quarter"].between("2025Q1", "2026Q2"))]
    assert before["open_weights"].any()


def test_endogenous_consolidation_rule():
    # A threshold no payoff can reach: Meta consolidates as soon as it has 1 quarter of data.
    m = OpenWeightMarket(
        "baseline", rng=1, **{"developers.count": 400, "labs.meta.consolidate_below": 1e13}
    ).run_model()
    rel = m.releases_frame()
    late = rel[(rel["lab"] == "meta") & (rel["quarter"] >= "2025Q1")]
    assert len(late) > 0 and not late["open_weights"].any()


def test_no_open_weights_has_no_open_tokens():
    m = OpenWeightMarket("no_open_weights", rng=1, **{"developers.count": 400}).run_model()
    df = m.quarters_frame()
    assert (df["share_open_tokens"].fillna(0) == 0).all()
    assert not m.releases_frame()["open_weights"].any()


def test_license_threshold_excludes_platforms(baseline_small):
    m = baseline_small
    dev = m.developers
    plat = dev.segment_names.index("platform")
    rows = np.flatnonzero((dev.segment == plat) & (dev.choice >= 0))
    names = [m.offers.name(int(k)) for k in dev.choice[rows]]
    meta_models = [r.name for r in m.releases.values() if r.lab == "meta"]
    assert not any(n.startswith(tuple(meta_models)) for n in names)


def test_regulated_developers_only_self_host(baseline_small):
    m = baseline_small
    dev = m.developers
    reg = dev.segment_names.index("regulated")
    rows = np.flatnonzero((dev.segment == reg) & (dev.choice >= 0))
    assert rows.size > 0
    assert all(m.offers.name(int(k)).endswith("(self-hosted)") for k in dev.choice[rows])


def test_bass_adoption_matches_closed_form_with_effects_off():
    from openweight_sim.market import bass_fraction

    kw = {
        "developers.count": 20_000,
        "developers.initial_adoption": 0.0,
        "developers.adoption_price_effect": 0.0,
        "end": "2024Q4",
    }
    m = OpenWeightMarket("baseline", rng=1, **kw)
    p, q = m.config.developers.bass_p, m.config.developers.bass_q
    for t in range(1, 9):
        m.step()
        expected = bass_fraction(t * 0.25, p, q)
        assert m.developers.adoption_fraction() == pytest.approx(expected, abs=1 / 20_000)


def test_consolidation_keeps_released_weights_on_the_market():
    m = OpenWeightMarket("meta_consolidates", rng=1, **{"developers.count": 400}).run_model()
    offers = m.offers_frame()
    late = offers[(offers["quarter"] == "2027Q4") & (offers["lab"] == "meta")]
    assert len(late) > 0 and late["open_weights"].all()
    q = m.quarters_frame().set_index("quarter")
    assert q.loc["2027Q4", "meta_ad_lift"] > 0  # internal models still power Meta AI


def test_pricing_converges_every_quarter(baseline_small):
    df = baseline_small.quarters_frame()
    assert df["pricing_converged"].all()
    assert (df["pricing_iterations"] > 0).all()


def _active_names(model: OpenWeightMarket) -> dict[tuple[str, str, str], str]:
    """The active release per (lab, tier, line), by name."""
    return {key: model.releases[rid].name for key, rid in model.active.items()}


def _step_to(model: OpenWeightMarket, quarter: str) -> OpenWeightMarket:
    while quarter_label(model.q) != quarter:
        model.step()
    model.step()  # run the quarter itself
    return model


def test_open_and_closed_lines_coexist_and_replace_their_own():
    m = _step_to(OpenWeightMarket("baseline", rng=1, **{"developers.count": 300}), "2024Q3")
    names = _active_names(m)
    # Google's small tier: Gemini 1.5 Flash (closed) beside Gemma 2 9B (open), which
    # replaced Gemma 7B in the open line only.
    assert names[("google", "small", "closed")] == "Gemini 1.5 Flash"
    assert names[("google", "small", "open")] == "Gemma 2 9B"
    assert "Gemma 7B" not in names.values()
    # The table says Mistral Large 2 (open) superseded Mistral Large (closed).
    assert names[("mistral", "frontier", "open")] == "Mistral Large 2"
    assert ("mistral", "frontier", "closed") not in names


def test_counterfactual_keeps_historical_lines():
    # With open_history off, Gemma 2 9B is sold closed but stays in its own (open) line,
    # so Gemini 1.5 Flash remains Google's closed small product.
    m = _step_to(OpenWeightMarket("no_open_weights", rng=1, **{"developers.count": 300}), "2024Q3")
    names = _active_names(m)
    assert names[("google", "small", "closed")] == "Gemini 1.5 Flash"
    assert names[("google", "small", "open")] == "Gemma 2 9B"
    assert not m.releases[m.active[("google", "small", "open")]].open_weights


def test_rule_generation_keeps_a_hybrids_closed_line_and_supersedes_old_lines():
    m = OpenWeightMarket("baseline", rng=1, **{"developers.count": 300}).run_model()
    for (lab, tier, line), rid in m.active.items():
        rel = m.releases[rid]
        generated = [r for r in m.labs[lab].catalogue if not r.historical and r.tier == tier]
        if generated:  # once a lab has a rule-generated model in a tier, nothing older stays
            assert not rel.historical, (lab, tier, rel.name)
            same_line = [r for r in generated if r.open_weights == (line == "open")]
            assert rel.rid == max(r.rid for r in same_line)
    # Google (hybrid, open small tier) sells a closed small model beside its open one
    google_small = {line for (lab, tier, line) in m.active if (lab, tier) == ("google", "small")}
    assert google_small == {"open", "closed"}
    small = [m.releases[m.active[("google", "small", line)]] for line in ("closed", "open")]
    gap = m.config.technology.open_line_gap
    assert small[0].quarter == small[1].quarter
    assert small[1].quality == pytest.approx(small[0].quality - gap)
    # a frontier lab's tier that is not open has one (closed) line only
    assert ("google", "frontier", "open") not in m.active

"""What openness pays Meta: the paired value, its channels, its directions, the review.

The value of openness is Meta's payoff in a scenario minus the same scenario with Meta's
releases kept internal, same seeds. Direction tests average at least 10 paired seeds at a
small developer count; each states its margin. They raise ``meta_payoff.community_catch_up``
to 0.5 so that Meta's own quality differs clearly between the two worlds: at the baseline's
0.1 that difference (a few Elo) is smaller than the release-quality noise of two worlds
whose random streams diverge once their developers choose differently.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from openweight_sim import OpenWeightMarket, load_scenario, meta_value
from openweight_sim.counterfactual import meta_internal_scenario
from openweight_sim.meta import CHANNELS, MetaObservation, amortised_training, payoff_terms
from openweight_sim.meta.value import VALUE, paired_value
from openweight_sim.seeds import spawn_seeds

SMALL = {"developers.count": 300}
PAIRS = 10
STRONG = {**SMALL, "meta_payoff.community_catch_up": 0.5, "meta_payoff.attention_per_100elo": 0.03}
"""The direction tests' reference: Meta's community catch-up makes the worlds differ."""
CUM = f"{VALUE}_cumulative"


def final_value(overrides: dict, replications: int = PAIRS) -> pd.Series:
    """Cumulative discounted value of openness per replication, USD bn."""
    v = meta_value("baseline", replications=replications, seed=3, overrides=overrides)
    return v.value.groupby("replication").tail(1).set_index("replication")[CUM] / 1e9


@pytest.fixture(scope="module")
def strong() -> pd.Series:
    return final_value(STRONG)


# ---------------------------------------------------------------------- identities


@pytest.fixture(scope="module")
def small_result():
    return meta_value("baseline", replications=2, seed=5, overrides=SMALL)


def test_value_is_the_payoff_difference_of_two_runs_computed_by_hand(small_result):
    sc = load_scenario("baseline", SMALL)
    seed = spawn_seeds(5, 2)[1]
    a = OpenWeightMarket(sc, rng=seed).run_model().quarters_frame()
    b = OpenWeightMarket(meta_internal_scenario(sc), rng=seed).run_model().quarters_frame()
    by_hand = (a["meta_net_payoff"] - b["meta_net_payoff"]).to_numpy()
    got = small_result.value.query("replication == 1")[VALUE].to_numpy()
    scale = np.abs(a["meta_net_payoff"]).max()
    np.testing.assert_allclose(got, by_hand, rtol=0, atol=1e-9 * scale)
    assert np.abs(by_hand).max() > 0  # the two worlds differ


def test_channels_sum_exactly_to_the_total(small_result):
    v = small_result.value
    channels = v[[f"meta_value_{c}" for c in CHANNELS]].sum(axis=1)
    assert (channels == v[VALUE]).all()
    s = small_result.summary().set_index("channel")
    assert s.loc[list(CHANNELS), "mean"].sum() == pytest.approx(s.loc["openness", "mean"])
    assert list(s.index) == ["openness", *CHANNELS]
    assert (s["lo"] <= s["mean"]).all() and (s["mean"] <= s["hi"]).all()


def test_cumulative_value_discounts_each_quarter_to_the_start(small_result):
    r = small_result.scenario.meta_payoff.discount_rate
    v = small_result.value.query("replication == 0")
    d = (1 + r) ** (-np.arange(len(v)) / 4)
    np.testing.assert_allclose(v["discount"], d)
    np.testing.assert_allclose(v[CUM], np.cumsum(v[VALUE] * d), rtol=1e-12)


def test_value_does_not_depend_on_training_and_capex_openness_does_not_change():
    # training spent in both worlds (open extra off) and the capex share both worlds pay
    base = {**SMALL, "meta_payoff.open_training_extra": 0.0}
    changed = {
        **base,
        "labs.meta.training_cost_usd.frontier": 5.0e9,
        "labs.meta.training_cost_usd.mid": 1.0e9,
        "meta_payoff.capex_share": 0.5,
        "meta_payoff.training_life_q": 2,
    }
    a = meta_value("baseline", replications=2, seed=2, overrides=base)
    b = meta_value("baseline", replications=2, seed=2, overrides=changed)
    assert (b.value["meta_payoff_open"] < a.value["meta_payoff_open"]).all()  # the level moved
    cols = [VALUE, *(f"meta_value_{c}" for c in CHANNELS if c != "training")]
    pd.testing.assert_frame_equal(a.value[cols], b.value[cols])
    np.testing.assert_allclose(b.value["meta_value_training"], a.value["meta_value_training"])


def test_internal_twin_keeps_meta_off_the_market_and_reverses_leakage():
    sc = load_scenario("baseline", SMALL)
    twin = meta_internal_scenario(sc)
    mp = sc.meta_payoff
    assert twin.labs["meta"].catch_up == pytest.approx(
        sc.labs["meta"].catch_up * (1 - mp.community_catch_up)
    )
    assert twin.labs["deepseek"].catch_up == pytest.approx(
        sc.labs["deepseek"].catch_up * (1 - mp.leakage)
    )
    m = OpenWeightMarket(twin, rng=1).run_model()
    rel = m.releases_frame()
    meta = rel[rel["lab"] == "meta"]
    assert len(meta) > 3 and not meta["open_weights"].any()
    offers = m.offers_frame()
    assert not (offers["lab"] == "meta").any()  # no hosts, no self-hosting, no API
    q = m.quarters_frame()
    assert (q["meta_payoff_input_cost"].iloc[-4:] < 0).all()  # Meta still runs its models


def test_amortised_training_spreads_each_release_over_its_life():
    releases = [(10, 400.0, True), (12, 100.0, False)]
    got = [amortised_training(releases, q, 4) for q in range(9, 17)]
    totals = [t for t, _ in got]
    assert totals == [0.0, 100.0, 100.0, 125.0, 125.0, 25.0, 25.0, 0.0]
    assert sum(totals) == 500.0
    assert [o for _, o in got][1:5] == [100.0, 100.0, 100.0, 100.0]


def test_payoff_terms_follow_their_equations():
    from openweight_sim.scenario import MetaPayoff

    mp = MetaPayoff(ad_revenue_growth=0.0, internal_token_growth=0.0, capex_growth=0.0)
    obs = MetaObservation(
        years=0.0,
        meta_best=1200.0,
        rival_best=1300.0,
        follower_best=1250.0,
        rival_rents=1e9,
        own_cost=2.0,
        buy_price=1.0,
        ecosystem_devs=1000.0,
        has_open=True,
        is_open=True,
        training=1e8,
        open_training=1e8,
    )
    t = payoff_terms(mp, obs)
    assert t.moat == pytest.approx(-mp.ad_revenue_q * mp.attention_per_100elo - 0.05e9)
    assert t.leakage == pytest.approx(-mp.ad_revenue_q * mp.follower_attention_per_100elo * 0.5)
    assert t.input_cost == pytest.approx(-mp.internal_tokens_m * 1.0)  # buying is cheaper
    assert t.ecosystem == pytest.approx(mp.ecosystem_value_per_dev * 1000.0)  # no saving
    assert t.api == 0.0
    assert t.training == pytest.approx(-1e8 * (1 + mp.open_training_extra) - 7e9 * 0.02)
    assert t.net == pytest.approx(sum(getattr(t, c) for c in CHANNELS))
    closed = payoff_terms(
        mp.model_copy(update={"api_capture": 0.1}),
        obs.__class__(**{**{f: getattr(obs, f) for f in obs.__slots__}, "is_open": False}),
    )
    assert closed.api == pytest.approx(0.1e9)


# ---------------------------------------------------------------------- directions


def test_stronger_attention_raises_the_value(strong):
    # margin: +1 bn over 10 pairs, attention 0.03 vs 0.01 (measured after demand v2: +6.0 bn,
    # s.e. 0.50, 10 of 10 pairs positive)
    weak = final_value({**STRONG, "meta_payoff.attention_per_100elo": 0.01})
    diff = strong - weak
    assert diff.mean() > 1.0, diff.round(2).tolist()


def test_larger_rival_lead_raises_the_value(strong):
    # a slower closed frontier leaves a smaller rival lead for Meta's catch-up to close
    # margin: +1 bn over 10 pairs, frontier growth 20 vs 5 Elo/quarter (measured after demand
    # v2: +3.0 bn, s.e. 0.49, 10 of 10 pairs positive)
    small_lead = final_value({**STRONG, "technology.frontier_growth": 5})
    diff = strong - small_lead
    assert diff.mean() > 1.0, diff.round(2).tolist()


def test_stronger_leakage_lowers_the_value():
    # Leakage also helps Meta: the followers it strengthens cut closed rivals' rents and the
    # price of APIs Meta could buy (moat and input-cost channels rise with it). The test
    # weighs followers' attention at 1% of ad revenue per 100 Elo (baseline 0.4%), where
    # the direct cost dominates; margins over 10 pairs, leakage 0.2 vs 0.6 (measured after
    # demand v2: total -0.42 bn, s.e. 0.15; leakage channel -0.86 bn, s.e. 0.17).
    base = {**SMALL, "meta_payoff.follower_attention_per_100elo": 0.01}
    a = meta_value("baseline", replications=PAIRS, seed=3, overrides=base).value
    b = meta_value(
        "baseline", replications=PAIRS, seed=3, overrides={**base, "meta_payoff.leakage": 0.6}
    ).value
    last_a = a.groupby("replication").tail(1).set_index("replication")
    last_b = b.groupby("replication").tail(1).set_index("replication")
    total = (last_b[CUM] - last_a[CUM]) / 1e9
    channel = last_b["meta_value_leakage_cumulative"] - last_a["meta_value_leakage_cumulative"]
    assert total.mean() < -0.1, total.round(2).tolist()
    assert channel.mean() / 1e9 < -0.3, (channel / 1e9).round(2).tolist()


# ---------------------------------------------------------------------- the review


def test_meta_reviews_once_a_year_and_consolidates_when_its_estimate_is_negative():
    costly = {**SMALL, "meta_payoff.open_capex_share": 0.2}  # openness adds 20% of capex
    m = OpenWeightMarket("meta_decides", rng=1, **costly).run_model()
    q = m.quarters_frame().set_index("quarter")
    reviews = q["meta_review_estimate"].dropna()
    assert list(reviews.index) == ["2026Q3"]  # consolidated at the first review
    assert reviews.iloc[0] < 0
    assert (q.loc["2026Q3":, "meta_policy"] == "closed").all()
    assert (q.loc[:"2026Q2", "meta_policy"] == "open").all()
    rel = m.releases_frame()
    late = rel[(rel["lab"] == "meta") & (rel["quarter"] >= "2026Q3")]
    assert len(late) > 0 and not late["open_weights"].any()


def test_meta_stays_open_when_its_estimate_is_positive():
    rich = {**SMALL, "meta_payoff.ecosystem_value_per_dev": 1.0e5}
    m = OpenWeightMarket("meta_decides", rng=1, **rich).run_model()
    q = m.quarters_frame().set_index("quarter")
    reviews = q["meta_review_estimate"].dropna()
    assert list(reviews.index) == ["2026Q3", "2027Q3"]
    assert (reviews > 0).all() and (q["meta_policy"] == "open").all()


def test_without_decide_the_review_is_reported_but_not_acted_on():
    costly = {**SMALL, "meta_payoff.open_capex_share": 0.2}
    q = OpenWeightMarket("baseline", rng=1, **costly).run_model().quarters_frame()
    q = q.set_index("quarter")
    reviews = q["meta_review_estimate"].dropna()
    assert list(reviews.index) == ["2026Q3", "2027Q3"] and (reviews < 0).all()
    assert (q["meta_policy"] == "open").all()
    assert not math.isnan(q["meta_net_payoff"].iloc[-1])


def test_paired_value_aligns_worlds_by_replication_and_quarter():
    quarters = ["2023Q1", "2023Q2"]
    cols = {f"meta_payoff_{c}": [1.0, 2.0] for c in CHANNELS}
    a = pd.DataFrame({"replication": 0, "seed": 9, "quarter": quarters, **cols})
    a["meta_net_payoff"] = a[list(cols)].sum(axis=1)
    b = a.copy()
    b["meta_payoff_moat"] = [0.0, 0.0]
    b["meta_net_payoff"] = b[list(cols)].sum(axis=1)
    v = paired_value(a, b.iloc[::-1], 0.0)
    assert v[VALUE].tolist() == [1.0, 2.0] and v[CUM].tolist() == [1.0, 3.0]


# ---------------------------------------------------------------------- dashboard


def test_dashboard_panel_draws_the_run_minus_its_meta_internal_twin():
    from openweight_sim.dashboard.figures import FIGURES, figure_png
    from openweight_sim.dashboard.market import DashboardMarket

    assert "meta-value" in FIGURES
    m = DashboardMarket(developers=300)
    empty = figure_png(m, "meta-value", False)
    assert empty.startswith(b"\x89PNG")
    for _ in range(6):
        m.step()
    png = figure_png(m, "meta-value", False)
    assert png.startswith(b"\x89PNG") and png != empty
    assert m.meta_internal is not None and m.meta_internal.steps == m.market.steps == 6
    twin = OpenWeightMarket(m.meta_internal_config, rng=m.seed).run_model(max_steps=6)
    pd.testing.assert_frame_equal(twin.quarters_frame(), m.meta_internal_frame())
    m.step()  # the twin follows the run in lockstep once shown
    assert m.meta_internal.steps == 7


# ---------------------------------------------------------------------- sweep evaluator


def test_sweep_evaluator_pairs_each_point_with_its_own_internal_twin(tmp_path):
    from openweight_sim.experiments import SweepSpec, run_sweep
    from openweight_sim.meta.sweep import MetaValueEvaluator

    constants = {**SMALL, "end": "2026Q4"}
    evaluator = MetaValueEvaluator(load_scenario("baseline", constants))
    assert evaluator.output_names()[-1] == "meta_review_estimate@2026Q3"
    spec = SweepSpec.model_validate(
        {
            "name": "meta_small",
            "scenario": "baseline",
            "constants": constants,
            "design": {"method": "lhs", "samples": 2, "seed": 1},
            "parameters": {"meta_payoff.leakage": [0.0, 0.6], "labs.meta.release_interval": [1, 4]},
            "replications": 1,
            "outputs": evaluator.output_names(),
        }
    )
    runs = run_sweep(spec, tmp_path / "s", evaluate=evaluator, progress=False)
    assert (runs["status"] == "ok").all() and len(runs) == 2
    row = runs.iloc[0]
    params = {"meta_payoff.leakage": row["meta_payoff.leakage"]}
    params["labs.meta.release_interval"] = round(row["labs.meta.release_interval"])
    sc = load_scenario("baseline", {**constants, **params})
    direct = evaluator(params, int(row["seed"]))
    a = OpenWeightMarket(sc, rng=int(row["seed"])).run_model().quarters_frame()
    b = OpenWeightMarket(meta_internal_scenario(sc), rng=int(row["seed"])).run_model()
    v = paired_value(
        a.assign(replication=0, seed=0),
        b.quarters_frame().assign(replication=0, seed=0),
        sc.meta_payoff.discount_rate,
    )
    assert direct[f"{VALUE}@final"] == pytest.approx(v[CUM].iloc[-1])
    assert runs.iloc[0][f"{VALUE}@final"] == pytest.approx(direct[f"{VALUE}@final"])
    later = v["quarter"] >= "2026Q3"
    forward = (v[VALUE] * v["discount"])[later].sum()
    assert direct["meta_value_forward@final"] == pytest.approx(forward)
    assert math.isfinite(direct["meta_review_estimate@2026Q3"])


def test_decisions_table_lists_each_runs_review_and_whether_it_was_acted_on():
    costly = {**SMALL, "meta_payoff.open_capex_share": 0.2}
    decides = meta_value("meta_decides", replications=2, seed=4, overrides=costly).decisions()
    assert decides["quarter"].tolist() == ["2026Q3", "2026Q3"]  # then Meta is closed
    assert decides["consolidates"].all() and decides["acted"].all()
    follows = meta_value("baseline", replications=2, seed=4, overrides=costly).decisions()
    assert follows["quarter"].tolist() == ["2026Q3", "2027Q3"] * 2
    assert follows["consolidates"].all() and not follows["acted"].any()


def test_an_api_meta_could_sell_is_a_cost_of_openness_only_when_switched_on():
    over = {**SMALL, "end": "2024Q4"}
    off = meta_value("baseline", replications=2, seed=6, overrides=over).value
    on = meta_value(
        "baseline", replications=2, seed=6, overrides={**over, "meta_payoff.api_capture": 0.1}
    ).value
    assert (off["meta_value_api"] == 0).all()
    assert (on["meta_value_api"] <= 0).all() and on["meta_value_api"].sum() < 0
    rest = [c for c in on.columns if c.startswith("meta_value_") and "api" not in c]
    rest = [c for c in rest if "openness" not in c]
    pd.testing.assert_frame_equal(on[rest], off[rest])  # the API changes nothing else

"""Property tests: any valid parameters give a well-formed market."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from openweight_sim import OpenWeightMarket

params = st.fixed_dictionaries(
    {
        "developers.count": st.integers(100, 400),
        "developers.price_sensitivity": st.floats(0.6, 3.0),
        "developers.quality_sensitivity": st.floats(0.3, 8.0),
        "developers.switching_cost": st.floats(0.0, 4.0),
        "developers.reoptimize_rate": st.floats(0.05, 1.0),
        "developers.cn_aversion": st.floats(0.0, 3.0),
        "developers.ecosystem_weight": st.floats(0.0, 1.0),
        "pricing.nest_sigma": st.floats(0.0, 0.95),
        "pricing.closed_conduct": st.floats(0.0, 1.0),
        "pricing.method": st.sampled_from(["nash", "adaptive"]),
        "technology.efficiency_growth": st.floats(0.0, 1.5),
        "technology.frontier_growth": st.floats(0.0, 60.0),
        "labs.meta.moe_leverage.frontier": st.floats(1.0, 30.0),
        "labs.meta.release_interval": st.integers(1, 8),
        "labs.deepseek.stochastic_cadence": st.booleans(),
    }
)


# Each example is a 12-quarter run (~1 s); shrinking would take minutes, so it is skipped.
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(kw=params, seed=st.integers(0, 2**31 - 1))
def test_market_well_formed(kw, seed):
    m = OpenWeightMarket("baseline", rng=seed, **{**kw, "end": "2025Q4"})
    for _ in range(12):
        m.step()
        dev = m.developers
        # tokens bought (developers) == tokens sold (options)
        book = m.book
        if book.no_equilibrium:  # no market outcome is reported for such a quarter
            assert np.isnan(book.total_tokens) and np.isnan(book.meta_net_payoff)
            continue
        assert book.total_tokens == pytest.approx(dev.tokens.sum() * dev.scale, rel=1e-12)
    full = m.quarters_frame()
    impossible = full["no_equilibrium"].to_numpy(dtype=bool)
    assert full.loc[impossible, ["price_closed", "share_open_tokens"]].isna().all().all()
    df = full[~impossible].reset_index(drop=True)
    shares = [c for c in df.columns if c.startswith("share_")]
    vals = df[shares].to_numpy(dtype=float)
    ok = ~np.isnan(vals)
    assert ((vals[ok] >= -1e-12) & (vals[ok] <= 1 + 1e-12)).all()
    lab_cols = [f"share_tokens_{k}" for k in m.config.labs]
    sums = df[lab_cols].sum(axis=1)
    assert np.allclose(sums[df["total_tokens"] > 0], 1.0)
    offers = m.offers_frame()
    api = offers[offers["kind"] != "self_host"]
    offers = offers[offers["quarter"].isin(df["quarter"])]
    assert (api["price"] >= api["marginal_cost"] * (1 - 1e-9)).all()
    assert (api["price"] <= m.config.pricing.price_cap * (1 + 1e-9)).all()
    num = df.select_dtypes("number").drop(columns=["price_gpt4_level", "price_open_hosted_70b"])
    later = num[df["quarter"] >= full["quarter"].iloc[2]]
    finite_cols = ["total_tokens", "meta_net_payoff", "consumer_surplus"]
    assert np.isfinite(later[finite_cols].to_numpy()).all()
    # a share exists exactly when tokens were sold (at the choke price nobody may buy)
    sold = later["total_tokens"] > 0
    assert np.isfinite(later.loc[sold, "share_open_tokens"]).all()
    assert later.loc[~sold, "share_open_tokens"].isna().all()
    # a mean price exists exactly when tokens of that kind were sold
    closed_tokens = offers[offers["kind"] == "closed_api"].groupby("quarter")["tokens_m"].sum()
    price_closed = df.set_index("quarter")["price_closed"].reindex(closed_tokens.index)
    assert np.isfinite(price_closed[closed_tokens > 0]).all()
    assert price_closed[closed_tokens == 0].isna().all()
    assert not np.isinf(num.to_numpy(dtype=float)).any()

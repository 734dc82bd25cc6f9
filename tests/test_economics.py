"""Economic sanity, same seeds: the mechanisms move outcomes the way economics says."""

from __future__ import annotations

import numpy as np

from openweight_sim import OpenWeightMarket

SEEDS = (1, 2, 3)
N = {"developers.count": 1500}


def frame(scenario: str, seed: int, **kw):
    m = OpenWeightMarket(scenario, rng=seed, **{**N, **kw}).run_model()
    return m


def test_no_open_weights_raises_closed_prices_and_margins_by_2026():
    for seed in SEEDS:
        b = frame("baseline", seed).quarters_frame().set_index("quarter")
        n = frame("no_open_weights", seed).quarters_frame().set_index("quarter")
        yr = [f"2026Q{i}" for i in range(1, 5)]
        assert n.loc[yr, "price_closed"].mean() > b.loc[yr, "price_closed"].mean(), seed
        assert n.loc[yr, "closed_gross_margin"].mean() > b.loc[yr, "closed_gross_margin"].mean()


def _meta_hosted_price(m, tier: str) -> float:
    o = m.offers_frame()
    o = o[(o["quarter"] >= "2025Q1") & (o["kind"] == "hosted") & (o["lab"] == "meta")]
    return float(o[o["tier"] == tier]["price"].median())


def test_higher_moe_leverage_lowers_hosted_open_prices():
    # Same capacity (total parameters), more leverage: fewer active parameters to serve.
    low = {"labs.meta.moe_leverage.frontier": 2, "labs.meta.moe_leverage.mid": 2}
    high = {"labs.meta.moe_leverage.frontier": 18, "labs.meta.moe_leverage.mid": 18}
    for seed in SEEDS[:2]:
        lo, hi = frame("baseline", seed, **low), frame("baseline", seed, **high)
        ratio = {
            t: _meta_hosted_price(hi, t) / _meta_hosted_price(lo, t)
            for t in ("frontier", "mid", "small")
        }
        # the tiers whose leverage changed get more than 2x cheaper to buy ...
        assert ratio["frontier"] < 0.5 and ratio["mid"] < 0.5, ratio
        # ... and more so than the small tier, which moves only through spill-overs
        assert max(ratio["frontier"], ratio["mid"]) < ratio["small"], ratio


def test_higher_origin_aversion_lowers_chinese_share():
    for seed in SEEDS[:2]:
        lo = frame("baseline", seed, **{"developers.cn_aversion": 0.5}).quarters_frame()
        hi = frame("baseline", seed, **{"developers.cn_aversion": 2.0}).quarters_frame()
        assert hi["share_open_tokens_cn"].mean() < lo["share_open_tokens_cn"].mean()


def test_open_weights_lower_gpt4_level_price():
    b = [frame("baseline", s).quarters_frame() for s in SEEDS[:2]]
    n = [frame("no_open_weights", s).quarters_frame() for s in SEEDS[:2]]
    late = slice(12, 20)  # 2026-2027
    assert np.mean([f["price_gpt4_level"].iloc[late].mean() for f in b]) < np.mean(
        [f["price_gpt4_level"].iloc[late].mean() for f in n]
    )

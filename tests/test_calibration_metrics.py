"""Report columns added for the calibration facts and the plausibility checks (issue 12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openweight_sim import OpenWeightMarket
from openweight_sim.columns import COLUMNS

SMALL = {"developers.count": 300, "end": "2024Q4"}
NEW = (
    "enterprise_open_spend_share",
    "top_release_token_share",
    "closed_frontier_spend_share",
    "enterprise_spend_share_google",
)


@pytest.fixture(scope="module")
def run() -> tuple[pd.DataFrame, pd.DataFrame]:
    m = OpenWeightMarket("baseline", rng=2, **SMALL)
    m.run_model()
    return m.quarters_frame(), m.offers_frame()


def test_new_columns_are_reported_and_catalogued(run):
    quarters, _ = run
    for name in NEW:
        assert name in quarters.columns, name
        assert name in COLUMNS and COLUMNS[name].is_share
        v = quarters[name].dropna()
        assert len(v) and v.between(0, 1).all(), name


def test_concentration_columns_match_the_offers_table(run):
    """Recomputed from the per-option table: a release's tokens add over all its options."""
    quarters, offers = run
    for q, g in offers.groupby("quarter"):
        row = quarters.set_index("quarter").loc[q]
        total = g["tokens_m"].sum()
        top = g.groupby("release")["tokens_m"].sum().max() / total
        assert row["top_release_token_share"] == pytest.approx(top, rel=1e-9)
        frontier = (g["kind"] == "closed_api") & (g["tier"] == "frontier")
        share = g.loc[frontier, "spend_usd"].sum() / g["spend_usd"].sum()
        assert row["closed_frontier_spend_share"] == pytest.approx(share, rel=1e-9, abs=1e-12)


def test_enterprise_open_spend_share_needs_an_enterprise_segment():
    over = {**SMALL, "developers.segments.enterprise.enterprise": False}
    m = OpenWeightMarket("baseline", rng=2, **over)
    m.run_model()
    assert np.isnan(m.quarters_frame()["enterprise_open_spend_share"]).all()

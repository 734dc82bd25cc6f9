"""Shared fixtures: small, fast model runs."""

from __future__ import annotations

import pytest

SMALL = {"developers.count": 800}


@pytest.fixture(scope="session")
def baseline_small():
    """One small baseline run (seed 1), shared by read-only tests."""
    from openweight_sim import OpenWeightMarket

    return OpenWeightMarket("baseline", rng=1, **SMALL).run_model()

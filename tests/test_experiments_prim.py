"""PRIM scenario discovery on synthetic cases where the true boxes are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openweight_sim.experiments.discovery import boxes_table, prim


@pytest.fixture(scope="module")
def x() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(rng.random((1000, 3)), columns=["a", "b", "c"])


def limits(box) -> dict:
    return {r.parameter: (r.low, r.high, r.restricted) for r in box.limits.itertuples()}


def test_finds_a_known_box(x):
    y = (x["a"] > 0.6) & (x["b"] < 0.4)
    box = prim(x, y)[0]
    lim = limits(box)
    assert set(lim) == {"a", "b"}  # c is irrelevant and left unrestricted
    assert lim["a"][2] == "low" and lim["a"][0] == pytest.approx(0.6, abs=0.03)
    assert lim["b"][2] == "high" and lim["b"][1] == pytest.approx(0.4, abs=0.03)
    assert box.coverage >= 0.95 and box.density >= 0.95
    assert box.mass == pytest.approx(y.mean(), abs=0.03)
    assert (box.limits["qp"] < 1e-6).all()
    traj = box.trajectory
    assert traj["coverage"].iloc[0] == 1.0 and traj["mass"].iloc[0] == 1.0
    assert traj["density"].iloc[0] == pytest.approx(y.mean())
    assert "a ≥ 0.6" in box.describe(digits=1) and "b ≤ 0.4" in box.describe(digits=1)


def test_covering_finds_two_disjoint_boxes(x):
    y = ((x["a"] > 0.7) & (x["b"] < 0.3)) | ((x["a"] < 0.2) & (x["c"] > 0.8))
    boxes = prim(x, y, max_boxes=3)
    assert len(boxes) >= 2
    found = [set(limits(b)) for b in boxes[:2]]
    assert {"a", "b"} in found and {"a", "c"} in found
    assert sum(b.coverage for b in boxes[:2]) > 0.9
    table = boxes_table(boxes)
    assert set(table["box"]) == set(range(1, len(boxes) + 1))


def test_noisy_outcome_still_points_at_the_driver(x):
    rng = np.random.default_rng(2)
    y = np.where(x["a"] > 0.5, rng.random(len(x)) < 0.9, rng.random(len(x)) < 0.1)
    box = prim(x, y)[0]
    assert set(limits(box)) == {"a"}
    assert limits(box)["a"][0] == pytest.approx(0.5, abs=0.05)
    assert box.density > 0.8


def test_outcome_everywhere_gives_the_whole_space(x):
    box = prim(x, np.ones(len(x), dtype=bool))[0]
    assert box.limits.empty and box.coverage == 1.0 and box.density == 1.0

"""Paired comparisons with common random numbers, and the compare command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from openweight_sim.cli import main
from openweight_sim.experiments.compare import (
    compare_scenarios,
    diff_interval,
    paired_runs,
    ratio_interval,
)
from openweight_sim.seeds import spawn_seeds

SMALL = {"developers.count": 300, "end": "2024Q4"}


def test_compare_with_itself_is_ratio_one_with_zero_width():
    t = compare_scenarios("baseline", "baseline", replications=3, seed=4, overrides=SMALL)
    assert set(t["quarter"]) == {"2023Q4", "2024Q4"}
    finite = t[np.isfinite(t["ratio"])]
    assert len(finite) >= 10
    assert (finite["ratio"] == 1.0).all()
    assert (finite["ratio_lo"] == 1.0).all() and (finite["ratio_hi"] == 1.0).all()
    assert (t["diff"] == 0).all() and (t["diff_lo"] == 0).all() and (t["diff_hi"] == 0).all()
    assert (t["n"] == 3).all()


def test_common_random_numbers_pair_the_seeds():
    qa, qb = paired_runs("baseline", "no_open_weights", 2, seed=9, overrides=SMALL)
    seeds = spawn_seeds(9, 2)
    for q in (qa, qb):
        assert list(q.groupby("replication")["seed"].first()) == seeds
    assert len(qa) == len(qb) == 2 * 8


def test_ratio_interval_is_exact_for_proportional_pairs_and_covers_the_truth():
    b = np.array([1.0, 2.0, 3.0, 4.0])
    assert ratio_interval(2 * b, b) == (2.0, 2.0, 2.0)
    rng = np.random.default_rng(0)
    bb = rng.uniform(1, 2, 400)
    aa = 0.5 * bb + rng.normal(0, 0.05, 400)
    r, lo, hi = ratio_interval(aa, bb)
    assert lo < r < hi and lo < 0.5 < hi and hi - lo < 0.02
    d, dlo, dhi = diff_interval(aa, bb)
    assert d == pytest.approx((aa - bb).mean()) and dlo < d < dhi
    assert np.isnan(ratio_interval(b, np.zeros(4))[0])


def test_compare_command_prints_the_thesis_first_and_writes_results(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "baseline", "no_open_weights", "--replications", "3", "--seed", "3"]
    args += ["--set", "developers.count=300", "--set", "end=2024Q4", "--out", str(out)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "paired runs" in lines[0] and "common random numbers" in lines[0]
    assert lines[2].startswith("In 2024Q4, the closed API price under baseline is ")
    assert "× that under no_open_weights (" in lines[2]
    assert lines[4] == "2024Q4, baseline (A) vs no_open_weights (B):"
    assert lines[5].lstrip().startswith("Closed API price")
    # the price effect per tier: its own rows in the thesis and columns in compare.csv
    assert "by tier frontier " in lines[2]
    tiers = [ln.strip() for ln in lines[6:9]]
    assert [t.split("  ")[0] for t in tiers] == [
        "Closed frontier price",
        "Closed mid price",
        "Closed small price",
    ]
    for name in ("compare.csv", "thesis.txt", "quarters_a.csv", "quarters_b.csv", "bands.csv"):
        assert (out / name).is_file(), name
    assert (out / "plots" / "fan_price_closed.png").is_file()
    t = pd.read_csv(out / "compare.csv")
    assert {"ratio", "ratio_lo", "ratio_hi", "diff", "diff_lo", "diff_hi"} <= set(t.columns)
    tiers = {f"price_closed_{tier}" for tier in ("frontier", "mid", "small")}
    assert tiers <= set(t["column"])
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seeds"]["run_seeds"] == spawn_seeds(3, 3)
    assert meta["scenario_b"]["name"] == "no_open_weights"


def test_compare_bad_quarter_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "baseline", "no_open_weights", "--quarters", "2031Q4", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --quarters: 2031Q4: not simulated by both scenarios (2023Q1–2027Q4)"]
    assert not out.exists()


def test_fieller_ratio_interval_coverage_and_positivity():
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(2000):
        b = rng.normal(10.0, 2.0, 6)
        a = 0.5 * b + rng.normal(0.0, 1.0, 6)
        r, lo, hi = ratio_interval(a, b)
        assert lo <= r <= hi
        hits += lo <= 0.5 <= hi
    assert 0.93 <= hits / 2000 <= 0.97  # nominal 95%
    # clearly positive numerator and denominator: the interval stays positive
    a = np.array([0.2, 0.3, 0.25, 0.35, 0.22])
    b = np.array([1.0, 1.1, 0.9, 1.2, 1.0])
    _, lo, _ = ratio_interval(a, b)
    assert lo > 0
    # a denominator not clearly different from zero gives an unbounded (NaN) interval
    _, lo, hi = ratio_interval(np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 1.0]))
    assert np.isnan(lo) and np.isnan(hi)

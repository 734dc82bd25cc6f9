"""Calibration and validation: facts, scorecard, loss, the two commands, history cut-off."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from openweight_sim.calibration.facts import (
    EXOGENOUS,
    IN_SAMPLE_END,
    IN_SAMPLE_START,
    MODEL_COLUMN,
    load_facts,
)
from openweight_sim.calibration.fit import (
    FREE_PARAMETERS,
    Z_CAP,
    FreeParameter,
    estimate_catch_up,
    loss,
    standardised_misses,
)
from openweight_sim.calibration.scorecard import SCORECARD_COLUMNS, scorecard, simulate
from openweight_sim.cli import main
from openweight_sim.releases import history_table
from openweight_sim.scenario import ScenarioError, load_scenario, quarter_index

TINY = {"developers.count": 150, "end": IN_SAMPLE_END}


@pytest.fixture(scope="module")
def facts() -> pd.DataFrame:
    return load_facts()


@pytest.fixture(scope="module")
def tiny_card(facts) -> pd.DataFrame:
    return scorecard(simulate("baseline", replications=2, seed=3, overrides=TINY), facts)


def test_facts_are_in_sample_and_mapped(facts):
    lo, hi = quarter_index(IN_SAMPLE_START), quarter_index(IN_SAMPLE_END)
    assert facts["period"].map(quarter_index).between(lo, hi).all()
    assert set(facts["metric"]) <= set(MODEL_COLUMN)
    assert ((facts["low"] <= facts["observed"]) & (facts["observed"] <= facts["high"])).all()
    assert facts["id"].is_unique
    assert (facts["source"].str.len() > 0).all()


def test_scorecard_columns_and_boolean_flag(tiny_card, facts):
    assert list(tiny_card.columns[: len(SCORECARD_COLUMNS)]) == SCORECARD_COLUMNS
    assert len(tiny_card) == len(facts)
    assert tiny_card["within_tolerance"].dtype == bool
    m = tiny_card["simulated_mean"]
    expected = m.notna() & (m >= tiny_card["low"]) & (m <= tiny_card["high"])
    assert (tiny_card["within_tolerance"] == expected).all()
    # The H100 rental price is the exogenous input: reproduced, and flagged in the note.
    gpu = tiny_card[tiny_card["metric"] == "h100_rental_usd_per_hour"]
    assert gpu["note"].str.contains("exogenous").all()


def test_scorecard_missing_value_is_a_miss(facts):
    quarters = ["2023Q4"]
    sim = pd.DataFrame({"quarter": quarters, "replication": [0], "seed": [1]})
    for col in set(MODEL_COLUMN.values()):
        sim[col] = np.nan
    sim["quality_gap"] = 163.0
    card = scorecard(sim, facts)
    row = card.set_index("id")
    assert bool(row.loc["F12", "within_tolerance"])
    assert not bool(row.loc["F02", "within_tolerance"])  # NaN simulated
    assert not card[card["period"] != "2023Q4"]["within_tolerance"].any()


def _card(observed, low, high, sim, log_scale, metric="price_gpt4_level"):
    return pd.DataFrame(
        {
            "metric": [metric] * len(sim),
            "observed": observed,
            "low": low,
            "high": high,
            "simulated_mean": sim,
            "log_scale": log_scale,
        }
    )


def test_standardised_miss_is_one_at_band_edges():
    card = _card(
        [10.0, 10.0, 10.0, 10.0, 0.5, 0.5],
        [5.0, 5.0, 5.0, 5.0, 0.42, 0.42],
        [20.0, 20.0, 20.0, 20.0, 0.58, 0.58],
        [10.0, 20.0, 5.0, np.nan, 0.58, 0.46],
        [True, True, True, True, False, False],
    )
    z = standardised_misses(card)
    assert z[0] == pytest.approx(0.0)
    assert z[1] == pytest.approx(1.0)
    assert z[2] == pytest.approx(1.0)
    assert z[3] == Z_CAP
    assert z[4] == pytest.approx(1.0)
    assert z[5] == pytest.approx(0.5)
    # Log scale: a factor 4 above a x/÷2 band is two tolerances.
    z4 = standardised_misses(_card([10.0], [5.0], [20.0], [40.0], [True]))
    assert z4[0] == pytest.approx(2.0)


def test_loss_ignores_exogenous_and_floors_edge_bands():
    card = _card([4.7, 0.89], [4.7, 0.54], [8.0, 0.90], [1.0, 0.89], [True, True])
    card.loc[0, "metric"] = next(iter(EXOGENOUS))
    assert loss(card) == pytest.approx(0.0)
    # The observed value sits on the band's upper edge: tolerance floored, z finite.
    z = standardised_misses(_card([0.89], [0.54], [0.90], [1.2], [True]))
    assert 1.0 < z[0] < Z_CAP


def test_free_parameters_exist_and_round_trip():
    sc = load_scenario("baseline").model_dump()
    for p in FREE_PARAMETERS:
        node = sc
        for k in p.path.split("."):
            node = node[k]
        assert isinstance(node, int | float), p.path
        for u in (0.0, 0.37, 1.0):
            assert p.to_unit(p.from_unit(u)) == pytest.approx(u, abs=1e-3)
    q = FreeParameter("x", 0.5, 8.0, log=True)
    assert q.from_unit(0.5) == pytest.approx(2.0)


def test_catch_up_estimate_from_history():
    est = estimate_catch_up(load_scenario("baseline")).set_index("lab")
    assert "meta" in est.index
    # Llama 2 70B, Llama 3 70B, Llama 3.1 405B against the closed frontier of their quarter.
    gains = np.array([1093 - 1040, 1206 - 1093, 1266 - 1206])
    gaps = np.array([1186 - 1040, 1285 - 1093, 1337 - 1206])
    expected = (gains * gaps).sum() / (gaps * gaps).sum()
    assert est.loc["meta", "estimate"] == pytest.approx(expected, abs=0.005)
    assert est["estimate"].between(0, 1).all()


def test_historical_table_ends_at_2024q4():
    table = history_table("releases_2023_2024")
    assert table["quarter_index"].max() == quarter_index("2024Q4")
    assert table["quarter_index"].min() >= quarter_index("2023Q1")
    assert (pd.to_datetime(table["date"]) <= "2024-12-31").all()
    assert load_scenario("baseline").history_until == "2024Q4"


def test_baseline_releases_from_2025_are_rule_generated(baseline_small):
    rel = baseline_small.releases_frame()
    late = rel["quarter"].map(quarter_index) > quarter_index("2024Q4")
    assert late.any() and (~late).any()
    assert not rel.loc[late, "historical"].any()
    assert rel.loc[~late, "historical"].all()


def test_validate_writes_scorecard_and_plot_exit_0(tmp_path, capsys):
    out = tmp_path / "val"
    code = main(
        [
            "validate",
            "baseline",
            "--replications",
            "2",
            "--seed",
            "1",
            "--set",
            "developers.count=150",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(
        r"\d+ of \d+ behavioural facts within tolerance \(\d+%\) "
        r"\(\d+ more hold by construction\)",
        printed[-1],
    )
    # The by-construction facts are marked in the printed table and counted apart.
    marked = [ln for ln in printed if "(by construction)" in ln]
    assert {ln.split()[0] for ln in marked} >= {"F11", "F16", "F30", "F32"}
    card = pd.read_csv(out / "scorecard.csv")
    assert list(card.columns[: len(SCORECARD_COLUMNS)]) == SCORECARD_COLUMNS
    assert card["within_tolerance"].dtype == bool
    assert card["by_construction"].dtype == bool
    built = set(card.loc[card["by_construction"], "metric"])
    assert built == {"h100_rental_usd_per_hour", "quality_gap"}
    assert not card["within_tolerance"].all()  # misses are reported, still exit 0
    n_within = int(card.loc[~card["by_construction"], "within_tolerance"].sum())
    n_behavioural = int((~card["by_construction"]).sum())
    assert printed[-1].startswith(f"{n_within} of {n_behavioural} behavioural facts")
    assert (out / "validation.png").stat().st_size > 10_000
    meta = json.loads((out / "metadata.json").read_text())
    assert (meta["within_tolerance"], meta["facts"]) == (n_within, n_behavioural)
    assert meta["by_construction"] == int(card["by_construction"].sum())


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "no_such_scenario"],
        ["validate", "baseline", "--set", "developers.price_sensitivity=-1"],
        ["validate", "baseline", "--replications", "0"],
        ["calibrate", "--set", "developers.nonsense=1"],
        ["calibrate", "--max-evals", "0"],
        ["calibrate", "--budget", "0"],
        ["calibrate", "--fresh-replications", "0"],
        ["calibrate", "--workers", "2"],
        ["calibrate", "--executor", "processes", "--scheduler-file", "x.json"],
        ["calibrate", "--scheduler-file", "no_such_scheduler.json"],
    ],
)
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, capsys, args):
    out = tmp_path / "out"
    code = main([*args, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_calibrate_quick_is_deterministic(tmp_path, capsys):
    def run(name: str) -> dict:
        out = tmp_path / name
        code = main(
            [
                "calibrate",
                "--max-evals",
                "3",
                "--replications",
                "1",
                "--seed",
                "5",
                "--set",
                "developers.count=120",
                "--out",
                str(out),
            ]
        )
        assert code == 0
        for f in ("fitted.yaml", "report.md", "trace.csv", "metadata.json"):
            assert (out / f).exists(), f
        trace = pd.read_csv(out / "trace.csv")
        assert len(trace) == 3
        return yaml.safe_load((out / "fitted.yaml").read_text())

    a, b = run("a"), run("b")
    capsys.readouterr()
    assert a == b
    assert set(a) >= {p.path for p in FREE_PARAMETERS}
    # Every fitted line carries its provenance, and the file works as overrides.
    text = (tmp_path / "a" / "fitted.yaml").read_text()
    assert all(
        "calibrated: openweight-sim calibrate" in ln
        for ln in text.splitlines()
        if ln and not ln.startswith("#")
    )
    sc = load_scenario("baseline", a)
    assert math.isclose(sc.developers.price_sensitivity, a["developers.price_sensitivity"])


def test_load_facts_rejects_out_of_sample(tmp_path):
    src = load_facts()
    bad = src.drop(columns=["column", "log_scale"]).copy()
    bad.loc[0, "period"] = "2025Q1"
    path = tmp_path / "facts.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(ScenarioError, match="outside the calibration window"):
        load_facts(path)

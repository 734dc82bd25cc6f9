"""The bundled baseline posterior: ``--posterior baseline``, its bands, the dashboard's range."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openweight_sim.bundled import bundled_posterior
from openweight_sim.posterior.bands import BAND_COLUMNS, projection_bands, read_bands
from openweight_sim.posterior.predictive import load_posterior, resolve_posterior
from openweight_sim.scenario import ScenarioError, get_dotted, load_scenario


@pytest.fixture(scope="module")
def bundled() -> Path:
    d = bundled_posterior("baseline")
    assert d is not None, "data/posterior/baseline is missing"
    return d


def test_bundled_posterior_is_the_posterior_of_the_shipped_baseline(bundled):
    """Same free parameters as the calibration, and its point is the shipped baseline's."""
    from openweight_sim.calibration.fit import FREE_PARAMETERS

    sample = load_posterior("baseline")
    assert list(sample.columns) == [*(p.path for p in FREE_PARAMETERS), "weight", "distance"]
    assert sample["weight"].sum() == pytest.approx(1.0)
    meta = json.loads((bundled / "metadata.json").read_text())
    # the whole scenario, not only the free parameters: any recalibration makes it stale
    assert meta["scenario"] == load_scenario("baseline").model_dump(mode="json")
    assert set(meta["overrides"]) <= {"developers.count", "end"}
    shrink = pd.read_csv(bundled / "shrinkage.csv")
    data = load_scenario("baseline").model_dump(mode="python")
    for row in shrink.itertuples():  # stale if the baseline was recalibrated since
        assert row.point == pytest.approx(float(get_dotted(data, row.parameter))), row.parameter


def test_an_existing_directory_wins_over_the_bundled_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_posterior("baseline") == bundled_posterior("baseline")
    (tmp_path / "baseline").mkdir()
    assert resolve_posterior("baseline") == Path("baseline")
    with pytest.raises(ScenarioError, match="is not a posterior results directory"):
        load_posterior("baseline")  # the user's own directory, which is not a posterior
    with pytest.raises(ScenarioError, match="nor a bundled posterior"):
        load_posterior("no_such_posterior")


def test_bands_bracket_their_means_and_agree_with_the_year_end_table(bundled):
    bands = read_bands(bundled)
    assert list(bands.columns) == BAND_COLUMNS
    ok = bands.dropna(subset=["mean"])
    assert (ok["lo"] <= ok["mean"] + 1e-12).all() and (ok["mean"] <= ok["hi"] + 1e-12).all()
    assert ok["share_parameters"].dropna().between(0, 1).all()
    quarters = set(bands["quarter"])
    assert {"2023Q1", "2024Q4", "2025Q1", "2027Q4"} <= quarters
    table = pd.read_csv(bundled / "projection.csv")  # the run's own year-end decomposition
    merged = table.merge(bands, on=["column", "quarter"], suffixes=("", "_band"))
    assert len(merged) == len(table)
    for c in ("mean", "lo", "hi", "share_parameters"):
        np.testing.assert_allclose(merged[c], merged[f"{c}_band"], rtol=1e-9, equal_nan=True)


def test_projection_bands_split_parameters_from_noise():
    """Draw means that differ and runs that agree within a draw: all variance is parameters."""
    rows = [
        {"draw": d, "replication": r, "quarter": q, "x": 10.0 * d + (0.0 if q == "A" else r)}
        for d in range(4)
        for r in range(3)
        for q in ("A", "B")
    ]
    bands = projection_bands(pd.DataFrame(rows), ["x", "missing"])
    assert list(bands["quarter"]) == ["A", "B"] and set(bands["column"]) == {"x"}
    a, b = bands.iloc[0], bands.iloc[1]
    assert a["share_parameters"] == pytest.approx(1.0) and a["mean"] == pytest.approx(15.0)
    assert 0 < b["share_parameters"] < 1 and b["hi"] > b["param_hi"]


def test_compare_accepts_the_bundled_posterior_by_name(tmp_path):
    out = tmp_path / "cmp"
    proc = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", "compare", "baseline", "no_open_weights",
         "--posterior", "baseline", "--draws", "2", "--replications", "2", "--set",
         "developers.count=200", "--quarters", "2025Q4", "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "of the variance from the parameters" in proc.stdout
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["posterior"] == "baseline"
    assert meta["posterior_dir"] == str(bundled_posterior("baseline").resolve())
    assert len(meta["posterior_sha256"]) == 64
    draws = pd.read_csv(out / "draws.csv")
    sample = load_posterior("baseline")
    for col in draws.columns.drop("draw"):  # every draw is a particle of the bundled sample
        assert draws[col].isin(sample[col]).all()


def test_dashboard_summary_shows_the_calibrated_range_for_the_baseline_only():
    from openweight_sim import app

    model = app.DashboardMarket(developers=300)
    model.step()
    text = app.summary_html(model, overlay=False)
    assert "Calibrated range, 95%" in text
    bands = read_bands(bundled_posterior("baseline"))
    row = bands[(bands["column"] == "price_closed") & (bands["quarter"] == "2023Q1")].iloc[0]
    fmt = {c: f for c, _, f in app.HEADLINES}["price_closed"]
    assert f"{fmt(row['lo'])}–{fmt(row['hi'])}" in text
    other = app.DashboardMarket(scenario_name="no_open_weights", developers=300)
    other.step()
    assert "Calibrated range" not in app.summary_html(other, overlay=False)

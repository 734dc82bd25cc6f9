"""CMA-ES calibration: seeds, search, bounds, re-scoring, executors, by-construction facts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from openweight_sim.calibration.facts import BY_CONSTRUCTION, load_facts
from openweight_sim.calibration.fit import FREE_PARAMETERS, fit, fit_seeds
from openweight_sim.calibration.scorecard import (
    construction_rate,
    format_scorecard,
    hit_rate,
    scorecard,
    summary_line,
)
from openweight_sim.calibration.search import cma_search, default_population
from openweight_sim.cli import main
from openweight_sim.scenario import get_dotted, load_scenario
from openweight_sim.seeds import spawn_seeds

TINY = {"developers.count": 100}
OPEN_CONSTANT = "developers.segments.enterprise.open_constant"


@pytest.fixture(scope="module")
def tiny_fit():
    return fit(
        "baseline",
        replications=2,
        seed=4,
        max_evals=13,
        overrides=TINY,
        fresh_replications=2,
    )


def test_fit_seeds_share_run_seeds_with_validate_and_spawn_the_rest():
    s = fit_seeds(7, 3, 6)
    assert s.runs == spawn_seeds(7, 3)  # the fit's runs are validate --seed 7's runs
    assert len(s.fresh) == 6 and not set(s.fresh) & set(s.runs)
    assert 0 <= s.sampler < 2**32
    assert fit_seeds(7, 3, 6) == s
    assert fit_seeds(8, 3, 6).sampler != s.sampler


def test_cma_search_minimises_a_known_function():
    """On a smooth bowl with its minimum inside the cube, CMA-ES gets close to it."""
    target = np.array([0.3, 0.7, 0.45])
    trace: list[tuple[np.ndarray, float]] = []
    budget = 300

    def objective(xs, phase, generation):
        out = []
        for x in xs:
            if len(trace) >= budget:
                out.append(None)
                continue
            value = float(np.sum((np.asarray(x) - target) ** 2))
            trace.append((np.asarray(x), value))
            out.append(value)
        return out

    x0 = np.array([0.9, 0.1, 0.9])
    cma_search(
        objective,
        x0,
        seed=3,
        best_point=lambda: min(trace, key=lambda t: t[1])[0],
        evaluations=lambda: len(trace),
    )
    best_x, best = min(trace, key=lambda t: t[1])
    assert len(trace) == budget
    assert best < 1e-4 < float(np.sum((x0 - target) ** 2))
    assert np.allclose(best_x, target, atol=0.02)
    assert all(((x >= 0.0) & (x <= 1.0)).all() for x, _ in trace)


def test_start_is_the_first_trial_and_every_point_respects_the_bounds(tiny_fit):
    r = tiny_fit
    trace = r.trace
    assert len(trace) == 13 == r.settings["evaluations"]
    first = trace.iloc[0]
    assert first["phase"] == "start" and first["generation"] == -1
    for p in FREE_PARAMETERS:
        assert first[p.path] == pytest.approx(r.start[p.path])
        assert trace[p.path].between(p.low, p.high).all(), p.path
    # The scenario's own values, moved into the bounds, are the start.
    sc = load_scenario("baseline").model_dump()
    assert r.settings["scenario_values"][OPEN_CONSTANT] == pytest.approx(
        get_dotted(sc, OPEN_CONSTANT), rel=1e-3
    )
    assert r.start[OPEN_CONSTANT] == pytest.approx(min(get_dotted(sc, OPEN_CONSTANT), 0.0))
    # Generations: the population is asked and evaluated as one batch.
    pop = default_population(len(FREE_PARAMETERS))
    assert (trace["generation"].iloc[1 : 1 + pop] == 0).all()
    assert trace["generation"].is_monotonic_increasing
    # The best point is the trace's minimum, never worse than the start.
    assert r.fitted_loss == pytest.approx(trace["loss"].min())
    assert r.fitted_loss <= r.start_loss
    assert r.fitted == {p.path: trace.loc[trace["loss"].idxmin(), p.path] for p in FREE_PARAMETERS}


def test_enterprise_open_constant_cannot_be_positive():
    p = next(p for p in FREE_PARAMETERS if p.path == OPEN_CONSTANT)
    assert p.high <= 0.0
    assert p.clamp(1.277) == 0.0 and p.from_unit(1.0) <= 0.0


def test_best_point_is_rescored_on_fresh_seeds(tiny_fit):
    r = tiny_fit
    assert np.isfinite([r.fresh_start_loss, r.fresh_loss]).all()
    assert set(r.cards) == {"start", "fitted", "fresh_start", "fresh_fitted"}
    facts = load_facts()
    for card in r.cards.values():
        assert list(card["id"]) == list(facts["id"])
    # Fresh seeds really are other runs: their simulated means differ from the fit's.
    diff = r.cards["fresh_fitted"]["simulated_mean"] - r.cards["fitted"]["simulated_mean"]
    assert (diff.abs() > 0).any()
    assert r.settings["fresh_seeds"] == fit_seeds(4, 2, 2).fresh


def _calibrate(tmp_path, name, *extra):
    out = tmp_path / name
    code = main(
        [
            "calibrate",
            "--budget",
            "12",
            "--replications",
            "2",
            "--fresh-replications",
            "1",
            "--seed",
            "9",
            "--set",
            "developers.count=100",
            "--out",
            str(out),
            *extra,
        ]
    )
    assert code == 0
    return out


def test_calibrate_same_trace_serial_and_two_processes(tmp_path, capsys):
    serial = _calibrate(tmp_path, "serial")
    procs = _calibrate(tmp_path, "procs", "--executor", "processes", "--workers", "2")
    printed = capsys.readouterr().out
    assert "(fresh seeds)" in printed and "behavioural facts" in printed
    a = pd.read_csv(serial / "trace.csv").drop(columns="seconds")
    b = pd.read_csv(procs / "trace.csv").drop(columns="seconds")
    assert len(a) == 12
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert yaml.safe_load((serial / "fitted.yaml").read_text()) == yaml.safe_load(
        (procs / "fitted.yaml").read_text()
    )
    meta_a = json.loads((serial / "metadata.json").read_text())
    meta_b = json.loads((procs / "metadata.json").read_text())
    assert meta_a["fresh_loss"] == meta_b["fresh_loss"]
    assert meta_b["settings"]["executor"] == "processes"
    fresh = pd.read_csv(procs / "scorecard_fresh.csv")
    assert fresh["by_construction"].dtype == bool
    report = (procs / "report.md").read_text()
    assert "CMA-ES" in report and "fresh seeds" in report


def test_summary_counts_behavioural_facts_and_marks_construction():
    facts = load_facts()
    sim = pd.DataFrame({"quarter": sorted(set(facts["period"]))})
    sim["replication"], sim["seed"] = 0, 1
    for col in set(facts["column"]):
        sim[col] = np.nan
    # Every by-construction fact at its observed value; every behavioural one missing.
    for f in facts[facts["by_construction"]].itertuples():
        sim.loc[sim["quarter"] == f.period, f.column] = f.observed
    card = scorecard(sim, facts)
    built = facts["metric"].isin(BY_CONSTRUCTION)
    assert (card["by_construction"] == built).all()
    assert hit_rate(card) == (0, int((~built).sum()))
    assert construction_rate(card) == (int(built.sum()), int(built.sum()))
    assert summary_line(card) == (
        f"0 of {int((~built).sum())} behavioural facts within tolerance (0%) "
        f"({int(built.sum())} more hold by construction)"
    )
    table = format_scorecard(card).splitlines()
    marked = {ln.split()[0] for ln in table if "(by construction)" in ln}
    assert marked == set(facts.loc[built, "id"])
    # A by-construction fact that misses (a broken input) is said so.
    card.loc[card["by_construction"].idxmax(), "within_tolerance"] = False
    assert "1 by-construction fact(s) missed" in summary_line(card)

"""The one run path: replications on any executor, the column catalogue, the counterfactual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from openweight_sim import columns
from openweight_sim.cli.run import summary_table
from openweight_sim.counterfactual import counterfactual_scenario
from openweight_sim.experiments.spec import SweepSpec
from openweight_sim.experiments.sweep import run_sweep
from openweight_sim.plots import PLOTS, plot_run, price_plot
from openweight_sim.runs import run_one, run_replications
from openweight_sim.scenario import load_scenario
from openweight_sim.seeds import spawn_seeds

TINY = {"developers.count": 300, "end": "2023Q4"}
TINY_SET = ["--set", "developers.count=300", "--set", "end=2023Q4"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


@pytest.fixture(scope="module")
def serial():
    sa = load_scenario("baseline", TINY)
    sb = load_scenario("no_open_weights", TINY)
    return run_replications([sa, sb], 3, seed=4, tables=True)


# --------------------------------------------------------------------------- replications


def test_replications_record_seeds_spawned_from_one_root(serial):
    seeds = spawn_seeds(4, 3)
    for reps in serial:
        assert reps.seeds == seeds and reps.seeds_record() == {
            "root": 4,
            "replications": 3,
            "run_seeds": seeds,
        }
        q = reps.quarters
        assert list(q["replication"].unique()) == [0, 1, 2]
        assert list(q.groupby("replication")["seed"].first()) == seeds
        assert set(reps.tables) == {"labs", "hosts", "offers", "releases", "demand"}
    # replication r of both scenarios uses the same seed (common random numbers)
    assert (serial[0].quarters["seed"] == serial[1].quarters["seed"]).all()
    # a replication is exactly the single run of its scenario and seed
    one = run_one(serial[0].scenario, seeds[1])
    got = serial[0].quarters.query("replication == 1").drop(columns=["replication", "seed"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), one, check_exact=True)


def test_processes_executor_gives_identical_replications(serial):
    sa, sb = serial[0].scenario, serial[1].scenario
    got = run_replications([sa, sb], 3, seed=4, executor="processes", workers=2, tables=True)
    for a, b in zip(got, serial, strict=True):
        pd.testing.assert_frame_equal(a.quarters, b.quarters, check_exact=True)
        for name in b.tables:
            pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)


def test_explicit_seeds_are_used_as_given(serial):
    seeds = spawn_seeds(4, 3)[1:]
    (reps,) = run_replications([serial[0].scenario], seeds=seeds)
    assert reps.root is None and reps.seeds == seeds
    expect = serial[0].quarters.query("replication > 0")["price_closed"].to_numpy()
    assert (reps.quarters["price_closed"].to_numpy() == expect).all()


@pytest.mark.slow  # process pools / paired CLI runs: make test only
def test_validate_on_processes_prints_and_writes_the_same_scorecard(tmp_path):
    ser = cli("validate", *TINY_SET, "--replications", "2", "--out", "ser", cwd=tmp_path)
    par = cli(
        "validate", *TINY_SET, "--replications", "2", "--out", "par", "--executor", "processes",
        "--workers", "2", cwd=tmp_path,
    )  # fmt: skip
    assert ser.returncode == 0 and par.returncode == 0, ser.stderr + par.stderr
    assert ser.stdout.replace("ser/", "X/") == par.stdout.replace("par/", "X/")
    a = (tmp_path / "ser" / "scorecard.csv").read_bytes()
    assert a == (tmp_path / "par" / "scorecard.csv").read_bytes()
    bad = cli("validate", *TINY_SET, "--workers", "0", "--out", "bad", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "error: openweight-sim validate: argument --workers: must be an integer from 1 to "
        "1,024 (got 0)"
    )
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow  # process pools / paired CLI runs: make test only
def test_run_on_processes_writes_the_same_tables(tmp_path):
    args = ["run", "baseline", *TINY_SET, "--replications", "2"]
    ser = cli(*args, "--out", "ser", cwd=tmp_path)
    par = cli(*args, "--out", "par", "--executor", "processes", "--workers", "2", cwd=tmp_path)
    assert ser.returncode == 0 and par.returncode == 0, ser.stderr + par.stderr
    for name in ("quarters", "bands", "labs", "hosts", "offers", "releases"):
        a = (tmp_path / "ser" / f"{name}.csv").read_bytes()
        assert a == (tmp_path / "par" / f"{name}.csv").read_bytes(), name
    lines = [ln for ln in ser.stdout.splitlines() if " run(s) of " not in ln]
    assert lines == [
        ln.replace("par/", "ser/") for ln in par.stdout.splitlines() if " run(s) of " not in ln
    ]


# --------------------------------------------------------------------------- columns


def test_every_catalogued_column_is_a_column_of_a_run(serial):
    q = serial[0].quarters
    missing = [c for c in columns.COLUMNS if c not in q.columns]
    assert not missing
    for selection in (columns.SUMMARY, columns.KEY, columns.FANS):
        assert set(selection) <= set(columns.COLUMNS)


def test_summary_table_uses_the_catalogue_labels_units_and_scale(serial):
    first = serial[0].first
    lines = summary_table(first).splitlines()
    assert [line[:28].rstrip() for line in lines[1:]] == [
        columns.COLUMNS[c].heading for c in columns.SUMMARY
    ]
    assert "Closed API price (USD/M)" in lines[1] and lines[4].startswith("Open share of tokens ")
    payoff = next(line for line in lines if line.startswith("Meta net payoff (USD bn/q)"))
    assert payoff.split()[-1] == f"{first['meta_net_payoff'].iloc[-1] * 1e-9:.3g}"
    share = next(line for line in lines if line.startswith("Open share of tokens"))
    assert share.split()[-1] == f"{first['share_open_tokens'].iloc[-1]:.1%}"


# --------------------------------------------------------------------------- counterfactual


@pytest.mark.slow  # process pools / paired CLI runs: make test only
def test_compare_without_b_compares_with_the_counterfactual(tmp_path):
    args = [*TINY_SET, "--replications", "2", "--seed", "1"]
    cf = cli("compare", "baseline", *args, "--out", "cf", cwd=tmp_path)
    named = cli("compare", "baseline", "no_open_weights", *args, "--out", "named", cwd=tmp_path)
    assert cf.returncode == 0 and named.returncode == 0, cf.stderr + named.stderr
    a = pd.read_csv(tmp_path / "cf" / "compare.csv")
    b = pd.read_csv(tmp_path / "named" / "compare.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert "baseline (A) vs baseline_no_open_weights (B)" in cf.stdout


def test_sweep_counterfactual_closed_is_the_scenario_without_open_weights(tmp_path):
    spec = {
        "scenario": "baseline",
        "constants": TINY,
        "design": {"method": "grid"},
        "parameters": {"developers.switching_cost": [0.5, 2.0]},
        "outputs": ["price_closed/cf@2023Q4", "share_open_tokens@final"],
    }
    closed = run_sweep(
        SweepSpec.model_validate({**spec, "counterfactual": "closed"}),
        tmp_path / "a",
        progress=False,
    )
    named = run_sweep(
        SweepSpec.model_validate({**spec, "counterfactual": "no_open_weights"}),
        tmp_path / "b",
        progress=False,
    )
    outs = spec["outputs"]
    pd.testing.assert_frame_equal(closed[outs], named[outs], check_exact=True)
    assert closed["price_closed/cf@2023Q4"].notna().all()


def test_counterfactual_closes_every_lab_and_keeps_the_rest():
    race = load_scenario("capability_race")
    cf = counterfactual_scenario(race)
    assert cf.name == "capability_race_no_open_weights"
    assert all(lab.policy == "closed" and not lab.open_history for lab in cf.labs.values())
    assert cf.technology == race.technology and cf.developers == race.developers


# --------------------------------------------------------------------------- plots


def _dashed(fig) -> list:
    return [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_linestyle() == "--"]


def test_plots_draw_an_overlay_run_dashed_and_replications_as_a_band(serial, tmp_path):
    base, cf = serial[0].first, serial[1].first
    plain = price_plot(base)
    one = price_plot(base, overlay=cf, overlay_label="counterfactual")
    assert len(_dashed(one)) > len(_dashed(plain))
    labels = [t.get_text() for t in one.axes[0].get_legend().get_texts()]
    assert "Closed API price, counterfactual" in labels
    bands = price_plot(base, overlay=serial[1].quarters)
    assert len([c for c in bands.axes[0].collections if isinstance(c, PolyCollection)]) >= 1
    paths = plot_run(base, tmp_path / "plots", "baseline", overlay=cf)
    assert len(paths) == len(PLOTS) and all(p.stat().st_size > 0 for p in paths)


# --------------------------------------------------------------------------- cli package


def test_cli_command_modules_never_import_the_cli_package():
    pkg = Path(__import__("openweight_sim.cli", fromlist=["x"]).__file__).parent
    for path in sorted(pkg.glob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = {a.name for a in node.names}
                assert node.module != "openweight_sim.cli", path.name
                assert not (node.module == "openweight_sim" and "cli" in names), path.name


def test_python_dash_m_cli_runs(tmp_path):
    r = cli("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("openweight-sim ")

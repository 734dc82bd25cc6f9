"""``openweight-sim meta SCENARIO --posterior DIR``, as a user runs it.

The posterior directories are written by hand (a marker of kind ``posterior`` and a
``posterior.parquet`` of particles at the baseline's values, with one parameter moved), so
that the draws, and hence the expected answers, are known.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_errors import one_line_error
from openweight_sim.meta import CHANNELS
from openweight_sim.outdir import MARKER, write_marker

CLI = [sys.executable, "-m", "openweight_sim.cli"]
SMALL = {"developers.count": 300, "end": "2024Q4", "meta_payoff.review_from": "2024Q1"}
"""Small runs that still reach Meta's first review (2024Q3)."""
SETS = [a for k, v in SMALL.items() for a in ("--set", f"{k}={v}")]
MOVED = "developers.price_sensitivity"
"""The parameter the hand-written posteriors move."""
QUANTITIES = ["openness", *CHANNELS, "forward"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def write_posterior(directory: Path, moved: list[float], weights: list[float]) -> Path:
    """A posterior directory: particles at the baseline's free parameters, ``MOVED`` varied."""
    from openweight_sim.calibration.fit import FREE_PARAMETERS
    from openweight_sim.scenario import load_scenario

    dumped = load_scenario("baseline").model_dump()

    def value(path: str) -> float:
        v = dumped
        for key in path.split("."):
            v = v[key]
        return float(v)

    rows = [
        {p.path: (m if p.path == MOVED else value(p.path)) for p in FREE_PARAMETERS}
        | {"weight": w, "distance": 0.0}
        for m, w in zip(moved, weights, strict=True)
    ]
    directory.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(directory / "posterior.parquet")
    write_marker(directory, "posterior")
    return directory


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    """A three-particle posterior and the serial ``meta --posterior`` run on it."""
    root = tmp_path_factory.mktemp("metapost")
    post = write_posterior(root / "post", [1.2, 1.8, 3.0], [0.3, 0.3, 0.4])
    out = root / "serial"
    res = cli(
        "meta", "baseline", "--posterior", str(post), "--draws", "3", "--replications", "2",
        *SETS, "--out", str(out), cwd=root,
    )  # fmt: skip
    return root, post, out, res


def test_meta_posterior_writes_the_split_and_its_identities_hold(varied):
    _, post, out, res = varied
    assert res.returncode == 0, res.stderr
    assert "Value of openness:" in res.stdout and "bn USD" in res.stdout
    assert "of the variance from the parameters" in res.stdout
    assert "from run-to-run noise" in res.stdout
    assert "from Meta's first review (2024Q3) on:" in res.stdout
    for c in CHANNELS:  # one line per channel
        assert any(line.startswith(c) for line in res.stdout.splitlines()), c
    assert json.loads((out / MARKER).read_text())["kind"] == "meta"
    for name in ("predictive", "draws", "values", "meta_value"):
        assert (out / f"{name}.csv").exists(), name
    assert (out / "plots" / "value_posterior.png").stat().st_size > 10_000

    table = pd.read_csv(out / "predictive.csv").set_index("channel")
    assert list(table.index) == QUANTITIES
    assert (table["draws"] == 3).all() and (table["replications"] == 2).all()
    assert table.loc["forward", "from"] == "2024Q3" and table.loc["openness", "from"] == "2023Q1"
    tot = table.loc["openness"]
    assert tot["var_between"] + tot["var_within"] > 0
    assert tot["lo"] <= tot["mean"] <= tot["hi"] and tot["param_lo"] <= tot["param_hi"]
    shares = table["share_parameters"].dropna()
    assert len(shares) >= 2 and shares.between(0.0, 1.0).all()
    assert table.loc[list(CHANNELS), "mean"].sum() == pytest.approx(tot["mean"], rel=1e-9)

    values = pd.read_csv(out / "values.csv")
    assert len(values) == 3 * 2 and list(values.columns[:3]) == ["draw", "replication", "seed"]
    assert values.groupby("replication")["seed"].nunique().eq(1).all()  # common random numbers
    assert values["openness"].mean() == pytest.approx(tot["mean"], rel=1e-12)
    channel_sum = values[list(CHANNELS)].sum(axis=1)
    assert np.allclose(channel_sum, values["openness"], rtol=1e-9, atol=1.0)

    draws = pd.read_csv(out / "draws.csv")
    sample = pd.read_parquet(post / "posterior.parquet")
    assert set(draws[MOVED]) <= set(sample[MOVED])  # every draw is a particle
    # the drawn parameters reach the runs: draws at different values differ, run by run
    by_draw = values.set_index(["draw", "replication"])["moat"].unstack("replication")
    moved = draws.set_index("draw")[MOVED]
    assert moved.nunique() > 1  # seed 0 draws distinct particles (deterministic)
    a, b = moved.idxmin(), moved.idxmax()
    assert not np.allclose(by_draw.loc[a], by_draw.loc[b])
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["posterior"] == str(post) and len(meta["draws"]) == 3
    assert meta["posterior_dir"] == str(post.resolve())
    assert meta["seeds"]["root"] == 0 and len(meta["seeds"]["run_seeds"]) == 2
    assert meta["internal"]["labs"]["meta"]["open_history"] is False


def test_meta_posterior_processes_executor_gives_identical_values(varied):
    root, post, serial, res = varied
    assert res.returncode == 0, res.stderr
    out = root / "processes"
    par = cli(
        "meta", "baseline", "--posterior", str(post), "--draws", "3", "--replications", "2",
        *SETS, "--executor", "processes", "--workers", "2", "--out", str(out), cwd=root,
    )  # fmt: skip
    assert par.returncode == 0, par.stderr
    for name in ("values.csv", "predictive.csv", "draws.csv"):
        assert (out / name).read_bytes() == (serial / name).read_bytes(), name


def test_a_posterior_of_one_point_has_no_parameter_variance_and_equals_meta_value(tmp_path):
    from openweight_sim.meta.value import meta_value

    point = 2.5  # not the baseline's value: the draws must carry it into the runs
    post = write_posterior(tmp_path / "post", [point] * 4, [0.25] * 4)
    out = tmp_path / "m"
    res = cli(
        "meta", "baseline", "--posterior", str(post), "--draws", "2", "--replications", "2",
        *SETS, "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(out / "predictive.csv").set_index("channel")
    assert (table["var_between"] == 0).all()
    assert table.loc["openness", "var_within"] > 0
    assert table.loc["openness", "share_parameters"] == 0.0
    assert "0% of the variance from the parameters, 100% from run-to-run noise" in res.stdout
    assert "the draw means vary no more than the runs' draw-specific noise explains" in res.stdout

    direct = meta_value("baseline", 2, 0, overrides={**SMALL, MOVED: point}).per_run()
    values = pd.read_csv(out / "values.csv")
    for d in (0, 1):  # every draw repeats meta_value at the point, run by run
        got = values[values["draw"] == d].reset_index(drop=True)
        assert got["seed"].tolist() == direct["seed"].tolist()
        for q in QUANTITIES:
            assert np.allclose(got[q], direct[q], rtol=1e-12, atol=0.0), q


def test_meta_accepts_the_bundled_baseline_posterior(tmp_path):
    from openweight_sim.bundled import bundled_posterior

    out = tmp_path / "m"
    res = cli(
        "meta", "baseline", "--posterior", "baseline", "--draws", "2", "--replications", "2",
        *SETS, "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    draws = pd.read_csv(out / "draws.csv")
    sample = pd.read_parquet(bundled_posterior("baseline") / "posterior.parquet")
    for col in draws.columns.drop("draw"):  # every draw is a particle of the bundled sample
        assert set(draws[col]) <= set(sample[col]), col
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["posterior"] == "baseline"
    assert meta["posterior_dir"] == str(bundled_posterior("baseline").resolve())


def test_meta_posterior_is_exported_from_the_package():
    import openweight_sim
    import openweight_sim.meta
    from openweight_sim.meta.predictive import MetaValuePosterior, meta_value_posterior

    assert openweight_sim.meta_value_posterior is meta_value_posterior
    assert openweight_sim.meta.meta_value_posterior is meta_value_posterior
    assert openweight_sim.MetaValuePosterior is MetaValuePosterior
    assert "meta_value_posterior" in openweight_sim.__all__


def test_meta_posterior_bad_input_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "m"
    one_line_error(
        cli("meta", "baseline", "--draws", "3", cwd=tmp_path), "--draws needs --posterior"
    )
    missing = tmp_path / "nope"
    one_line_error(
        cli("meta", "baseline", "--posterior", str(missing), "--replications", "2", "--out",
            str(out), cwd=tmp_path),
        "--posterior", "no such directory",
    )  # fmt: skip
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    one_line_error(
        cli("meta", "baseline", "--posterior", str(mine), "--replications", "2", "--out",
            str(out), cwd=tmp_path),
        "not a posterior results directory",
    )  # fmt: skip
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "posterior.parquet").write_text("not parquet")
    write_marker(broken, "posterior")
    one_line_error(
        cli("meta", "baseline", "--posterior", str(broken), "--replications", "2", "--out",
            str(out), cwd=tmp_path),
        "posterior.parquet", "unreadable",
    )  # fmt: skip
    post = write_posterior(tmp_path / "post", [1.8], [1.0])
    one_line_error(
        cli("meta", "baseline", "--posterior", str(post), "--replications", "1", "--out",
            str(out), cwd=tmp_path),
        "--replications",
    )  # fmt: skip
    assert not out.exists() and not (tmp_path / "results").exists()
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "mine", "post"]

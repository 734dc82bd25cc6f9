"""``openweight-sim posterior`` and ``--posterior DIR`` of compare and run, as a user runs them."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_errors import one_line_error

TINY = [
    "--population", "8", "--generations", "2", "--check", "4", "--draws", "2",
    "--draw-replications", "2", "--set", "developers.count=300",
]  # fmt: skip


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=900,
    )


@pytest.fixture(scope="module")
def posterior_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("post") / "post"
    proc = cli("posterior", "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    return out


def test_posterior_writes_a_complete_results_directory(posterior_dir):
    from openweight_sim.calibration.fit import FREE_PARAMETERS
    from openweight_sim.outdir import results_kind

    out = posterior_dir
    assert results_kind(out) == "posterior"
    sample = pd.read_parquet(out / "posterior.parquet")
    assert list(sample.columns) == [*(p.path for p in FREE_PARAMETERS), "weight", "distance"]
    assert len(sample) == 8 and sample["weight"].sum() == pytest.approx(1.0)
    for p in FREE_PARAMETERS:  # every particle inside its prior's support
        assert sample[p.path].between(p.low, p.high).all()
    gens = pd.read_csv(out / "generations.csv")
    assert list(gens["t"]) == [0, 1] and (gens["ess"] > 0).all()
    shrink = pd.read_csv(out / "shrinkage.csv")
    assert list(shrink["parameter"]) == [p.path for p in FREE_PARAMETERS]
    check = pd.read_csv(out / "fact_check.csv")
    assert check["hit_posterior"].between(0, 1).all() and check["hit_point"].between(0, 1).all()
    report = (out / "report.md").read_text()
    for words in ("effective sample size", "Shrinkage", "Per-fact hit rates", "log-uniform"):
        assert words in report
    for name in ("marginals", "pairs", "hit_rates", "projection_price_closed"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 10_000
    proj = pd.read_csv(out / "projection.csv")
    assert {"2025Q4", "2026Q4", "2027Q4"} <= set(proj["quarter"])
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["settings"]["population"] == 8 and meta["priors"][0]["kind"] == "loguniform"
    assert not any(p.name.endswith("posterior-checkpoint") for p in out.parent.iterdir())


def test_compare_with_posterior_prints_the_variance_split(posterior_dir, tmp_path):
    out = tmp_path / "cmp"
    proc = cli(
        "compare", "baseline", "no_open_weights", "--posterior", str(posterior_dir),
        "--draws", "3", "--replications", "2", "--set", "developers.count=300",
        "--quarters", "2025Q4,2027Q4", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "of the variance from the parameters" in proc.stdout
    assert "95% predictive interval" in proc.stdout
    table = pd.read_csv(out / "predictive.csv")
    row = table[(table["column"] == "price_closed") & (table["quarter"] == "2027Q4")].iloc[0]
    assert row["kind"] == "ratio" and row["draws"] == 3
    assert row["lo"] <= row["mean"] <= row["hi"]
    assert 0.0 <= row["share_parameters"] <= 1.0
    qa = pd.read_csv(out / "quarters_a.csv")
    assert sorted(qa["draw"].unique()) == [0, 1, 2]
    # common random numbers: every draw's replication r used the same seed
    assert qa.groupby("replication")["seed"].nunique().eq(1).all()


def test_run_with_posterior_reports_levels_with_both_uncertainties(posterior_dir, tmp_path):
    out = tmp_path / "run"
    proc = cli(
        "run", "baseline", "--posterior", str(posterior_dir), "--draws", "2",
        "--replications", "2", "--set", "developers.count=300", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "variance from parameters" in proc.stdout
    table = pd.read_csv(out / "predictive.csv")
    assert set(table["kind"]) == {"level"} and "2027Q4" in set(table["quarter"])
    draws = pd.read_csv(out / "draws.csv")
    sample = pd.read_parquet(posterior_dir / "posterior.parquet")
    for col in draws.columns.drop("draw"):  # every draw is a particle of the posterior
        assert set(draws[col]) <= set(sample[col])


def test_posterior_argument_errors_are_one_line(tmp_path, posterior_dir):
    one_line_error(cli("posterior", "--population", "0"))
    one_line_error(cli("compare", "baseline", "--posterior", str(tmp_path / "nope")))
    msg = one_line_error(
        cli(
            "run",
            "baseline",
            "--posterior",
            str(posterior_dir.parent),
            "--replications",
            "2",
        )
    )
    assert "not a posterior results directory" in msg
    assert "--draws needs --posterior" in one_line_error(cli("run", "baseline", "--draws", "3"))
    msg = one_line_error(cli("run", "baseline", "--posterior", str(posterior_dir)))
    assert "--replications >= 2" in msg
    for bad in ("0", "-1"):
        args = ("--posterior", str(posterior_dir), "--replications", "2", "--draws", bad)
        msg = one_line_error(cli("compare", "baseline", *args))
        assert "--draws: must be an integer from 2" in msg
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    msg = one_line_error(cli("posterior", "--out", str(mine), *TINY))
    assert "not an openweight-sim results directory" in msg
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    msg = one_line_error(cli("posterior", "--out", str(tmp_path / "p"), "--resume", *TINY))
    assert "no checkpoint to resume" in msg
    assert not (tmp_path / "p").exists()


def _max_generation(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as con:
            row = con.execute("select max(t) from populations").fetchone()
    except sqlite3.Error:
        return -2
    return -2 if row[0] is None else int(row[0])


def _start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "openweight_sim.cli", "posterior", "--out", str(out),
         *TINY[:2], "--generations", "4", *TINY[4:], *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def _wait_for_generation(proc: subprocess.Popen, db: Path, t: int) -> None:
    deadline = time.monotonic() + 300
    while _max_generation(db) < t:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.mark.slow
def test_interrupted_and_killed_runs_resume_to_the_uninterrupted_posterior(tmp_path):
    full = tmp_path / "full"
    proc = _start(full)
    assert proc.wait(timeout=900) == 0, proc.stderr.read().decode()

    out = tmp_path / "stopped"
    db = tmp_path / ".stopped.posterior-checkpoint" / "history.db"
    proc = _start(out)
    _wait_for_generation(proc, db, 0)
    proc.send_signal(signal.SIGINT)  # Ctrl-C: one line saying how to resume, exit 130
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("error: interrupted") and "--resume" in last
    msg = one_line_error(cli("posterior", "--out", str(out), *TINY[:2], "--generations", "4",
                             *TINY[4:]))  # fmt: skip
    assert "--resume" in msg  # a checkpoint is never overwritten silently

    proc = _start(out, "--resume")
    _wait_for_generation(proc, db, 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not out.exists()

    proc = _start(out, "--resume")
    assert proc.wait(timeout=900) == 0, proc.stderr.read().decode()
    a = pd.read_parquet(full / "posterior.parquet")
    b = pd.read_parquet(out / "posterior.parquet")
    pd.testing.assert_frame_equal(a, b)
    ga, gb = pd.read_csv(full / "generations.csv"), pd.read_csv(out / "generations.csv")
    pd.testing.assert_frame_equal(ga, gb)
    assert json.loads((out / "metadata.json").read_text())["resumed_from_generation"] >= 3
    assert not db.parent.exists()


@pytest.mark.slow
def test_model_posterior_is_identical_on_serial_and_process_executors(tmp_path):
    from openweight_sim.posterior.calibrate import calibration_problem, run_posterior
    from openweight_sim.posterior.smc import AbcSettings

    problem = calibration_problem("baseline", {"developers.count": 300})
    settings = AbcSettings(population=6, generations=2, seed=4)
    a = run_posterior(problem, settings, tmp_path / "a.db")
    b = run_posterior(
        problem,
        settings,
        tmp_path / "b.db",
        run_options={"executor": "processes", "workers": 2},
    )
    pd.testing.assert_frame_equal(a.particles, b.particles)
    assert np.isfinite(a.particles["distance"]).all()


def test_a_stopped_run_may_resume_with_looser_stopping_rules_only(tmp_path):
    """More generations or simulations: allowed (and recorded); anything else: one-line error."""
    import argparse

    from openweight_sim.cli.common import CliError
    from openweight_sim.cli.posterior import _prepare_checkpoint
    from openweight_sim.posterior.known import GaussianMean, absolute_distance
    from openweight_sim.posterior.smc import AbcSettings, run_abc

    problem = GaussianMean(prior_mean=0.0, prior_sd=1.0, noise_sd=1.0, observed=0.5)
    ckpt = tmp_path / ".post.posterior-checkpoint"
    ckpt.mkdir()
    run_abc(problem, absolute_distance, problem.x0, problem.priors,
            AbcSettings(population=10, generations=1, seed=1), ckpt / "history.db")  # fmt: skip

    def config(**settings):
        base = {"population": 10, "generations": 2, "max_simulations": 100, "seed": 1}
        return {"scenario": "baseline", "settings": {**base, **settings}}

    (ckpt / "settings.json").write_text(json.dumps(config()))
    args = argparse.Namespace(resume=True, force=False)
    assert _prepare_checkpoint(args, ckpt, config(generations=4, max_simulations=500))
    assert json.loads((ckpt / "settings.json").read_text())["settings"]["generations"] == 4
    for bad in (config(generations=3), config(population=20), config(seed=2)):
        with pytest.raises(CliError, match="only to let the run go on longer"):
            _prepare_checkpoint(args, ckpt, bad)

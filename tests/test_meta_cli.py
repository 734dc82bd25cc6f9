"""``openweight-sim meta``, used as a user would: output files, marker, refusals, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cli_errors import one_line_error
from openweight_sim.meta import CHANNELS
from openweight_sim.outdir import MARKER

CLI = [sys.executable, "-m", "openweight_sim.cli"]
SMALL = ["--set", "developers.count=300", "--set", "end=2024Q4"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_meta_writes_the_value_of_openness_by_channel(tmp_path):
    out = tmp_path / "m"
    res = cli("meta", "baseline", "--replications", "2", *SMALL, "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "What openness pays Meta in baseline" in res.stdout
    assert json.loads((out / MARKER).read_text())["kind"] == "meta"
    assert "no review within the run (Meta's first review: 2026Q3)" in res.stdout
    for name in ("meta_value", "summary", "forward", "by_quarter", "decisions", "quarters_open"):
        assert (out / f"{name}.csv").exists(), name
    assert (out / "plots" / "meta_value_waterfall.png").stat().st_size > 10_000
    assert (out / "plots" / "meta_value_stacked.png").stat().st_size > 10_000
    value = pd.read_csv(out / "meta_value.csv")
    assert sorted(value["replication"].unique()) == [0, 1]
    assert len(value) == 2 * 8  # 2023Q1..2024Q4
    channels = value[[f"meta_value_{c}" for c in CHANNELS]].sum(axis=1)
    assert (channels - value["meta_value_openness"]).abs().max() <= 1e-6 * value[
        "meta_value_openness"
    ].abs().max()
    summary = pd.read_csv(out / "summary.csv")
    assert summary["channel"].tolist() == ["openness", *CHANNELS]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seeds"]["replications"] == 2 and len(meta["seeds"]["run_seeds"]) == 2
    assert meta["internal"]["labs"]["meta"]["open_history"] is False
    again = cli("meta", "baseline", "--replications", "2", *SMALL, "--out", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr  # our own meta directory is replaced
    assert pd.read_csv(out / "meta_value.csv").equals(value)  # same seeds, same numbers


def test_meta_reports_the_value_from_the_first_review_on(tmp_path):
    out = tmp_path / "m"
    small = ["--set", "developers.count=300", "--set", "meta_payoff.review_from=2024Q1"]
    res = cli("meta", "baseline", "--replications", "2", *small, "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    forward = pd.read_csv(out / "forward.csv")
    assert forward["from"].tolist() == ["2024Q3"] and forward["n"].tolist() == [2]
    value = pd.read_csv(out / "meta_value.csv")
    later = value["quarter"] >= "2024Q3"
    per_run = (
        (value["meta_value_openness"] * value["discount"])[later]
        .groupby(value["replication"])
        .sum()
    )
    assert forward["mean"].iloc[0] == pytest.approx(per_run.mean())
    assert "from Meta's first review (2024Q3) on:" in res.stdout
    reviews = pd.read_csv(out / "decisions.csv")
    assert set(reviews["quarter"]) == {"2024Q3", "2025Q3", "2026Q3", "2027Q3"}


def test_meta_has_force_like_every_writing_command():
    res = subprocess.run([*CLI, "meta", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "--force" in res.stdout and "--executor" in res.stdout


def test_meta_refuses_a_directory_it_did_not_write(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    res = cli("meta", "baseline", "--replications", "2", *SMALL, "--out", str(mine), cwd=tmp_path)
    one_line_error(res, str(mine), "not an openweight-sim results directory")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "keep me"


def test_meta_bad_numbers_and_scenarios_exit_2_and_write_nothing(tmp_path):
    cases = [
        (["--replications", "1"], "replications"),
        (["--replications", "ten"], "replications"),
        (["--seed", "-1"], "seed"),
        (["--set", "meta_payoff.leakage=2"], "meta_payoff.leakage"),
    ]
    for extra, field in cases:
        res = cli("meta", "baseline", *SMALL, *extra, "--out", str(tmp_path / "o"), cwd=tmp_path)
        one_line_error(res, field)
    res = cli("meta", "no_such_scenario", "--out", str(tmp_path / "o"), cwd=tmp_path)
    one_line_error(res, "no_such_scenario")
    assert not (tmp_path / "o").exists()


def test_an_old_file_with_consolidate_below_names_the_new_field(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("extends: baseline\nname: old\nlabs:\n  meta:\n    consolidate_below: -1.0e+9\n")
    for command in (["meta", str(old), "--out", str(tmp_path / "o")], ["run", str(old)]):
        res = cli(*command, cwd=tmp_path)
        one_line_error(res, "labs.meta", "consolidate_below", "meta_payoff.decide")
    assert not (tmp_path / "o").exists() and not (tmp_path / "results").exists()

"""`openweight-sim run` as a user runs it: tables, metadata, plots, summary."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # command-line runs in subprocesses: make test only


def test_run_writes_tables_metadata_and_plots(tmp_path):
    out = tmp_path / "res"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "openweight_sim.cli",
            "run",
            "baseline",
            "--seed",
            "5",
            "--set",
            "developers.count=500",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    for name in ("quarters", "labs", "hosts", "offers", "releases"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.parquet").exists()
    q = pd.read_csv(out / "quarters.csv")
    assert len(q) == 20 and q["seed"].nunique() == 1
    pq = pd.read_parquet(out / "quarters.parquet")
    pd.testing.assert_frame_equal(q, pq, check_dtype=False)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seeds"]["root"] == 5 and meta["seeds"]["run_seeds"] == [int(q["seed"][0])]
    assert meta["scenario"]["developers"]["count"] == 500
    for png in ("token_share_by_lab", "open_vs_closed_share", "prices", "quality_gap"):
        img = Image.open(out / "plots" / f"{png}.png")
        assert img.size[0] > 500 and img.size[1] > 300
    assert "Closed API price" in res.stdout and "2027Q4" in res.stdout
    # no temporary directory left beside the results
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_run_reproducible_from_metadata(tmp_path):
    args = [
        sys.executable,
        "-m",
        "openweight_sim.cli",
        "run",
        "no_llama",
        "--set",
        "developers.count=300",
        "--set",
        "end=2024Q4",
        "--seed",
        "9",
    ]
    for d in ("a", "b"):
        subprocess.run([*args, "--out", str(tmp_path / d)], check=True, capture_output=True)
    a = pd.read_csv(tmp_path / "a" / "quarters.csv")
    b = pd.read_csv(tmp_path / "b" / "quarters.csv")
    pd.testing.assert_frame_equal(a, b)


def test_plot_command_redraws(tmp_path):
    out = tmp_path / "r"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "openweight_sim.cli",
            "run",
            "baseline",
            "--set",
            "developers.count=300",
            "--set",
            "end=2024Q2",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    for p in (out / "plots").iterdir():
        p.unlink()
    res = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", "plot", str(out)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert (out / "plots" / "prices.png").exists()


def test_plot_redraws_the_fan_charts_of_a_replicated_run(tmp_path):
    out = tmp_path / "r"
    cli = [sys.executable, "-m", "openweight_sim.cli"]
    subprocess.run(
        [
            *cli,
            "run",
            "baseline",
            "--set",
            "developers.count=300",
            "--set",
            "end=2024Q2",
            "--replications",
            "2",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    for p in (out / "plots").iterdir():
        p.unlink()
    res = subprocess.run([*cli, "plot", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    drawn = {p.name for p in (out / "plots").iterdir()}
    assert {"prices.png", "fan_price_closed.png"} <= drawn


def test_plot_of_a_broken_quarters_table_is_one_line(tmp_path):
    out = tmp_path / "r"
    cli = [sys.executable, "-m", "openweight_sim.cli"]
    subprocess.run(
        [
            *cli,
            "run",
            "baseline",
            "--set",
            "developers.count=300",
            "--set",
            "end=2023Q2",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    for content, expected in (
        (b"\xff\xfe\x00", "unreadable"),
        (b"", "unreadable"),
        (b"quarter,x\n2023Q1,1\n", "not a run's quarters table (missing columns"),
    ):
        (out / "quarters.csv").write_bytes(content)
        before = {p.name: p.read_bytes() for p in (out / "plots").iterdir()}
        res = subprocess.run([*cli, "plot", str(out)], capture_output=True, text=True)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and expected in res.stderr
        assert {p.name: p.read_bytes() for p in (out / "plots").iterdir()} == before


def test_replicated_run_keeps_every_replications_agent_tables_and_plot_redraws_compare(tmp_path):
    cli = [sys.executable, "-m", "openweight_sim.cli"]
    small = ["--set", "developers.count=300", "--set", "end=2023Q4"]
    out = tmp_path / "r"
    subprocess.run(
        [*cli, "run", "baseline", *small, "--replications", "3", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    quarters = pd.read_csv(out / "quarters.csv")
    for name in ("labs", "hosts", "offers", "releases"):
        table = pd.read_csv(out / f"{name}.csv")
        assert list(table.columns[:2]) == ["replication", "seed"], name
        assert sorted(table["replication"].unique()) == [0, 1, 2], name
        pairs = table[["replication", "seed"]].drop_duplicates()
        q_pairs = quarters[["replication", "seed"]].drop_duplicates()
        assert pairs.sort_values("replication").to_numpy().tolist() == (
            q_pairs.sort_values("replication").to_numpy().tolist()
        )
    cmp = tmp_path / "c"
    subprocess.run(
        [*cli, "compare", "baseline", *small, "--replications", "2", "--out", str(cmp)],
        check=True,
        capture_output=True,
    )
    for p in (cmp / "plots").iterdir():
        p.unlink()
    res = subprocess.run([*cli, "plot", str(cmp)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert any(p.name.startswith("fan_") for p in (cmp / "plots").iterdir())

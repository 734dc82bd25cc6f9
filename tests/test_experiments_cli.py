"""The experiments' command line: bad sweep files, run --replications, sweep, analyze."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from openweight_sim.cli import main
from openweight_sim.experiments.spec import SweepSpec
from openweight_sim.experiments.sweep import run_sweep

GOOD = """\
scenario: baseline
constants: {developers.count: 300, end: 2024Q2}
design: {method: lhs, samples: 6, seed: 1}
parameters:
  developers.price_sensitivity: [0.5, 2.0]
  labs.meta.release_interval: [1, 3]
replications: 1
outputs: [price_closed@2024Q2, share_open_tokens@final]
"""

BAD = {  # case: (replace this, with this, expected "field: problem" start)
    "unknown_parameter": (
        "developers.price_sensitivity:",
        "developers.colour:",
        "parameters.developers.colour: unknown parameter",
    ),
    "low_above_high": (
        "[0.5, 2.0]",
        "[2.0, 0.5]",
        "parameters.developers.price_sensitivity: low must be < high",
    ),
    "value_out_of_range": (
        "[0.5, 2.0]",
        "[-1.0, 2.0]",
        "parameters.developers.price_sensitivity: low -1.0 is invalid",
    ),
    "integer_bounds": (
        "[1, 3]",
        "[1.5, 3]",
        "parameters.labs.meta.release_interval: is an integer parameter",
    ),
    "zero_samples": (
        "samples: 6",
        "samples: 0",
        "design.samples: must be a positive integer (got 0)",
    ),
    "negative_samples": (
        "samples: 6",
        "samples: -3",
        "design.samples: must be a positive integer (got -3)",
    ),
    "sobol_not_power_of_2": (
        "method: lhs, samples: 6",
        "method: sobol, samples: 6",
        "design.samples: must be a power of 2",
    ),
    "unknown_design": (
        "method: lhs",
        "method: factorial",
        "design.method: unknown design 'factorial'",
    ),
    "unknown_output_column": (
        "price_closed@2024Q2",
        "price_closd@2024Q2",
        "outputs[0]: unknown output column 'price_closd' (did you mean price_closed",
    ),
    "quarter_outside_run": (
        "share_open_tokens@final",
        "share_open_tokens@2026Q4",
        "outputs[1]: quarter 2026Q4 is outside baseline's range 2023Q1–2024Q2",
    ),
    "malformed_output": (
        "share_open_tokens@final",
        "share_open_tokens",
        "outputs[1]: expected column@quarter",
    ),
    "ratio_without_counterfactual": (
        "price_closed@2024Q2",
        "price_closed/cf@2024Q2",
        "outputs[0]: 'price_closed/cf@2024Q2' is a ratio to the counterfactual",
    ),
    "zero_replications": (
        "replications: 1",
        "replications: 0",
        "replications: must be >= 1 (got 0)",
    ),
    "unknown_key": ("replications: 1", "replication: 1", "replication: unknown field"),
    "unknown_scenario": (
        "scenario: baseline",
        "scenario: baseline_x",
        "scenario: no such scenario",
    ),
    "bad_constant": (
        "count: 300",
        "count: 3",
        "constants.developers.count: Input should be greater",
    ),
    "malformed_yaml": ("replications: 1", "replications: [1", "malformed YAML"),
}


def write(tmp_path, text: str, name: str = "sweep.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sweep_file_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, case):
    old, new, expected = BAD[case]
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {path}: {expected}"), lines[0]
    assert not out.exists()
    assert captured.out == ""


def test_bad_sweep_file_exit_status_of_the_process(tmp_path):
    path = write(tmp_path, GOOD.replace("samples: 6", "samples: 0"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "openweight_sim.cli", "sweep", str(path), "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"error: {path}: design.samples: must be a positive integer (got 0)"
    ]
    assert not out.exists()


def test_run_with_replications_writes_bands_and_fan_charts(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "baseline", "--replications", "3", "--seed", "2", "--out", str(out)]
    assert main([*args, "--set", "developers.count=300", "--set", "end=2024Q4"]) == 0
    bands = pd.read_csv(out / "bands.csv")
    assert {"quarter", "column", "mean", "p5", "p95", "n"} <= set(bands.columns)
    row = bands[(bands["column"] == "price_closed") & (bands["quarter"] == "2024Q4")].iloc[0]
    assert row["p5"] <= row["mean"] <= row["p95"] and row["n"] == 3
    for col in (
        "price_closed",
        "price_open_hosted",
        "price_gpt4_level",
        "share_open_tokens",
        "quality_gap",
        "closed_gross_margin",
    ):
        assert (out / "plots" / f"fan_{col}.png").stat().st_size > 10_000, col


def test_sweep_then_prim_from_the_command_line(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    out = tmp_path / "sw"
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "6 runs (6 points × 1 replications, lhs design)" in text and "runs/s" in text
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 6
    # lhs → prim by default, which needs a threshold
    assert main(["analyze", str(out)]) == 2
    assert "needs --threshold" in capsys.readouterr().err
    threshold = float(results["price_closed@2024Q2"].median())
    args = ["analyze", str(out), "--output", "price_closed@2024Q2", "--threshold", str(threshold)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "PRIM: where is price_closed@2024Q2 <" in text and "Box 1: coverage" in text
    ana = out / "analysis-prim"
    boxes = pd.read_csv(ana / "prim_boxes.csv")
    assert {"box", "coverage", "density", "mass", "parameter", "low", "high"} <= set(boxes)
    assert (ana / "plots" / "prim_tradeoff.png").is_file()
    assert (ana / "plots" / "prim_boxes.png").is_file()
    assert main(["analyze", str(out), "--method", "sobol"]) == 2
    assert "needs a sobol design" in capsys.readouterr().err


def ishigami(params, seed):
    from SALib.test_functions import Ishigami

    return {"y": float(Ishigami.evaluate(np.array([[params[f"x{i}"] for i in (1, 2, 3)]]))[0])}


def test_analyze_sobol_table_and_plot(tmp_path, capsys):
    spec = SweepSpec(
        name="ishigami",
        design={"method": "sobol", "samples": 64, "seed": 1},
        parameters={f"x{i}": [-math.pi, math.pi] for i in (1, 2, 3)},
        outputs=["y"],
    )
    run_sweep(spec, tmp_path / "ish", evaluate=ishigami, progress=False)
    assert main(["analyze", str(tmp_path / "ish")]) == 0
    text = capsys.readouterr().out
    assert "Sobol indices of y:" in text and "x2" in text
    table = pd.read_csv(tmp_path / "ish" / "analysis-sobol" / "sobol.csv")
    assert list(table["parameter"]) == ["x1", "x2", "x3"]
    assert (tmp_path / "ish" / "analysis-sobol" / "plots" / "sobol_y.png").is_file()


def test_analyze_something_that_is_not_a_sweep(tmp_path, capsys):
    assert main(["analyze", str(tmp_path)]) == 2
    assert "not a sweep directory" in capsys.readouterr().err


def test_sweep_refuses_to_overwrite_without_resume(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("samples: 6", "samples: 2"))
    out = tmp_path / "sw"
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 0
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["sweep", str(path), "--out", str(out), "--resume", "--no-progress"]) == 0

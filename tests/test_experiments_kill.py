"""A sweep killed with SIGKILL mid-way and resumed: every run once, no corrupt file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pandas as pd

from openweight_sim.cli import main
from openweight_sim.experiments.store import KEEP
from openweight_sim.experiments.sweep import run_sweep

SWEEP = """\
scenario: baseline
constants: {developers.count: 300, end: 2024Q2}
design: {method: lhs, samples: 8, seed: 5}
parameters:
  developers.price_sensitivity: [0.7, 1.4]
  developers.switching_cost: [0.5, 3.0]
replications: 2
outputs: [price_closed@2024Q2, share_open_tokens@final]
"""
N_RUNS = 16


def test_sigkill_mid_sweep_then_resume(tmp_path):
    path = tmp_path / "kill.yaml"
    path.write_text(SWEEP)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "openweight_sim.cli", "sweep", str(path), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    runs = out / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if runs.is_dir() and len(list(runs.glob("run-*.json"))) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    before = {p.name for p in runs.glob("run-*.json")}
    assert 3 <= len(before) < N_RUNS
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    assert not (out / "results.csv").exists()

    assert main(["sweep", str(path), "--out", str(out), "--resume", "--no-progress"]) == 0

    files = sorted(runs.glob("run-*.json"))
    assert [p.name for p in files] == [f"run-{i:06d}.json" for i in range(N_RUNS)]
    records = [json.loads(p.read_text()) for p in files]  # every file parses
    assert [r["run"] for r in records] == list(range(N_RUNS))
    assert not list(runs.glob(".*")) and not [p for p in out.glob(".*") if p.name not in KEEP]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    session = manifest["sessions"][-1]
    assert session["runs_before"] == len(before)  # nothing finished was redone
    assert session["runs_before"] + session["runs"] == N_RUNS
    results = pd.read_parquet(out / "results.parquet")
    assert list(results["run"]) == list(range(N_RUNS))
    clean = run_sweep(path, tmp_path / "clean", progress=False)
    pd.testing.assert_frame_equal(results, clean, check_exact=True)

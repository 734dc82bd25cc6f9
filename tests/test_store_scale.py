"""The run store at scale: 20,000 tiny runs, SIGKILL mid-sweep, exact resume, few files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # 20,000-run sweeps killed and resumed: make test only

N_RUNS = 20_000

SCRIPT = """\
import sys, time
from openweight_sim.experiments.spec import SweepSpec
from openweight_sim.experiments.sweep import run_sweep


def stub(params, seed):
    time.sleep(0.0002)  # slow enough for the test to kill it mid-sweep
    return {"y": params["a"] * 2.0 + (seed %% 1000) / 1000.0, "z": params["b"]}


spec = SweepSpec.model_validate({
    "name": "scale",
    "design": {"method": "lhs", "samples": %d, "seed": 3},
    "parameters": {"a": [0.0, 1.0], "b": [0.0, 1.0]},
    "outputs": ["y", "z"],
})
run_sweep(spec, sys.argv[1], evaluate=stub, resume=sys.argv[2] == "resume", progress=False)
"""


def run(script, out, mode):
    return subprocess.Popen(
        [sys.executable, str(script), str(out), mode],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_20000_runs_killed_and_resumed_exactly(tmp_path):
    script = tmp_path / "sweep_stub.py"
    script.write_text(SCRIPT % N_RUNS)
    out = tmp_path / "sweep"
    proc = run(script, out, "fresh")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "runs" / "shard-00001.parquet").exists():
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()

    from openweight_sim.experiments.store import KEEP, RunStore

    stored = RunStore(out).read_runs()
    assert 4_000 <= len(stored) < N_RUNS
    assert not (out / "results.parquet").exists()

    resumed = run(script, out, "resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err.decode()

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    session = manifest["sessions"][-1]
    # a finished run was never repeated, an unfinished one never lost
    assert session["runs_before"] == len(stored)
    assert session["runs_before"] + session["runs"] == N_RUNS
    records = RunStore(out).read_runs()
    assert sorted(records) == list(range(N_RUNS))
    for i in (0, 1234, N_RUNS - 1):  # runs stored before the kill read back unchanged
        if i in stored:
            assert records[i] == stored[i]
    results = pd.read_parquet(out / "results.parquet")
    assert list(results["run"]) == list(range(N_RUNS))
    assert (results["status"] == "ok").all()
    seeds = results["seed"].to_numpy()
    expected = results["a"].to_numpy() * 2.0 + (seeds % 1000) / 1000.0
    assert (results["y"].to_numpy() == expected).all()

    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) < 30, sorted(p.name for p in files)
    # no temporary leftovers: the only dot-files are the sweep's marker and its lock
    assert not [p for p in files if p.name.startswith(".") and p.name not in KEEP]

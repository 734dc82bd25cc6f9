"""Sweeps stopped from outside: killed and resumed, killed with workers, interrupted (Ctrl-C).

A sweep killed with SIGKILL mid-way and resumed runs every run once and leaves no corrupt
file; the worker processes of a killed sweep die with it; Ctrl-C of any executor prints one
line with the ``--resume`` command (exit 130) instead of tracebacks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from openweight_sim.cli import main
from openweight_sim.experiments.store import KEEP, RunStore
from openweight_sim.experiments.sweep import run_sweep

pytestmark = pytest.mark.slow  # a sweep killed and resumed: not in `make test-fast`

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
        if RunStore(out).count() >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    before = RunStore(out).read_runs()
    assert 3 <= len(before) < N_RUNS
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    assert not (out / "results.csv").exists()

    assert main(["sweep", str(path), "--out", str(out), "--resume", "--no-progress"]) == 0

    records = RunStore(out).read_runs()
    assert sorted(records) == list(range(N_RUNS))
    assert all(records[i] == rec for i, rec in before.items())  # kept, not redone
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


# --------------------------------------------------------------------------- processes

SLOW_SWEEP = """\
scenario: baseline
constants: {developers.count: 2000, end: 2025Q4}
design: {method: lhs, samples: 30, seed: 5}
parameters:
  developers.price_sensitivity: [0.7, 1.4]
replications: 2
outputs: [price_closed@2024Q2]
"""


def _status(pid: int) -> dict[str, str]:
    """Fields of /proc/PID/status ({} once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _alive(pid: int) -> bool:
    state = _status(pid).get("State", "")
    return bool(state) and not state.startswith(("Z", "X"))  # a zombie has ended


def _descendants(root: int) -> set[int]:
    """Every live process whose chain of parents leads to ``root``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ppid = _status(int(entry.name)).get("PPid")
            if ppid:
                parents[int(entry.name)] = int(ppid)
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _start_sweep(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    """A sweep in its own session (as a terminal's job), with the default SIGINT action."""
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW_SWEEP)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "openweight_sim.cli", "sweep", str(path), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--no-progress", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if RunStore(out).count() >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1].decode()
    return proc, out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_a_process_sweep_leaves_no_process_alive(tmp_path):
    proc, _ = _start_sweep(tmp_path, "--executor", "processes", "--workers", "2")
    children = _descendants(proc.pid)
    workers = [p for p in children if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
    assert len(workers) == 2, children  # the pool's workers (besides the resource tracker)
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in children):
        time.sleep(0.1)
    assert not [p for p in children if _alive(p)], "processes of the killed sweep still run"
    proc.stderr.close()


@pytest.mark.parametrize("executor", ["serial", "processes", "dask"])
def test_ctrl_c_of_a_sweep_prints_one_line_with_the_resume_command(tmp_path, executor):
    workers = [] if executor == "serial" else ["--workers", "2"]
    proc, out = _start_sweep(tmp_path, "--executor", executor, *workers)
    children = _descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("error: interrupted;")
    assert lines[0].endswith(f"--out {out} --resume")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"  # resumable: nothing finished was lost
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in children):
        time.sleep(0.1)
    assert not [p for p in children if _alive(p)], "the interrupted sweep left workers"

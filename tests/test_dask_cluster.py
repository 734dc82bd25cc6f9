"""Dask as on a real cluster: external `dask scheduler` and `dask worker` processes.

A sweep reaches the cluster through a scheduler file, one worker is killed with SIGKILL
mid-sweep, and the sweep still finishes every run with results identical to a serial run;
a task whose worker dies every time is recorded as a failed run instead of aborting; a
worker with different package versions is refused before anything runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from openweight_sim.experiments.executors import check_worker_versions, execute
from openweight_sim.experiments.spec import SweepSpec
from openweight_sim.experiments.store import RunStore
from openweight_sim.experiments.sweep import run_sweep
from openweight_sim.scenario import ScenarioError

pytestmark = pytest.mark.slow  # external Dask scheduler and worker processes: make test only

SWEEP = {
    "name": "cluster",
    "scenario": "baseline",
    "constants": {"developers.count": 300, "end": "2024Q1"},
    "design": {"method": "lhs", "samples": 10, "seed": 4},
    "parameters": {"developers.price_sensitivity": [0.9, 1.4]},
    "replications": 1,
    "outputs": ["price_closed@final", "share_open_tokens@final"],
}
DASK = str(Path(sys.executable).with_name("dask"))


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [DASK, *args], stdout=subprocess.DEVNULL, stderr=open(log, "wb"), start_new_session=True
    )


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers without nannies, as separate processes."""
    sched_file = tmp_path / "scheduler.json"
    procs = [
        _start(
            [
                "scheduler",
                "--scheduler-file",
                str(sched_file),
                "--port",
                "0",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
            ],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for i in range(2):
            procs.append(
                _start(
                    [
                        "worker",
                        "--scheduler-file",
                        str(sched_file),
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    tmp_path / f"worker{i}.log",
                )
            )
        from distributed import Client

        with Client(scheduler_file=str(sched_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield sched_file, procs[1:]
    finally:
        _stop(procs)


def test_killed_worker_mid_sweep_and_results_equal_serial(cluster, tmp_path):
    sched_file, workers = cluster
    spec = SweepSpec.model_validate(SWEEP)
    out = tmp_path / "remote"
    result: dict = {}

    def sweep():
        result["df"] = run_sweep(spec, out, scheduler_file=str(sched_file), progress=False)

    thread = threading.Thread(target=sweep)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and RunStore(out).count() < 2:
        time.sleep(0.05)
    assert thread.is_alive(), "the sweep finished before a worker could be killed"
    workers[0].send_signal(signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()

    df = result["df"]
    assert (df["status"] == "ok").all() and len(df) == 10
    serial = run_sweep(spec, tmp_path / "serial", progress=False)
    pd.testing.assert_frame_equal(df, serial, check_exact=True)
    session = json.loads((out / "manifest.json").read_text())["sessions"][-1]
    assert session["executor"] == "dask" and session["scheduler"] == str(sched_file)


def test_sweep_command_takes_a_scheduler_file(cluster, tmp_path):
    sched_file, _ = cluster
    path = tmp_path / "s.yaml"
    import yaml

    path.write_text(yaml.safe_dump(SWEEP | {"design": {"method": "lhs", "samples": 2, "seed": 1}}))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "openweight_sim.cli",
            "sweep",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--scheduler-file",
            str(sched_file),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert RunStore(tmp_path / "o").count() == 2


def test_missing_scheduler_file_is_one_line(tmp_path):
    with pytest.raises(ScenarioError, match="no such scheduler file"):
        dict(execute(abs, [1], scheduler_file=str(tmp_path / "none.json")))


def _die_on_one(x: int) -> int:
    if x == 1:
        os._exit(1)  # the worker process dies, every time it runs this task
    return x * 10


def test_task_whose_worker_always_dies_is_recorded_not_fatal():
    import dask

    errors = {}

    def on_error(i, exc):
        errors[i] = type(exc).__name__
        return None

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        got = dict(execute(_die_on_one, [0, 1, 2], "dask", 2, retries=1, on_error=on_error))
    assert got == {0: 0, 1: None, 2: 20}
    assert errors == {1: "KilledWorker"}


class _FakeClient:
    def __init__(self, versions):
        self.versions = versions

    def run(self, fn):
        return {"tcp://10.0.0.9:1234": self.versions}


def test_worker_with_other_versions_is_refused():
    from openweight_sim.experiments.executors import DaskTarget, worker_versions

    mine = worker_versions()
    check_worker_versions(_FakeClient(dict(mine)), DaskTarget("tcp://x:1"))  # same: accepted
    other = dict(mine) | {"numpy": "1.0.0"}
    with pytest.raises(ScenarioError, match=r"worker tcp://10.0.0.9:1234 has numpy 1.0.0"):
        check_worker_versions(_FakeClient(other), DaskTarget("tcp://x:1"))

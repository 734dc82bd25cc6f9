"""Executors: a model sweep gives identical results serially, in processes and on Dask."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from openweight_sim.experiments.evaluate import ModelEvaluator
from openweight_sim.experiments.outputs import OutputSpec
from openweight_sim.experiments.replicate import run_one
from openweight_sim.experiments.spec import SweepSpec
from openweight_sim.experiments.store import RunStore
from openweight_sim.experiments.sweep import run_sweep
from openweight_sim.scenario import load_scenario

pytestmark = pytest.mark.slow  # process pools and Dask clusters: not in `make test-fast`

TINY = {
    "name": "tiny",
    "scenario": "baseline",
    "constants": {"developers.count": 300, "end": "2024Q2"},
    "design": {"method": "lhs", "samples": 3, "seed": 11},
    "parameters": {
        "developers.price_sensitivity": [0.7, 1.4],
        "labs.meta.release_interval": [1, 3],
    },
    "replications": 2,
    "outputs": ["price_closed@2024Q2", "share_open_tokens@final", "closed_gross_margin@2024Q1"],
}


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("sweeps") / "serial"
    return run_sweep(SweepSpec.model_validate(TINY), out, progress=False)


def workers_used(out) -> set[str]:
    return {rec["worker"] for rec in RunStore(out).read_runs().values()}


def test_serial_sweep_of_the_model(serial):
    assert len(serial) == 6 and (serial["status"] == "ok").all()
    assert serial["labs.meta.release_interval"].dtype == "int64"
    assert serial["labs.meta.release_interval"].between(1, 3).all()
    assert serial[TINY["outputs"]].notna().any().all()  # NaN only where undefined
    # replications of a point differ (own seeds); points differ (own parameters)
    assert serial.groupby("point")["closed_gross_margin@2024Q1"].nunique().max() == 2


def test_process_pool_equals_serial(serial, tmp_path):
    out = tmp_path / "processes"
    df = run_sweep(
        SweepSpec.model_validate(TINY), out, executor="processes", workers=2, progress=False
    )
    pd.testing.assert_frame_equal(df, serial, check_exact=True)
    assert f":{os.getpid()}" not in "".join(workers_used(out))


def test_dask_local_cluster_equals_serial(serial, tmp_path):
    out = tmp_path / "dask"
    df = run_sweep(SweepSpec.model_validate(TINY), out, executor="dask", workers=2, progress=False)
    pd.testing.assert_frame_equal(df, serial, check_exact=True)
    assert f":{os.getpid()}" not in "".join(workers_used(out))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sessions"][-1]["executor"] == "dask"


def test_counterfactual_ratio_output_uses_the_same_seed_and_parameters():
    sc = load_scenario("baseline", {"developers.count": 300, "end": "2024Q1"})
    cf = load_scenario("no_open_weights", {"developers.count": 300, "end": "2024Q1"})
    outs = (OutputSpec.parse("price_closed@final"), OutputSpec.parse("price_closed/cf@2024Q1"))
    params = {"developers.switching_cost": 2.0}
    got = ModelEvaluator(sc, outs, cf)(params, 123)
    a = run_one(sc, 123, params)["price_closed"].iloc[-1]
    b = run_one(cf, 123, params)["price_closed"].iloc[-1]
    assert got["price_closed@final"] == a
    assert got["price_closed/cf@2024Q1"] == a / b


def test_existing_dask_scheduler_by_address_equals_serial(serial, tmp_path):
    import logging

    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster:
        df = run_sweep(
            SweepSpec.model_validate(TINY),
            tmp_path / "remote",
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    pd.testing.assert_frame_equal(df, serial, check_exact=True)
    session = json.loads((tmp_path / "remote" / "manifest.json").read_text())["sessions"][-1]
    assert session["scheduler"].startswith("tcp://") and session["executor"] == "dask"


def _trim_setting(_: int):
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_dask_workers_run_without_malloc_trim_threshold():
    import os

    from openweight_sim.experiments.executors import execute

    before = dict(os.environ)
    got = dict(execute(_trim_setting, [0, 1], "dask", 2))
    assert got == {0: None, 1: None}  # the model's large arrays are not mmap'd afresh
    assert dict(os.environ) == before  # Dask's worker settings do not leak into the parent

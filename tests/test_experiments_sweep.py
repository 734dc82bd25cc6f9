"""Sweeps: designs, the sample → evaluate → analyze path, the store, resume, executors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from SALib.test_functions import Ishigami

from openweight_sim.experiments.designs import sample_design
from openweight_sim.experiments.sensitivity import morris_indices, sobol_indices
from openweight_sim.experiments.spec import SweepSpec, parse_spec
from openweight_sim.experiments.store import KEEP, RunStore
from openweight_sim.experiments.sweep import open_sweep, run_sweep
from openweight_sim.scenario import ScenarioError
from openweight_sim.seeds import spawn_seeds

PI = math.pi


def ishigami(params, seed):
    x = np.array([[params["x1"], params["x2"], params["x3"]]])
    return {"y": float(Ishigami.evaluate(x)[0])}


def linear(params, seed):
    return {"y": 2.0 * params["a"] + 0.0 * params["b"]}


def spec(**kw) -> SweepSpec:
    base = {
        "name": "t",
        "design": {"method": "lhs", "samples": 4, "seed": 1},
        "parameters": {"a": [0.0, 1.0], "b": [0.0, 1.0]},
        "outputs": ["y"],
    }
    base.update(kw)
    return SweepSpec.model_validate(base)


# --------------------------------------------------------------------------- designs


def test_grid_is_full_factorial_last_fastest():
    s = spec(design={"method": "grid"}, parameters={"a": [1, 2], "b": ["x", "y", "z"]})
    pts = sample_design(parse_spec(s)).points
    assert len(pts) == 6
    assert list(pts.iloc[:3]["b"]) == ["x", "y", "z"]
    assert list(pts["a"]) == [1, 1, 1, 2, 2, 2]


def test_sampled_designs_sizes_bounds_and_determinism():
    s = spec(design={"method": "sobol", "samples": 8, "seed": 3})
    d1, d2 = sample_design(s), sample_design(s)
    assert len(d1.points) == 8 * (2 + 2)
    pd.testing.assert_frame_equal(d1.points, d2.points)
    s2 = spec(design={"method": "sobol", "samples": 8, "seed": 3, "second_order": True})
    assert len(sample_design(s2).points) == 8 * (2 * 2 + 2)
    m = sample_design(spec(design={"method": "morris", "samples": 5, "seed": 1}))
    assert len(m.points) == 5 * (2 + 1)
    lhs = sample_design(spec(parameters={"a": [2.0, 3.0], "b": [1.0, 4.0]})).points
    assert lhs["a"].between(2, 3).all() and lhs["b"].between(1, 4).all()


def test_integer_parameters_cover_every_integer_equally():
    s = spec(design={"method": "lhs", "samples": 400, "seed": 5}, parameters={"n": [1, 4]})
    pts = sample_design(s, integer={"n"}).points
    assert pts["n"].dtype == np.int64
    counts = pts["n"].value_counts().sort_index()
    assert list(counts.index) == [1, 2, 3, 4]
    assert (counts == 100).all()  # a Latin hypercube fills each quarter of the range once


def test_run_seeds_are_spawned_point_major(tmp_path):
    s = spec(replications=3)
    df = run_sweep(s, tmp_path / "s", evaluate=linear, progress=False)
    assert list(df["run"]) == list(range(12))
    assert list(df["seed"]) == spawn_seeds(1, 12)
    assert list(df["point"]) == [p for p in range(4) for _ in range(3)]
    assert list(df["replication"]) == [0, 1, 2] * 4


# --------------------------------------------------------------------------- analysis


def test_ishigami_sobol_through_the_sweep_path(tmp_path):
    s = SweepSpec(
        name="ishigami",
        design={"method": "sobol", "samples": 512, "seed": 3},
        parameters={f"x{i}": [-PI, PI] for i in (1, 2, 3)},
        outputs=["y"],
    )
    run_sweep(s, tmp_path / "ishigami", evaluate=ishigami, progress=False)
    sweep = open_sweep(tmp_path / "ishigami")
    assert sweep.complete
    t = sobol_indices(sweep).set_index("parameter")
    for name, s1 in {"x1": 0.314, "x2": 0.442, "x3": 0.000}.items():
        assert t.loc[name, "S1"] == pytest.approx(s1, abs=0.05)
        assert t.loc[name, "S1_lo"] <= t.loc[name, "S1"] <= t.loc[name, "S1_hi"]
    for name, st in {"x1": 0.558, "x2": 0.442, "x3": 0.244}.items():
        assert t.loc[name, "ST"] == pytest.approx(st, abs=0.07)
    # the bootstrap intervals are reproducible: the same analysis gives the same table
    # (SALib ignores a seed of 0, so the default seed must not reach it as 0)
    pd.testing.assert_frame_equal(sobol_indices(sweep), sobol_indices(sweep))
    again = sobol_indices(sweep, seed=7)
    assert not np.allclose(again["S1_conf"], t["S1_conf"].to_numpy())


def test_morris_of_a_linear_function(tmp_path):
    s = spec(
        design={"method": "morris", "samples": 10, "seed": 2},
        parameters={"a": [0.0, 3.0], "b": [0.0, 1.0]},
    )
    run_sweep(s, tmp_path / "m", evaluate=linear, progress=False)
    t = morris_indices(open_sweep(tmp_path / "m")).set_index("parameter")
    # effects are per unit of the sampled range: a spans 3, so mu* = 2 * 3
    assert t.loc["a", "mu_star"] == pytest.approx(6.0)
    assert t.loc["a", "sigma"] == pytest.approx(0.0, abs=1e-9)
    assert t.loc["b", "mu_star"] == pytest.approx(0.0)


def test_sobol_analysis_needs_a_sobol_design(tmp_path):
    run_sweep(spec(), tmp_path / "l", evaluate=linear, progress=False)
    with pytest.raises(ScenarioError, match="needs a sobol design"):
        sobol_indices(open_sweep(tmp_path / "l"))


# --------------------------------------------------------------------------- store, resume


def test_every_run_is_stored_with_its_seed_and_the_manifest_records_seeds(tmp_path):
    out = tmp_path / "s"
    df = run_sweep(spec(replications=2), out, evaluate=linear, progress=False)
    records = RunStore(out).read_runs()
    assert sorted(records) == list(range(8))
    rec = records[3]
    assert rec["run"] == 3 and rec["seed"] == spawn_seeds(1, 8)[3] and rec["status"] == "ok"
    assert rec["outputs"]["y"] == pytest.approx(2 * rec["params"]["a"])
    # at the end the journal is compacted into one Parquet shard
    assert [p.name for p in sorted((out / "runs").iterdir())] == [
        "journal.jsonl",
        "shard-00000.parquet",
    ]
    assert (out / "runs" / "journal.jsonl").stat().st_size == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["seeds"] == spawn_seeds(1, 8)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), df)
    assert not [p for p in out.rglob(".*") if p.name not in KEEP]  # marker and lock stay


def test_resume_redoes_only_missing_runs(tmp_path):
    out = tmp_path / "s"
    first = run_sweep(spec(replications=2), out, evaluate=linear, progress=False)
    store = RunStore(out)
    kept = [rec for i, rec in store.read_runs().items() if i not in (1, 6)]
    for p in (out / "runs").iterdir():
        p.unlink()
    for rec in kept:
        store.write_run(rec)
    with open(store.journal, "a") as fh:  # a torn last line (power loss mid-write)
        fh.write('{"run": 6, "outp')
    (out / "runs" / ".shard-00001.parquet.tmp-99").write_text("partial")
    again = run_sweep(spec(replications=2), out, evaluate=linear, resume=True, progress=False)
    pd.testing.assert_frame_equal(first, again)
    session = json.loads((out / "manifest.json").read_text())["sessions"][-1]
    assert session["runs_before"] == 6 and session["runs"] == 2
    assert not list((out / "runs").glob(".*"))


def test_existing_sweep_needs_resume_and_the_same_spec(tmp_path):
    out = tmp_path / "s"
    run_sweep(spec(), out, evaluate=linear, progress=False)
    with pytest.raises(ScenarioError, match="--resume"):
        run_sweep(spec(), out, evaluate=linear, progress=False)
    other = spec(design={"method": "lhs", "samples": 4, "seed": 2})
    with pytest.raises(ScenarioError, match="differs from the sweep stored"):
        run_sweep(other, out, evaluate=linear, resume=True, progress=False)


def test_failed_runs_are_recorded_and_retried_on_resume(tmp_path):
    out = tmp_path / "s"
    flaky = tmp_path / "fail"
    flaky.write_text("1")

    def sometimes(params, seed):
        if flaky.exists() and params["a"] > 0.5:
            raise RuntimeError("boom")
        return linear(params, seed)

    df = run_sweep(spec(), out, evaluate=sometimes, progress=False)
    bad = df[df["status"] == "failed"]
    assert len(bad) and bad["y"].isna().all()
    assert json.loads((out / "manifest.json").read_text())["status"] == "incomplete"
    flaky.unlink()
    df2 = run_sweep(spec(), out, evaluate=sometimes, resume=True, progress=False)
    assert (df2["status"] == "ok").all()
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_a_damaged_shard_is_reported_in_one_line(tmp_path):
    out = tmp_path / "s"
    run_sweep(spec(replications=2), out, evaluate=linear, progress=False)
    shard = out / "runs" / "shard-00000.parquet"
    shard.write_bytes(shard.read_bytes()[:40])  # truncated by a disk fault
    with pytest.raises(ScenarioError, match=r"corrupt .*move it out of the sweep"):
        run_sweep(spec(replications=2), out, evaluate=linear, resume=True, progress=False)

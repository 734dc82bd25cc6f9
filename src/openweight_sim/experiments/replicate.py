"""Replications: the same scenario under independent seeds, and per-quarter bands.

Seeds are spawned from one root ``SeedSequence`` (:func:`openweight_sim.seeds.spawn_seeds`)
and recorded in the ``seed`` column, so every replication can be re-run on its own. The runs
go through the one replication path, :func:`openweight_sim.runs.run_replications`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.runs import replicate_scenario, run_one
from openweight_sim.scenario import Scenario

__all__ = ["bands", "interval", "replicate", "run_one"]


def replicate(
    scenario: str | Path | Scenario,
    replications: int = 10,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    executor: str = "serial",
    workers: int | None = None,
) -> pd.DataFrame:
    """Run ``replications`` independent runs; tidy frame with ``replication`` and ``seed``.

    Args:
        scenario: bundled name, YAML path or Scenario.
        replications: number of runs.
        seed: root seed; replication i uses ``spawn_seeds(seed, replications)[i]``.
        overrides: dotted-path overrides applied to the scenario.
        executor: ``serial``, ``processes`` or ``dask`` (same results for all).
        workers: parallel workers.
    """
    reps = replicate_scenario(
        scenario, replications, seed, overrides, executor=executor, workers=workers
    )
    return reps.quarters


def bands(df: pd.DataFrame, low: float = 0.05, high: float = 0.95) -> pd.DataFrame:
    """Per-quarter mean and [low, high] quantile band of every numeric column.

    Returns a tidy frame: quarter, column, mean, p5, p95 (names follow low/high), n.
    Boolean columns (e.g. a convergence flag) count as 0/1: their mean is a share of runs.
    """
    flags = [c for c in df.columns if pd.api.types.is_bool_dtype(df[c])]
    df = df.astype(dict.fromkeys(flags, float))
    num = [
        c
        for c in df.columns
        if c not in ("replication", "seed") and pd.api.types.is_numeric_dtype(df[c])
    ]
    g = df.groupby("quarter", sort=False)[num]
    lo, hi = f"p{round(low * 100)}", f"p{round(high * 100)}"
    stats = {"mean": g.mean(), lo: g.quantile(low), hi: g.quantile(high), "n": g.count()}
    long = [
        f.reset_index().melt(id_vars="quarter", var_name="column", value_name=name)
        for name, f in stats.items()
    ]
    out = long[0]
    for f in long[1:]:
        out = out.merge(f, on=["quarter", "column"])
    order = {q: i for i, q in enumerate(df["quarter"].drop_duplicates())}
    out["_o"] = out["quarter"].map(order)
    out = out.sort_values(["column", "_o"], kind="stable").drop(columns="_o")
    return out[["quarter", "column", "mean", lo, hi, "n"]].reset_index(drop=True)


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a normal-approximation confidence interval of a sample mean."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    m = float(v.mean())
    if v.size < 2:
        return (m, m, m)
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return (m, m - half, m + half)

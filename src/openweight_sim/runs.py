"""The one replication path: a scenario (or several) under seeds spawned from one root.

``run``, ``compare``, ``validate`` and ``calibrate`` all run their replications through
:func:`run_replications`. Replication ``r`` of every scenario uses the seed
``spawn_seeds(root, replications)[r]`` (:func:`openweight_sim.seeds.spawn_seeds`), so
several scenarios run together are paired by common random numbers, and the seeds are
recorded with the results (the ``seed`` column and :meth:`Replications.seeds_record`).

The runs are independent tasks handed to one of the sweep executors
(:func:`openweight_sim.experiments.executors.execute`: ``serial``, ``processes`` or
``dask``). A run depends only on its scenario and seed, so the executor and the number of
workers change the speed, never the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from openweight_sim.scenario import Scenario, load_scenario
from openweight_sim.seeds import spawn_seeds

AGENT_TABLES = ("labs", "hosts", "offers", "releases", "demand")
"""Per-agent tables a run can return beside its quarters (``run`` writes every replication's)."""


@dataclass(frozen=True)
class RunTask:
    """One run: a scenario under one seed (picklable, for process pools and Dask).

    Attributes:
        scenario: the resolved scenario.
        seed: the run's integer seed.
        replication: the replication index ``r`` (the seed is the root's ``r``-th child).
        side: index of the scenario among those run together (0 for a single scenario).
        tables: also return the per-agent tables (:data:`AGENT_TABLES`).
    """

    scenario: Scenario
    seed: int
    replication: int = 0
    side: int = 0
    tables: bool = False


@dataclass(frozen=True)
class RunResult:
    """What one run returns: its quarters and, if asked for, its per-agent tables."""

    task: RunTask
    quarters: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def run_task(task: RunTask) -> RunResult:
    """Run one model to its horizon (the function the executors apply to each task)."""
    from openweight_sim.model import OpenWeightMarket

    model = OpenWeightMarket(task.scenario, rng=task.seed).run_model()
    tables = {}
    if task.tables:
        tables = {name: getattr(model, f"{name}_frame")() for name in AGENT_TABLES}
    return RunResult(task, model.quarters_frame(), tables)


def run_one(
    scenario: str | Path | Scenario, seed: int, overrides: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Run one model to its horizon and return its per-quarter DataFrame."""
    return run_task(RunTask(load_scenario(scenario, overrides), seed)).quarters


@dataclass(frozen=True)
class Replications:
    """The replications of one scenario.

    Attributes:
        scenario: the scenario that was run.
        seeds: the run seeds, replication ``r`` used ``seeds[r]``.
        root: the root seed they were spawned from (None if explicit seeds were given).
        quarters: tidy per-quarter frame: ``replication``, ``seed``, then the model's columns.
        tables: per-agent tables of every replication, each with ``replication`` and ``seed``
            columns first (empty unless asked for).
    """

    scenario: Scenario
    seeds: list[int]
    root: int | None
    quarters: pd.DataFrame
    tables: dict[str, pd.DataFrame]

    @property
    def first(self) -> pd.DataFrame:
        """The first replication's per-quarter frame, without ``replication`` and ``seed``."""
        q = self.quarters
        return q[q["replication"] == 0].drop(columns=["replication", "seed"])

    def seeds_record(self) -> dict[str, Any]:
        """The seeds as recorded in ``metadata.json``: root, replications and run seeds."""
        return {"root": self.root, "replications": len(self.seeds), "run_seeds": self.seeds}


def run_replications(
    scenarios: Sequence[Scenario],
    replications: int = 1,
    seed: int = 0,
    *,
    seeds: Sequence[int] | None = None,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    tables: bool = False,
) -> list[Replications]:
    """Run every scenario under the same seeds; one :class:`Replications` per scenario.

    Args:
        scenarios: resolved scenarios; replication ``r`` of each uses the same seed.
        replications: runs per scenario (ignored when ``seeds`` is given).
        seed: root seed; replication ``r`` uses ``spawn_seeds(seed, replications)[r]``.
        seeds: explicit run seeds instead (e.g. common random numbers across calls).
        executor: ``serial``, ``processes`` or ``dask`` (same results for all).
        workers: parallel workers (default: the CPUs available).
        scheduler: address of a running Dask scheduler (implies ``dask``).
        tables: also keep every replication's per-agent tables.

    Returns:
        One :class:`Replications` per scenario, in the order given.
    """
    from openweight_sim.experiments.executors import execute

    run_seeds = list(seeds) if seeds is not None else spawn_seeds(seed, replications)
    root = None if seeds is not None else seed
    tasks = [
        RunTask(sc, s, r, side, tables)
        for side, sc in enumerate(scenarios)
        for r, s in enumerate(run_seeds)
    ]
    got: dict[tuple[int, int], RunResult] = {}
    for _, result in execute(run_task, tasks, executor, workers, scheduler):
        got[(result.task.side, result.task.replication)] = result
    out = []
    for side, sc in enumerate(scenarios):
        results = [got[(side, r)] for r in range(len(run_seeds))]
        quarters = _stack([res.quarters for res in results], run_seeds)
        agent_tables = {
            name: _stack([res.tables[name] for res in results], run_seeds)
            for name in (AGENT_TABLES if tables and results else ())
        }
        out.append(Replications(sc, run_seeds, root, quarters, agent_tables))
    return out


def _stack(frames: Sequence[pd.DataFrame], seeds: Sequence[int]) -> pd.DataFrame:
    """One table of every replication's rows, ``replication`` and ``seed`` columns first."""
    parts = [
        df.assign(replication=r, seed=s)[["replication", "seed", *df.columns]]
        for r, (df, s) in enumerate(zip(frames, seeds, strict=True))
    ]
    return pd.concat(parts, ignore_index=True)


def replicate_scenario(
    scenario: str | Path | Scenario,
    replications: int = 1,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    **options: Any,
) -> Replications:
    """Replications of one scenario (see :func:`run_replications` for ``options``)."""
    return run_replications([load_scenario(scenario, overrides)], replications, seed, **options)[0]

"""Evaluating one run of a sweep: (parameters, seed) → named outputs.

The sweep engine takes the evaluator as a function, so a test function such as Ishigami's
runs through exactly the same design → executor → store → analysis code as the model.
:class:`ModelEvaluator` is the model's evaluator; it is a plain picklable object so that
process pools and Dask workers can receive it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from openweight_sim.experiments.outputs import OutputSpec
from openweight_sim.experiments.replicate import run_one
from openweight_sim.scenario import Scenario

Evaluator = Callable[[Mapping[str, Any], int], Mapping[str, float]]


@dataclass(frozen=True)
class ModelEvaluator:
    """Run the model with a point's parameters and seed, and read off the outputs.

    Attributes:
        scenario: the scenario (sweep constants applied); parameters override it.
        outputs: what to record.
        counterfactual: run with the same parameters and seed for ``column/cf@q`` outputs.
    """

    scenario: Scenario
    outputs: tuple[OutputSpec, ...]
    counterfactual: Scenario | None = None

    def __call__(self, params: Mapping[str, Any], seed: int) -> dict[str, float]:
        """Outputs of one run (and of its counterfactual twin, if any output needs it)."""
        run = run_one(self.scenario, seed, dict(params))
        cf = None
        if self.counterfactual is not None and any(o.relative for o in self.outputs):
            cf = run_one(self.counterfactual, seed, dict(params))
        return {o.name: o.value(run, cf) for o in self.outputs}


@dataclass(frozen=True)
class Task:
    """One run of a sweep: design point ``point``, replication ``replication``."""

    run: int
    point: int
    replication: int
    seed: int
    params: dict[str, Any]


def evaluate_task(evaluate: Evaluator, task: Task) -> dict[str, Any]:
    """Evaluate one task and return its run record (failures are recorded, not raised).

    A run that raises is stored with ``status: failed`` and the error, so one bad corner of
    parameter space does not stop a long sweep; ``--resume`` retries it.
    """
    started = time.perf_counter()
    try:
        outputs = {str(k): float(v) for k, v in evaluate(task.params, task.seed).items()}
        error = None
    except Exception as exc:  # recorded in the run file, retried by --resume
        outputs, error = {}, exc
    return run_record(
        task,
        outputs,
        error,
        elapsed_s=time.perf_counter() - started,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


def run_record(
    task: Task,
    outputs: dict[str, float],
    error: BaseException | None,
    *,
    elapsed_s: float | None,
    worker: str | None,
) -> dict[str, Any]:
    """The stored record of one run: ``ok`` with its outputs, or ``failed`` with its error.

    Args:
        task: the run.
        outputs: its outputs (empty if it failed).
        error: what made it fail, or None.
        elapsed_s: seconds it took (None if it never returned).
        worker: ``host:pid`` of the process that ran it (None if unknown).
    """
    return {
        "run": task.run,
        "point": task.point,
        "replication": task.replication,
        "seed": task.seed,
        "params": task.params,
        "outputs": outputs,
        "status": "ok" if error is None else "failed",
        "error": None if error is None else f"{type(error).__name__}: {error}",
        "elapsed_s": elapsed_s,
        "finished_unix": time.time(),
        "worker": worker,
    }

"""Experiments: replications, paired comparisons, sweeps, sensitivity, scenario discovery.

A functional API for notebooks (plain DataFrames in and out) behind the CLI commands
``run --replications``, ``compare``, ``sweep`` and ``analyze``::

    from openweight_sim.experiments import (
        replicate, bands, compare_scenarios, run_sweep, open_sweep, sobol_indices, prim)

    q = replicate("baseline", replications=20, seed=1)          # tidy per-quarter runs
    b = bands(q)                                                # mean, p5, p95 per quarter
    c = compare_scenarios("baseline", "no_open_weights", 20)    # ratios, diffs, 95% CIs
    r = run_sweep("small", "results/sweeps/small")              # one row per run
    s = sobol_indices(open_sweep("results/sweeps/thesis_sobol"))

Every replication runs through :func:`openweight_sim.runs.run_replications` (seeds spawned
from one root, on the ``serial``, ``processes`` or ``dask`` executor), the same path as
``run``, ``validate`` and ``calibrate``. Names are imported on first use, so
``import openweight_sim.experiments`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from openweight_sim.experiments.replicate import bands, interval, replicate, run_one

_LAZY = {
    "KEY_COLUMNS": "compare",
    "compare_frames": "compare",
    "compare_scenarios": "compare",
    "paired_runs": "compare",
    "thesis_text": "thesis",
    "SweepSpec": "spec",
    "read_sweep_file": "spec",
    "sample_design": "designs",
    "ModelEvaluator": "evaluate",
    "execute": "executors",
    "run_sweep": "sweep",
    "prepare_sweep": "sweep",
    "open_sweep": "sweep",
    "SweepResults": "sweep",
    "sobol_indices": "sensitivity",
    "morris_indices": "sensitivity",
    "prim": "discovery",
    "boxes_table": "discovery",
    "PrimBox": "discovery",
    "plot_fans": "plots",
    "plot_compare_fans": "plots",
}

__all__ = ["bands", "interval", "replicate", "run_one", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    """Import the public names of the submodules on first use."""
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Experimental designs: the points a sweep runs, as plain arrays (SALib's ``sample`` step).

``lhs``, ``sobol`` and ``morris`` are sampled by SALib on the unit hypercube and then
scaled to each parameter's ``[low, high]``; the unit matrix is kept because SALib's
analyses read it (Morris needs the direction of each step). Integer parameters map the unit
interval onto ``low..high`` in equal parts (``floor(low + u·(high − low + 1))``), so each
integer is equally likely. ``grid`` is the full factorial of the listed values, in file
order with the last parameter varying fastest (as NetLogo's BehaviorSpace does).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.experiments.spec import SweepSpec


@dataclass(frozen=True)
class DesignMatrix:
    """The sampled points of a sweep.

    Attributes:
        points: one row per point, one column per parameter: the values given to the model.
        unit: SALib's sample on the unit hypercube (None for grid designs).
        problem: SALib's problem definition for ``unit`` (names, unit bounds).
    """

    points: pd.DataFrame
    unit: np.ndarray | None
    problem: dict[str, Any]

    @property
    def n_points(self) -> int:
        """Number of parameter points."""
        return len(self.points)


def unit_problem(names: list[str]) -> dict[str, Any]:
    """SALib's problem on the unit hypercube for these parameter names."""
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def sample_unit(spec: SweepSpec) -> np.ndarray:
    """SALib's unit-hypercube sample for a lhs, sobol or morris design (deterministic)."""
    from SALib.sample import latin, morris, sobol

    d = spec.design
    problem = unit_problem(spec.parameter_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if d.method == "lhs":
            return latin.sample(problem, d.samples, seed=d.seed)
        if d.method == "sobol":
            return sobol.sample(problem, d.samples, calc_second_order=d.second_order, seed=d.seed)
        if d.method == "morris":
            return morris.sample(problem, d.samples, num_levels=d.levels, seed=d.seed)
    raise ValueError(f"not a sampled design: {d.method}")


def scale(unit: np.ndarray, spec: SweepSpec, integer: Collection[str] = ()) -> pd.DataFrame:
    """Map a unit-hypercube sample onto the parameters' ranges (integers where needed)."""
    cols: dict[str, Any] = {}
    for j, name in enumerate(spec.parameter_names):
        low, high = spec.bounds(name)
        u = unit[:, j]
        if name in integer:
            lo, hi = round(low), round(high)
            cols[name] = np.minimum(np.floor(lo + u * (hi - lo + 1)), hi).astype(np.int64)
        else:
            cols[name] = low + u * (high - low)
    return pd.DataFrame(cols)


def grid_points(spec: SweepSpec) -> pd.DataFrame:
    """Every combination of the listed values (last parameter varying fastest)."""
    names = spec.parameter_names
    rows = list(itertools.product(*(spec.parameters[n] for n in names)))
    return pd.DataFrame(rows, columns=names)


def sample_design(spec: SweepSpec, integer: Collection[str] = ()) -> DesignMatrix:
    """The points of a sweep's design.

    Args:
        spec: a validated sweep.
        integer: parameters to round (integer-valued in the scenario).

    Returns:
        The design matrix; the same spec always gives the same points.
    """
    problem = unit_problem(spec.parameter_names)
    if spec.design.method == "grid":
        return DesignMatrix(grid_points(spec), None, problem)
    unit = sample_unit(spec)
    return DesignMatrix(scale(unit, spec, integer), unit, problem)

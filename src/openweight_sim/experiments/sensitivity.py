"""Global sensitivity: Sobol indices and Morris screening of a stored sweep (SALib's analyze).

Both read the outputs averaged over a point's replications (the model's noise averaged
out, so the indices describe the parameters, not the seeds), in design order, and return
tidy tables: one row per (output, parameter).

* Sobol (a ``sobol`` design): first-order ``S1`` (the share of the output's variance a
  parameter explains alone) and total ``ST`` (alone and in interactions), each with a
  bootstrap 95% interval (``*_lo``, ``*_hi``).
* Morris (a ``morris`` design): ``mu_star`` (mean absolute elementary effect, with its
  bootstrap interval) ranks influence; ``sigma`` (their spread) flags non-linearity or
  interactions. Effects are per unit of the parameter's sampled range.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from openweight_sim.experiments.sweep import SweepResults
from openweight_sim.scenario import ScenarioError

SOBOL_COLUMNS = ["output", "parameter", "S1", "S1_conf", "S1_lo", "S1_hi"]
SOBOL_COLUMNS += ["ST", "ST_conf", "ST_lo", "ST_hi"]
MORRIS_COLUMNS = ["output", "parameter", "mu", "mu_star", "mu_star_conf", "sigma"]


def check_analyzable(sweep: SweepResults, method: str) -> None:
    """Raise a one-line error unless the sweep is complete and has this method's design."""
    actual = sweep.spec.design.method
    if actual != method:
        raise ScenarioError(
            str(sweep.directory),
            "design.method",
            f"the {method} analysis needs a {method} "
            f"design (this sweep's is {actual}); try --method prim",
        )
    if not sweep.complete:
        n_ok = int(sweep.results["status"].eq("ok").sum())
        raise ScenarioError(
            str(sweep.directory),
            "",
            f"sweep incomplete ({n_ok}/{len(sweep.manifest['seeds'])} "
            "runs finished); finish it with `openweight-sim sweep FILE --out DIR --resume`",
        )


def _outputs(sweep: SweepResults, outputs: list[str] | None) -> list[str]:
    chosen = list(outputs) if outputs else sweep.outputs
    for o in chosen:
        if o not in sweep.outputs:
            raise ScenarioError(
                str(sweep.directory),
                "outputs",
                f"no output {o!r} in this sweep (it has {', '.join(sweep.outputs)})",
            )
    return chosen


def _bootstrap_seed(seed: int) -> int:
    """The seed handed to SALib's bootstrap: ``seed + 1``.

    SALib seeds its generator only ``if seed:``, so a seed of 0 would mean "unseeded" and the
    intervals would change from one analysis to the next; shifting by one keeps every seed
    (0 included) reproducible.
    """
    return int(seed) + 1


def _nan_rows(output: str, names: list[str], columns: list[str]) -> list[dict]:
    return [{"output": output, "parameter": n} | dict.fromkeys(columns[2:], np.nan) for n in names]


def sobol_indices(
    sweep: SweepResults,
    outputs: list[str] | None = None,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """First-order and total Sobol indices with bootstrap intervals, per output.

    An output that is constant or undefined (NaN) at some point gets NaN indices.
    """
    from SALib.analyze import sobol

    check_analyzable(sweep, "sobol")
    names = sweep.spec.parameter_names
    means = sweep.point_means()
    rows: list[dict] = []
    for out in _outputs(sweep, outputs):
        y = means[out].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)) or np.var(y) == 0:
            rows += _nan_rows(out, names, SOBOL_COLUMNS)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            si = sobol.analyze(
                sweep.problem,
                y,
                calc_second_order=sweep.spec.design.second_order,
                num_resamples=num_resamples,
                conf_level=conf_level,
                seed=_bootstrap_seed(seed),
            )
        for j, name in enumerate(names):
            row = {"output": out, "parameter": name}
            for k in ("S1", "ST"):
                v, c = float(si[k][j]), float(si[f"{k}_conf"][j])
                row |= {k: v, f"{k}_conf": c, f"{k}_lo": v - c, f"{k}_hi": v + c}
            rows.append(row)
    return pd.DataFrame(rows, columns=SOBOL_COLUMNS)


def morris_indices(
    sweep: SweepResults,
    outputs: list[str] | None = None,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Morris screening measures (mu, mu*, its interval, sigma) per output."""
    from SALib.analyze import morris

    check_analyzable(sweep, "morris")
    names = sweep.spec.parameter_names
    means = sweep.point_means()
    x = sweep.unit
    rows: list[dict] = []
    for out in _outputs(sweep, outputs):
        y = means[out].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):
            rows += _nan_rows(out, names, MORRIS_COLUMNS)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            si = morris.analyze(
                sweep.problem,
                x,
                y,
                num_resamples=num_resamples,
                conf_level=conf_level,
                num_levels=sweep.spec.design.levels,
                seed=_bootstrap_seed(seed),
            )
        for j, name in enumerate(names):
            rows.append(
                {
                    "output": out,
                    "parameter": name,
                    "mu": float(si["mu"][j]),
                    "mu_star": float(si["mu_star"][j]),
                    "mu_star_conf": float(si["mu_star_conf"][j]),
                    "sigma": float(si["sigma"][j]),
                }
            )
    return pd.DataFrame(rows, columns=MORRIS_COLUMNS)

"""Projection bands: every quarter's posterior-predictive interval of the summary columns.

A posterior run's projection (:mod:`openweight_sim.posterior.outputs`) keeps each draw's
per-quarter frames. :func:`projection_bands` turns them into one tidy row per column and
quarter, with the same law-of-total-variance split as the year-end table
(:func:`openweight_sim.posterior.predictive.decompose`): the 95% interval of all runs (parameter
uncertainty and run-to-run noise), the interval of the draws' means (parameters only), and the
share of the variance that comes from the parameters. The bundled baseline posterior ships
this table (``bands.csv``), which the dashboard's summary card reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

BANDS_FILE = "bands.csv"
"""The projection bands of a posterior results directory."""
BAND_COLUMNS = [
    "column",
    "quarter",
    "mean",
    "lo",
    "hi",
    "param_lo",
    "param_hi",
    "share_parameters",
    "draws",
    "replications",
]


def projection_bands(
    quarters: pd.DataFrame, columns: Sequence[str], level: float = 0.95
) -> pd.DataFrame:
    """Posterior-predictive bands of ``columns`` in every quarter.

    Args:
        quarters: stacked per-quarter frames with ``draw``, ``replication`` and ``quarter``
            (``projection_quarters.parquet`` of a posterior run).
        columns: the columns to band (those missing from ``quarters`` are skipped).
        level: coverage of the intervals.

    Returns:
        One row per column and quarter (quarters in run order): :data:`BAND_COLUMNS`.
    """
    from openweight_sim.posterior.predictive import decompose

    order = list(dict.fromkeys(quarters["quarter"]))
    rows = []
    for col in columns:
        if col not in quarters:
            continue
        keep = ["draw", "replication"] if "replication" in quarters else ["draw"]
        values = quarters[[*keep, "quarter", col]].rename(columns={col: "value"})
        for q, part in values.groupby("quarter", sort=False):
            stats = decompose(part[[*keep, "value"]].astype({"value": float}), level)
            rows.append({"column": col, "quarter": q, **stats})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=BAND_COLUMNS)
    out["_order"] = out["quarter"].map({q: i for i, q in enumerate(order)})
    out = out.sort_values(["column", "_order"], kind="stable").drop(columns="_order")
    return out[BAND_COLUMNS].reset_index(drop=True)


def read_bands(directory: str | Path) -> pd.DataFrame | None:
    """The bands of a posterior results directory, or None if it has none."""
    path = Path(directory) / BANDS_FILE
    return pd.read_csv(path) if path.is_file() else None

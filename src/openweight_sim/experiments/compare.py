"""Paired comparisons of two scenarios with common random numbers.

Replication ``r`` of scenario A and of scenario B both run with the seed
``spawn_seeds(seed, replications)[r]``, so the two differ only by the scenario, not by
luck: the paired differences are far less noisy than independent runs would be, and a
scenario compared with itself gives a ratio of exactly 1 with a zero-width interval.

For each key column and chosen quarter (default: each year's last quarter):

* ``ratio`` = mean(A) / mean(B), with Fieller's 95% interval from the paired replications:
  all ρ with ``(ā − ρ·b̄)² ≤ t²·var(a_r − ρ·b_r)/n`` (Student's t quantile). Unlike a
  delta-method interval it respects the ratio's asymmetry and cannot cross zero when both
  means are clearly positive; it is unbounded (NaN bounds) when mean(B) is not clearly
  different from zero;
* ``diff`` = mean(A − B), with the paired t interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from openweight_sim.columns import KEY
from openweight_sim.counterfactual import counterfactual_scenario
from openweight_sim.runs import run_replications
from openweight_sim.scenario import Scenario, ScenarioError, load_scenario, quarter_index

KEY_COLUMNS = KEY
"""Columns compared (labels and units in :mod:`openweight_sim.columns`)."""
COMPARE_COLUMNS = [
    "column",
    "quarter",
    "n",
    "mean_a",
    "mean_b",
    "ratio",
    "ratio_lo",
    "ratio_hi",
    "diff",
    "diff_lo",
    "diff_hi",
]


def paired_runs(
    a: str | Path | Scenario,
    b: str | Path | Scenario | None,
    replications: int = 10,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run A and B with common random numbers; their tidy per-quarter frames.

    Args:
        a: scenario A (bundled name, YAML path or Scenario).
        b: scenario B, the reference of ratios and differences; None: A's counterfactual
            (:func:`openweight_sim.counterfactual.counterfactual_scenario`).
        replications: paired replications.
        seed: root seed; replication r of both uses ``spawn_seeds(seed, replications)[r]``.
        overrides: dotted-path overrides applied to both scenarios.
        executor: ``serial``, ``processes`` or ``dask`` (same results for all).
        workers: parallel workers.
        scheduler: address of a running Dask scheduler (implies ``dask``).

    Returns:
        ``(quarters_a, quarters_b)`` with ``replication`` and ``seed`` columns.
    """
    sa = load_scenario(a, overrides)
    sb = counterfactual_scenario(sa) if b is None else load_scenario(b, overrides)
    ra, rb = run_replications(
        [sa, sb], replications, seed, executor=executor, workers=workers, scheduler=scheduler
    )
    return ra.quarters, rb.quarters


def year_end_quarters(quarters: Sequence[str]) -> list[str]:
    """Each year's last quarter present (Q4, or the final quarter of a shorter run)."""
    by_year: dict[str, str] = {}
    for q in quarters:
        by_year[q[:4]] = q
    return list(by_year.values())


def common_quarters(qa: pd.DataFrame, qb: pd.DataFrame) -> list[str]:
    """Quarters present in both frames, in time order."""
    both = set(qa["quarter"]) & set(qb["quarter"])
    return sorted(both, key=quarter_index)


def ratio_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, ...]:
    """Ratio of paired means and Fieller's t interval: (ratio, lo, hi).

    The interval is the set of ρ solving the quadratic
    ``(b̄² − k·s_bb)ρ² − 2(ā·b̄ − k·s_ab)ρ + (ā² − k·s_aa) ≤ 0`` with ``k = t²/n`` and the
    sample (co)variances s. Bounds are NaN when that set is unbounded.
    """
    n = a.size
    mb = b.mean() if n else np.nan
    if n == 0 or mb == 0 or not np.isfinite(mb):
        return (np.nan, np.nan, np.nan)
    if np.array_equal(a, b):  # identical paired runs (CRN): no uncertainty in the contrast
        return (1.0, 1.0, 1.0)
    ma = float(a.mean())
    r = float(ma / mb)
    if n < 2:
        return (r, np.nan, np.nan)
    k = float(stats.t.ppf(0.5 + level / 2, n - 1)) ** 2 / n
    cov = np.cov(a, b, ddof=1)
    s_aa, s_ab, s_bb = float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1])
    qa = mb * mb - k * s_bb
    qb = ma * mb - k * s_ab
    qc = ma * ma - k * s_aa
    if qa <= 0:
        return (r, np.nan, np.nan)
    disc = max(qb * qb - qa * qc, 0.0)  # ≥ 0 up to rounding whenever qa > 0
    root = np.sqrt(disc)
    return (r, (qb - root) / qa, (qb + root) / qa)


SHARE_DIFF_BOUNDS = (-1.0, 1.0)
"""Where a difference of two shares in 0–1 can lie: its interval is cut to this range."""


def diff_interval(
    a: np.ndarray,
    b: np.ndarray,
    level: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, ...]:
    """Mean paired difference and its t interval: (diff, lo, hi).

    Args:
        a: values of A, paired with ``b``.
        b: values of B.
        level: confidence level.
        bounds: the range the true difference lies in (e.g. ±1 for two shares): the t
            interval is intersected with it, which keeps its coverage and never reports an
            impossible value (a share's difference beyond 100 percentage points).
    """
    d = a - b
    n = d.size
    if n == 0:
        return (np.nan, np.nan, np.nan)
    m = float(d.mean())
    if n < 2:
        return (m, np.nan, np.nan)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
    lo, hi = m - half, m + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return (m, lo, hi)


def compare_frames(
    qa: pd.DataFrame,
    qb: pd.DataFrame,
    quarters: Sequence[str] | None = None,
    columns: Sequence[str] = KEY_COLUMNS,
    level: float = 0.95,
) -> pd.DataFrame:
    """Ratios and differences A vs B, paired by replication, at the chosen quarters.

    Pairs where either value is NaN (e.g. no hosted open model in B) are left out; ``n``
    says how many pairs remain. Ratios have Fieller's interval; differences a t interval,
    cut to ±1 for shares (columns ``share_*``).
    """
    quarters = list(quarters) if quarters else year_end_quarters(common_quarters(qa, qb))
    ia = qa.set_index(["quarter", "replication"])
    ib = qb.set_index(["quarter", "replication"])
    rows = []
    for col in columns:
        for q in quarters:
            pair = pd.concat([ia.loc[q, col], ib.loc[q, col]], axis=1, keys=["a", "b"])
            pair = pair.dropna().astype(float)
            a, b = pair["a"].to_numpy(), pair["b"].to_numpy()
            r, rlo, rhi = ratio_interval(a, b, level)
            shares = SHARE_DIFF_BOUNDS if col.startswith("share_") else None
            d, dlo, dhi = diff_interval(a, b, level, shares)
            rows.append(
                {
                    "column": col,
                    "quarter": q,
                    "n": a.size,
                    "mean_a": float(a.mean()) if a.size else np.nan,
                    "mean_b": float(b.mean()) if b.size else np.nan,
                    "ratio": r,
                    "ratio_lo": rlo,
                    "ratio_hi": rhi,
                    "diff": d,
                    "diff_lo": dlo,
                    "diff_hi": dhi,
                }
            )
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def check_quarters(quarters: Sequence[str], qa: pd.DataFrame, qb: pd.DataFrame) -> None:
    """Raise a one-line error for a requested quarter missing from either scenario."""
    both = set(common_quarters(qa, qb))
    for q in quarters:
        if q not in both:
            span = f"{min(both, key=quarter_index)}–{max(both, key=quarter_index)}"
            raise ScenarioError("--quarters", q, f"not simulated by both scenarios ({span})")


def compare_scenarios(
    a: str | Path | Scenario,
    b: str | Path | Scenario | None,
    replications: int = 10,
    seed: int = 0,
    quarters: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    columns: Sequence[str] = KEY_COLUMNS,
) -> pd.DataFrame:
    """Paired comparison of A and B: one row per (column, quarter).

    Columns: column, quarter, n, mean_a, mean_b, ratio (mean A / mean B) with ratio_lo and
    ratio_hi, diff (mean of A − B) with diff_lo and diff_hi; intervals are 95%. With
    ``b=None`` the reference is A's counterfactual (A without open weights).
    """
    qa, qb = paired_runs(a, b, replications, seed, overrides)
    if quarters:
        check_quarters(quarters, qa, qb)
    return compare_frames(qa, qb, quarters, columns)

"""The calibration scorecard: each in-sample fact against the simulated mean and band.

A fact is *within tolerance* when the mean over replications of its simulated counterpart,
in the fact's quarter, lies inside the fact's band ``[low, high]``. A simulated value that
is missing (the model has no such product that quarter) is a miss.

Facts that hold *by construction* (``by_construction``: the H100 rental price is an input,
the in-sample quality gap follows from the replayed release table) are scored and shown,
marked, but counted apart: the summary reads "X of N behavioural facts within tolerance
(M more hold by construction)".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.calibration.facts import BY_CONSTRUCTION, MODEL_COLUMN, NOTES, load_facts
from openweight_sim.runs import run_replications
from openweight_sim.scenario import Scenario, load_scenario

SCORECARD_COLUMNS = [
    "id",
    "metric",
    "period",
    "observed",
    "low",
    "high",
    "simulated_mean",
    "simulated_p5",
    "simulated_p95",
    "within_tolerance",
    "by_construction",
    "unit",
    "source",
    "read",
]


def simulate(
    scenario: str | Path | Scenario,
    replications: int = 5,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    seeds: list[int] | None = None,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Run replications of a scenario and stack their per-quarter frames.

    The runs go through the one replication path
    (:func:`openweight_sim.runs.run_replications`), on any of the sweep executors.

    Args:
        scenario: bundled name, YAML path or Scenario.
        replications: number of runs (ignored when ``seeds`` is given).
        seed: root seed; run i uses ``spawn_seeds(seed, replications)[i]``.
        overrides: dotted-path overrides (e.g. ``{"end": "2024Q4"}``).
        seeds: explicit run seeds (common random numbers across calls).
        executor: ``serial``, ``processes`` or ``dask`` (same results for all).
        workers: parallel workers.
        scheduler: address of a running Dask scheduler (implies ``dask``).

    Returns:
        A tidy frame with ``replication``, ``seed`` and the model's quarter columns.
    """
    sc = load_scenario(scenario, overrides)
    (reps,) = run_replications(
        [sc],
        replications,
        seed,
        seeds=seeds,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
    )
    return reps.quarters


def simulated_stats(sim: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """Mean, 5th and 95th percentile over replications of each fact's counterpart.

    Args:
        sim: stacked per-quarter frames (:func:`simulate`).
        facts: the facts (:func:`~openweight_sim.calibration.facts.load_facts`).

    Returns:
        One row per fact (same order): ``simulated_mean``, ``simulated_p5``,
        ``simulated_p95`` and ``n`` (replications with a finite value).
    """
    by_q = {q: g for q, g in sim.groupby("quarter", sort=False)}
    rows = []
    for f in facts.itertuples():
        g = by_q.get(f.period)
        col = MODEL_COLUMN[f.metric]
        v = (
            g[col].to_numpy(dtype=float)
            if g is not None and col in g
            else np.array([], dtype=float)
        )
        v = v[np.isfinite(v)]
        if v.size:
            rows.append((float(v.mean()), *map(float, np.quantile(v, [0.05, 0.95])), v.size))
        else:
            rows.append((np.nan, np.nan, np.nan, 0))
    return pd.DataFrame(
        rows, columns=["simulated_mean", "simulated_p5", "simulated_p95", "n"], index=facts.index
    )


def scorecard(
    sim: pd.DataFrame | None,
    facts: pd.DataFrame | None = None,
    stats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score simulated replications against the in-sample facts.

    Args:
        sim: stacked per-quarter frames with a ``quarter`` column (:func:`simulate`);
            ignored when ``stats`` is given.
        facts: the facts (default: the bundled ones).
        stats: the simulated statistics of ``facts`` (:func:`simulated_stats`), if already
            computed.

    Returns:
        One row per fact with :data:`SCORECARD_COLUMNS` plus ``note`` (why a fact is not a
        test of behaviour, if it is not); ``within_tolerance`` and ``by_construction`` are
        bools, ``within_tolerance`` False when the simulated value is missing.
    """
    facts = load_facts() if facts is None else facts
    if stats is None:
        if sim is None:
            raise ValueError("scorecard needs the simulated frame or its statistics")
        stats = simulated_stats(sim, facts)
    card = pd.concat([facts, stats], axis=1)
    if "by_construction" not in card:
        card["by_construction"] = card["metric"].isin(BY_CONSTRUCTION)
    card["by_construction"] = card["by_construction"].astype(bool)
    if "read" not in card:
        card["read"] = ""
    mean = card["simulated_mean"]
    card["within_tolerance"] = (
        mean.notna() & (mean >= card["low"]) & (mean <= card["high"])
    ).astype(bool)
    card["note"] = card["metric"].map(NOTES).fillna("")
    return card[[*SCORECARD_COLUMNS, "note"]].reset_index(drop=True)


def _construction(card: pd.DataFrame) -> pd.Series:
    if "by_construction" in card:
        return card["by_construction"].astype(bool)
    return card["metric"].isin(BY_CONSTRUCTION)


def hit_rate(card: pd.DataFrame) -> tuple[int, int]:
    """Behavioural facts within tolerance, and behavioural facts in total.

    Facts that hold by construction are left out of both counts (:func:`construction_rate`).
    """
    behavioural = card[~_construction(card)]
    return int(behavioural["within_tolerance"].sum()), len(behavioural)


def construction_rate(card: pd.DataFrame) -> tuple[int, int]:
    """Facts holding by construction that are within tolerance, and such facts in total."""
    built = card[_construction(card)]
    return int(built["within_tolerance"].sum()), len(built)


def summary_line(card: pd.DataFrame) -> str:
    """The final line of the printed scorecard.

    E.g. ``25 of 30 behavioural facts within tolerance (83%) (9 more hold by construction)``;
    a fact that should hold by construction but misses is reported after it.
    """
    n, m = hit_rate(card)
    b, nb = construction_rate(card)
    pct = 100.0 * n / m if m else 0.0
    line = f"{n} of {m} behavioural facts within tolerance ({pct:.0f}%) "
    line += f"({b} more hold by construction)"
    if b < nb:
        line += f"; {nb - b} by-construction fact(s) missed: check the inputs"
    return line


def _num(x: float) -> str:
    if not np.isfinite(x):
        return "–"
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _range(lo: float, hi: float) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "–"
    return f"{_num(lo)}–{_num(hi)}"


def format_scorecard(card: pd.DataFrame) -> str:
    """The scorecard as an aligned text table followed by the summary line."""
    head = ["id", "metric", "period", "observed", "band", "sim mean", "sim 5–95%", "ok"]
    built = _construction(card).to_numpy()
    body = []
    for r, by_construction in zip(card.itertuples(), built, strict=True):
        ok = "yes" if r.within_tolerance else "MISS"
        body.append(
            [
                str(r.id),
                str(r.metric),
                str(r.period),
                _num(r.observed),
                _range(r.low, r.high),
                _num(r.simulated_mean),
                _range(r.simulated_p5, r.simulated_p95),
                f"{ok} (by construction)" if by_construction else ok,
            ]
        )
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    left = {0, 1, 2, 7}

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    lines = [fmt(head), fmt(["-" * w for w in widths]), *(fmt(b) for b in body)]
    lines.append(summary_line(card))
    return "\n".join(lines)

"""The value of openness to Meta: a paired difference of its payoff, by channel.

For a scenario S and its Meta-internal twin I
(:func:`openweight_sim.counterfactual.meta_internal_scenario`), replication ``r`` of both
runs with the same seed ``spawn_seeds(seed, replications)[r]`` (common random numbers).
Per quarter and replication, the value of channel ``c`` is

    meta_value_<c> = meta_payoff_<c>(S) − meta_payoff_<c>(I)

and the value of openness is defined as their sum, ``meta_value_openness`` (so the channels
add up to it exactly). The cumulative value discounts each quarter to the run's start at
``meta_payoff.discount_rate``. Means over replications come with 95% t intervals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.counterfactual import meta_internal_scenario
from openweight_sim.experiments.replicate import interval
from openweight_sim.meta.decision import discount_factor, first_review
from openweight_sim.meta.payoff import CHANNELS
from openweight_sim.runs import run_replications
from openweight_sim.scenario import Scenario, load_scenario, quarter_index, quarter_label

VALUE = "meta_value_openness"
"""Column of the value of openness (the sum of the channel columns)."""
VALUE_COLUMNS = [VALUE, *(f"meta_value_{c}" for c in CHANNELS)]
"""The value of openness and its channels, in table order."""
CUMULATIVE = "_cumulative"
"""Suffix of a value column's discounted running total."""
SUMMARY_COLUMNS = ["channel", "mean", "lo", "hi", "n"]
"""Columns of :meth:`MetaValue.summary`."""


def paired_value(
    open_world: pd.DataFrame, internal: pd.DataFrame, discount_rate: float
) -> pd.DataFrame:
    """Per-replication, per-quarter value of openness from the two worlds' quarter tables.

    Args:
        open_world: stacked quarter tables of the scenario (``replication``, ``seed``).
        internal: the same for its Meta-internal twin, same seeds and quarters.
        discount_rate: annual rate discounting the cumulative value to the first quarter.

    Returns:
        One row per replication and quarter: the two payoffs, the value and its channels
        per quarter, and their discounted running totals (``<column>_cumulative``). A
        quarter without a price equilibrium (its price-dependent terms NaN, docs/ODD.md 7.15)
        has a NaN value and is left out of the running totals.
    """
    keys = ["replication", "seed", "quarter"]
    a = open_world.set_index(keys)
    b = internal.set_index(keys).reindex(a.index)
    out = pd.DataFrame(index=a.index)
    out["meta_payoff_open"] = a["meta_net_payoff"]
    out["meta_payoff_internal"] = b["meta_net_payoff"]
    for c in CHANNELS:
        out[f"meta_value_{c}"] = a[f"meta_payoff_{c}"] - b[f"meta_payoff_{c}"]
    out[VALUE] = out[[f"meta_value_{c}" for c in CHANNELS]].sum(axis=1, skipna=False)
    out = out[["meta_payoff_open", "meta_payoff_internal", *VALUE_COLUMNS]].reset_index()
    step = out.groupby("replication").cumcount()
    out.insert(3, "discount", [discount_factor(discount_rate, float(h)) for h in step])
    for col in VALUE_COLUMNS:
        out[col + CUMULATIVE] = (out[col] * out["discount"]).groupby(out["replication"]).cumsum()
    return out


def _intervals(df: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Mean and 95% interval over replications of every value column (long format)."""
    rows = []
    groups = df.groupby(by, sort=False) if by else [(None, df)]
    for key, g in groups:
        for col in [c for c in df.columns if c.startswith("meta_value_")]:
            m, lo, hi = interval(g[col].to_numpy())
            row = {"column": col, "mean": m, "lo": lo, "hi": hi, "n": int(g[col].notna().sum())}
            rows.append({by: key, **row} if by else row)
    return pd.DataFrame(rows)


@dataclass
class MetaValue:
    """The paired value of openness to Meta for one scenario (:func:`meta_value`).

    Attributes:
        scenario: the scenario (Meta's releases as it says).
        internal: its Meta-internal twin.
        seeds: the run seeds, replication ``r`` of both worlds uses ``seeds[r]``.
        root: the root seed the run seeds were spawned from.
        value: tidy per-replication, per-quarter table (:func:`paired_value`).
        open_quarters, internal_quarters: the two worlds' stacked quarter tables.
    """

    scenario: Scenario
    internal: Scenario
    seeds: list[int]
    root: int
    value: pd.DataFrame
    open_quarters: pd.DataFrame
    internal_quarters: pd.DataFrame

    def by_quarter(self) -> pd.DataFrame:
        """Mean and 95% interval per quarter of each value column (and its running total)."""
        return _intervals(self.value.drop(columns=["replication", "seed"]), "quarter")

    def summary(self) -> pd.DataFrame:
        """Cumulative discounted value over the run by channel: mean, 95% interval, n (USD).

        The first row is the value of openness; the channel rows add up to it.
        """
        last = self.value.groupby("replication").tail(1)
        cols = [c + CUMULATIVE for c in VALUE_COLUMNS]
        out = _intervals(last[cols], None)
        out["channel"] = [
            "openness" if c == VALUE + CUMULATIVE else c[len("meta_value_") : -len(CUMULATIVE)]
            for c in out["column"]
        ]
        return out[SUMMARY_COLUMNS]

    def forward(self) -> pd.DataFrame:
        """Discounted value of openness from Meta's first review on: mean, 95% interval, n.

        The part of the value a consolidation decided at the first review could still change
        (consolidating pays where it is negative); one row, ``from`` names the quarter; NaN
        when the run ends before the first review.
        """
        per_run = self._forward_per_run()
        m, lo, hi = interval(per_run.to_numpy())
        if not self.has_review():  # no review within the run
            m = lo = hi = float("nan")
        row = {"from": self.review_quarter(), "mean": m, "lo": lo, "hi": hi, "n": len(per_run)}
        return pd.DataFrame([row])

    def review_quarter(self) -> str:
        """Meta's first review quarter (the start of :meth:`forward`)."""
        return quarter_label(first_review(self.scenario.meta_payoff))

    def has_review(self) -> bool:
        """Whether Meta's first review falls within the run."""
        return first_review(self.scenario.meta_payoff) <= quarter_index(self.scenario.end)

    def _forward_per_run(self) -> pd.Series:
        """Discounted value of openness from the first review on, per replication."""
        start = first_review(self.scenario.meta_payoff)
        v = self.value
        later = v["quarter"].map(quarter_index) >= start
        return (v[VALUE] * v["discount"]).where(later, 0.0).groupby(v["replication"]).sum()

    def per_run(self) -> pd.DataFrame:
        """One row per replication: its cumulative discounted value by channel, and forward.

        Columns ``replication``, ``seed``, ``openness`` and one per channel (the last
        quarter's running totals, as :meth:`summary` averages them), and ``forward`` (the
        value from the first review on, as :meth:`forward` averages it; NaN when the run ends
        before the first review). USD, discounted to the run's first quarter.
        """
        last = self.value.groupby("replication").tail(1).set_index("replication")
        out = pd.DataFrame({"seed": last["seed"]})
        out["openness"] = last[VALUE + CUMULATIVE]
        for c in CHANNELS:
            out[c] = last[f"meta_value_{c}{CUMULATIVE}"]
        forward = self._forward_per_run()
        out["forward"] = forward if self.has_review() else float("nan")
        return out.reset_index()

    def decisions(self) -> pd.DataFrame:
        """Meta's reviews per run: quarter, its estimate, and whether it says consolidate.

        ``consolidates`` is the estimate's verdict (< 0); ``acted`` says whether the scenario
        lets Meta act on it (``meta_payoff.decide``), as ``meta_decides`` does.
        """
        q = self.open_quarters
        rows = q[np.isfinite(q["meta_review_estimate"].to_numpy(dtype=float))]
        out = rows[["replication", "seed", "quarter", "meta_review_estimate"]].copy()
        out["consolidates"] = out["meta_review_estimate"] < 0.0
        out["acted"] = self.scenario.meta_payoff.decide
        return out.reset_index(drop=True)


def meta_value(
    scenario: str | Path | Scenario = "baseline",
    replications: int = 10,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
) -> MetaValue:
    """The value of openness to Meta in ``scenario``: paired runs with common random numbers.

    Args:
        scenario: bundled name, YAML path or Scenario.
        replications: paired replications (each runs both worlds).
        seed: root seed; replication r of both worlds uses ``spawn_seeds(seed, n)[r]``.
        overrides: dotted-path overrides applied to the scenario before its twin is built.
        executor: ``serial``, ``processes`` or ``dask`` (same results for all).
        workers: parallel workers.
        scheduler: address of a running Dask scheduler (implies ``dask``).

    Returns:
        A :class:`MetaValue`; ``.summary()`` gives the cumulative value by channel.
    """
    sc = load_scenario(scenario, overrides)
    twin = meta_internal_scenario(sc)
    ra, rb = run_replications(
        [sc, twin], replications, seed, executor=executor, workers=workers, scheduler=scheduler
    )
    value = paired_value(ra.quarters, rb.quarters, sc.meta_payoff.discount_rate)
    return MetaValue(sc, twin, list(ra.seeds), seed, value, ra.quarters, rb.quarters)

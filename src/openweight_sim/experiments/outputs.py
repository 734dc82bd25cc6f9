"""Sweep outputs: one number per run, named ``column@quarter``.

A sweep records scalars, not whole runs: ``price_closed@2026Q4`` is the closed API price in
2026Q4; ``price_closed@final`` is its value in the scenario's last quarter. With a
counterfactual named in the sweep file (``counterfactual: no_open_weights``),
``price_closed/cf@2026Q4`` is the ratio of the scenario's value to the counterfactual's,
both run with the same parameters and the same seed (common random numbers), which is how
a sweep asks "where does the closed price fall below X% of its counterfactual?".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from openweight_sim.metrics import QuarterBook, model_reporters
from openweight_sim.scenario import Scenario

OUTPUT_RE = re.compile(
    r"^(?P<column>[A-Za-z_][A-Za-z0-9_]*)(?P<cf>/cf)?@(?P<quarter>\d{4}Q[1-4]|final)$"
)
OUTPUT_SYNTAX = "column@quarter such as price_closed@2026Q4 (or column@final, column/cf@quarter)"


@dataclass(frozen=True)
class OutputSpec:
    """One recorded output.

    Attributes:
        name: the text as written in the sweep file (the results column name).
        column: the model's per-quarter column.
        quarter: a quarter label, or ``"final"`` for the run's last quarter.
        relative: True for ``column/cf@quarter``: the ratio to the counterfactual.
    """

    name: str
    column: str
    quarter: str
    relative: bool = False

    @classmethod
    def parse(cls, text: str) -> OutputSpec:
        """Parse ``column@quarter``; ValueError naming the expected syntax otherwise."""
        m = OUTPUT_RE.match(str(text).strip())
        if not m:
            raise ValueError(f"expected {OUTPUT_SYNTAX} (got {text!r})")
        return cls(str(text).strip(), m["column"], m["quarter"], bool(m["cf"]))

    def _at(self, df: pd.DataFrame) -> float:
        if self.quarter == "final":
            row = df.iloc[-1]
        else:
            hit = df.loc[df["quarter"] == self.quarter]
            if hit.empty:
                raise KeyError(f"{self.name}: quarter {self.quarter} not in the run")
            row = hit.iloc[0]
        return float(row[self.column])

    def value(self, run: pd.DataFrame, counterfactual: pd.DataFrame | None = None) -> float:
        """This output's value in a run's per-quarter frame (NaN where undefined)."""
        v = self._at(run)
        if not self.relative:
            return v
        if counterfactual is None:
            raise ValueError(f"{self.name} needs the counterfactual run")
        base = self._at(counterfactual)
        return float(v / base) if np.isfinite(base) and base != 0 else float("nan")


def numeric_columns(scenario: Scenario) -> list[str]:
    """The model's numeric per-quarter columns for this scenario (what outputs may name)."""
    text = {f.name for f in fields(QuarterBook) if f.type in ("str", str)}
    reporters = model_reporters(list(scenario.labs), scenario.reporting.enterprise_share_labs)
    return [c for c in reporters if c not in text]

"""The value of openness as a sweep output: an evaluator for the project's sweep engine.

:class:`MetaValueEvaluator` is a ``(params, seed) -> outputs`` function for
:func:`openweight_sim.experiments.run_sweep` (``evaluate=``): for each design point and seed
it runs the scenario with the point's parameters and its Meta-internal twin built *from
those parameters* (so that swept leakage or community catch-up reach the twin's catch-up
rates), with the same seed, and returns

* ``meta_value_openness@final`` and ``meta_value_<channel>@final``: cumulative discounted
  value over the run (USD);
* ``meta_value_forward@final``: the discounted value from the first review quarter on, the
  part a consolidation decided then could still change (consolidating pays where it is < 0);
* ``meta_review_estimate@<first review>``: Meta's own proxy estimate at that review (NaN if
  Meta was no longer open), whose sign is the decision a deciding Meta would take.

:meth:`MetaValueEvaluator.output_names` lists them, for the sweep's ``outputs``.

It is a plain frozen dataclass, so process pools and Dask workers can receive it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openweight_sim.counterfactual import meta_internal_scenario
from openweight_sim.meta.decision import first_review
from openweight_sim.meta.value import CUMULATIVE, VALUE, VALUE_COLUMNS, paired_value
from openweight_sim.runs import run_one
from openweight_sim.scenario import (
    Scenario,
    get_dotted,
    load_scenario,
    quarter_index,
    quarter_label,
)


@dataclass(frozen=True)
class MetaValueEvaluator:
    """Sweep evaluator of the value of openness (module docstring).

    Attributes:
        scenario: the sweep's scenario, its constants applied; parameters override it.
    """

    scenario: Scenario

    def _params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The point's parameters, integers rounded where the scenario holds an integer."""
        data = self.scenario.model_dump(mode="python")
        out = {}
        for k, v in params.items():
            out[k] = round(float(v)) if isinstance(get_dotted(data, k), int) else v
        return out

    @property
    def first_review(self) -> int:
        """Absolute index of Meta's first review quarter."""
        return first_review(self.scenario.meta_payoff)

    def output_names(self) -> list[str]:
        """The outputs each run returns (sweep-file syntax: ``column@quarter``)."""
        cols = [*VALUE_COLUMNS, "meta_value_forward"]
        review = f"meta_review_estimate@{quarter_label(self.first_review)}"
        return [*(f"{c}@final" for c in cols), review]

    def __call__(self, params: Mapping[str, Any], seed: int) -> dict[str, float]:
        """Outputs of one paired run (the scenario and its Meta-internal twin)."""
        sc = load_scenario(self.scenario, self._params(params), override_source="sweep")
        twin = meta_internal_scenario(sc)
        a = run_one(sc, seed).assign(replication=0, seed=seed)
        b = run_one(twin, seed).assign(replication=0, seed=seed)
        value = paired_value(a, b, sc.meta_payoff.discount_rate)
        last = value.iloc[-1]
        names = self.output_names()
        out = {f"{col}@final": float(last[col + CUMULATIVE]) for col in VALUE_COLUMNS}
        later = value["quarter"].map(quarter_index) >= self.first_review
        forward = (value[VALUE] * value["discount"])[later].sum()
        out["meta_value_forward@final"] = float(forward)
        first = a[a["quarter"].map(quarter_index) == self.first_review]["meta_review_estimate"]
        out[names[-1]] = float(first.iloc[0]) if len(first) else float("nan")
        return out

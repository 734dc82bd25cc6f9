"""The counterfactual of a scenario: the same world without open weights.

Every lab is closed from the start, its open-weight history included (its historical
releases stay, as closed models), and no lab changes policy later; everything else (demand,
technology, costs, the developer population, the horizon) is the scenario's own. Run with
the same seed, the scenario and its counterfactual differ only by open weights, which is
the comparison the thesis asks for. For the bundled baseline the counterfactual equals the
bundled ``no_open_weights`` scenario (up to its name and description).

Used by the dashboard's overlay, by ``openweight-sim compare A`` (no B: A against its
counterfactual) and by sweeps (``counterfactual: closed``).
"""

from __future__ import annotations

from typing import Any

from openweight_sim.scenario import Scenario, load_scenario

CLOSED = "closed"
"""The sweep file's ``counterfactual:`` value meaning "the sweep's scenario, all closed"."""


def counterfactual_name(name: str) -> str:
    """The counterfactual's scenario name: ``baseline`` → ``baseline_no_open_weights``."""
    return f"{name}_no_open_weights"


def counterfactual_scenario(scenario: Scenario) -> Scenario:
    """The same scenario with no open weights: every lab closed from 2023, history included.

    For the baseline this equals the bundled ``no_open_weights`` scenario.
    """
    over: dict[str, Any] = {"name": counterfactual_name(scenario.name)}
    for lab in scenario.labs:
        over[f"labs.{lab}.policy"] = "closed"
        over[f"labs.{lab}.open_history"] = False
        over[f"labs.{lab}.policy_changes"] = []
        over[f"labs.{lab}.consolidate_below"] = None
    return load_scenario(scenario, over, override_source="counterfactual")

"""The counterfactual of a scenario: the same world without open weights.

Every lab is closed from the start, its open-weight history included (its historical
releases stay, as closed models), and no lab changes policy later; everything else (demand,
technology, costs, the developer population, the horizon) is the scenario's own. Run with
the same seed, the scenario and its counterfactual differ only by open weights, which is
the comparison the thesis asks for. For the bundled baseline the counterfactual equals the
bundled ``no_open_weights`` scenario (up to its name and description).

Used by the dashboard's overlay, by ``openweight-sim compare A`` (no B: A against its
counterfactual) and by sweeps (``counterfactual: closed``).

:func:`meta_internal_scenario` is the other twin: the same scenario with only Meta's models
kept internal, the reference of the value of openness (``openweight-sim meta``).
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
    over["meta_payoff.decide"] = False
    return load_scenario(scenario, over, override_source="counterfactual")


def meta_internal_name(name: str) -> str:
    """The Meta-internal twin's scenario name: ``baseline`` → ``baseline_meta_internal``."""
    return f"{name}_meta_internal"


def meta_internal_scenario(scenario: Scenario) -> Scenario:
    """The same scenario with Meta's releases kept internal: the value of openness's reference.

    Meta still trains every release on the scenario's cadence and runs them for its own
    use, but none reaches the market: no open weights (historical Llama releases included),
    no hosts, no self-hosting by others, no API (Meta has none). Capability leakage and the
    community's work are reversed where they act: the calibrated ``catch_up`` values
    describe the observed world, with Llama open, so here every other lab catches up at
    ``catch_up × (1 − meta_payoff.leakage)`` and Meta at ``catch_up × (1 −
    meta_payoff.community_catch_up)``. A scheduled policy change or a review of Meta's has
    nothing to decide. Everything else is the scenario's own.
    """
    mp = scenario.meta_payoff
    meta = mp.lab
    over: dict[str, Any] = {
        "name": meta_internal_name(scenario.name),
        f"labs.{meta}.policy": "closed",
        f"labs.{meta}.open_history": False,
        f"labs.{meta}.policy_changes": [],
        f"labs.{meta}.first_party_api": False,
        f"labs.{meta}.catch_up": scenario.labs[meta].catch_up * (1.0 - mp.community_catch_up),
        "meta_payoff.decide": False,
    }
    for key, lab in scenario.labs.items():
        if key != meta:
            over[f"labs.{key}.catch_up"] = lab.catch_up * (1.0 - mp.leakage)
    return load_scenario(scenario, over, override_source="meta internal")

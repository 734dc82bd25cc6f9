"""openweight-sim: an agent-based simulation of the AI model market.

Public API::

    from openweight_sim import OpenWeightMarket, load_scenario, meta_value
    from openweight_sim.market import nash_prices

The names below are imported on first use (PEP 562), so that ``import openweight_sim.market``
(pure economics) loads neither Mesa nor pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openweight_sim.meta.predictive import MetaValuePosterior, meta_value_posterior
    from openweight_sim.meta.value import MetaValue, meta_value
    from openweight_sim.model import OpenWeightMarket
    from openweight_sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "MetaValue",
    "MetaValuePosterior",
    "OpenWeightMarket",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "meta_value",
    "meta_value_posterior",
]
__version__ = "0.1.0"

_LAZY = {
    "OpenWeightMarket": "openweight_sim.model",
    "Scenario": "openweight_sim.scenario",
    "ScenarioError": "openweight_sim.scenario",
    "load_scenario": "openweight_sim.scenario",
    "MetaValue": "openweight_sim.meta.value",
    "meta_value": "openweight_sim.meta.value",
    "MetaValuePosterior": "openweight_sim.meta.predictive",
    "meta_value_posterior": "openweight_sim.meta.predictive",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'openweight_sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    """The module's names, including the lazily imported public ones."""
    return sorted({*globals(), *__all__})

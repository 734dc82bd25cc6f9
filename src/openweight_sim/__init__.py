"""openweight-sim: an agent-based simulation of the AI model market.

Public API::

    from openweight_sim import OpenWeightMarket, load_scenario
    from openweight_sim.market import nash_prices
"""

from openweight_sim.model import OpenWeightMarket
from openweight_sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["OpenWeightMarket", "Scenario", "ScenarioError", "load_scenario"]
__version__ = "0.1.0"

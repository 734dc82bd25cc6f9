"""Interactive dashboard of the AI model market (Mesa SolaraViz): the Solara entry point.

Run it with ``openweight-sim dashboard`` (or ``solara run openweight_sim.app``) and open
http://127.0.0.1:8765. It needs no internet access: Solara's front-end is served from the
installed ``solara-assets`` package. The dashboard lives in :mod:`openweight_sim.dashboard`
(one module per idea); this module names its page (``Page``) and re-exports its parts.
"""

from __future__ import annotations

from openweight_sim.dashboard.controls import (
    BASELINE,
    DEFAULT_DEVELOPERS,
    DEFAULT_SEED,
    MAU_CHOICES,
    SETTING_LABELS,
    SLIDER_PATHS,
    exact_step,
    model_params,
    slider_overrides,
)
from openweight_sim.dashboard.figures import FIGURES, NO_DATA, figure_png, price_panel
from openweight_sim.dashboard.market import DashboardMarket, counterfactual_scenario
from openweight_sim.dashboard.page import (
    APP_NAME,
    Page,
    PlotPanel,
    SummaryCard,
    components,
    show_counterfactual,
)
from openweight_sim.dashboard.summary import HEADLINES, summary_html

__all__ = [
    "APP_NAME",
    "BASELINE",
    "DEFAULT_DEVELOPERS",
    "DEFAULT_SEED",
    "FIGURES",
    "HEADLINES",
    "MAU_CHOICES",
    "NO_DATA",
    "SETTING_LABELS",
    "SLIDER_PATHS",
    "DashboardMarket",
    "Page",
    "PlotPanel",
    "SummaryCard",
    "components",
    "counterfactual_scenario",
    "exact_step",
    "figure_png",
    "model_params",
    "price_panel",
    "show_counterfactual",
    "slider_overrides",
    "summary_html",
]

"""The dashboard page: Mesa's SolaraViz with a summary card and the plot panels.

The left panel holds Mesa's controls (Reset, ▶ play, Step) and the model parameters
(:mod:`.controls`); as in every Mesa app, parameters apply on **Reset**. The main area
shows the summary card (:mod:`.summary`) and one panel per question (:mod:`.figures`); the
switch on the card overlays the no-open-weights counterfactual, drawn dashed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from openweight_sim.dashboard.controls import model_params
from openweight_sim.dashboard.figures import FIGURES, figure_png
from openweight_sim.dashboard.market import DashboardMarket
from openweight_sim.dashboard.summary import HOW_TO, summary_html

show_counterfactual = solara.reactive(True)
"""Overlay the no-open-weights counterfactual (per browser session)."""

APP_NAME = "Open weights vs closed AI — market simulator"

CSS = """
/* Show each sidebar slider's value under its thumb (Mesa's sliders show it only while dragged). */
.v-navigation-drawer .v-slider__thumb-container::after {
    content: attr(aria-valuenow);
    position: absolute;
    top: 9px;
    left: 0;
    transform: translateX(-50%);
    font-size: 11px;
    line-height: 1;
    color: rgba(0, 0, 0, 0.65);
    white-space: nowrap;
    pointer-events: none;
}
"""


@solara.component
def PlotPanel(model: DashboardMarket, name: str) -> None:
    """One plot panel, redrawn when the model steps, is reset, or the overlay toggles."""
    update_counter.get()
    overlay = show_counterfactual.value
    png = solara.use_memo(
        lambda: figure_png(model, name, overlay),
        dependencies=[model.run_id, model.quarters_done, overlay, name],
    )
    solara.Image(png, width="100%", classes=[f"owsim-plot-{name}"])


@solara.component
def SummaryCard(model: DashboardMarket) -> None:
    """Where the run is, headline numbers vs the counterfactual, and the settings in effect."""
    update_counter.get()
    overlay = show_counterfactual.value
    text = solara.use_memo(
        lambda: summary_html(model, overlay),
        dependencies=[model.run_id, model.quarters_done, overlay],
    )
    with solara.Column(gap="2px", classes=["owsim-summary"], style="padding: 8px 12px"):
        solara.HTML(tag="div", unsafe_innerHTML=text)
        solara.Switch(
            label="Overlay the counterfactual: same world without open weights (dashed)",
            value=show_counterfactual,
        )
        solara.HTML(tag="div", unsafe_innerHTML=HOW_TO)


def _panel(name: str) -> Callable[[DashboardMarket], Any]:
    def panel(model: DashboardMarket) -> Any:
        return PlotPanel(model, name)

    panel.__name__ = f"panel_{name.replace('-', '_')}"
    return panel


def components() -> list[tuple[Callable[[DashboardMarket], Any], int]]:
    """SolaraViz components: the summary card and the plot panels, on page 0."""
    return [(SummaryCard, 0)] + [(_panel(name), 0) for name in FIGURES]


@solara.component
def Page() -> None:
    """The dashboard page; each browser session gets its own model."""
    model = solara.use_memo(DashboardMarket, dependencies=[])
    solara.Style(CSS)
    SolaraViz(
        model,
        components=components(),
        model_params=model_params(),
        name=APP_NAME,
        play_interval=101,
    )

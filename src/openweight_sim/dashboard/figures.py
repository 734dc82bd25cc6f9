"""The dashboard's plot panels: the run plots of :mod:`openweight_sim.plots`, fitted to a panel.

Each panel is drawn by the same function that draws a run's PNG (with its ``overlay``: the
no-open-weights counterfactual, dashed), over the scenario's whole horizon with the history
shaded, then fitted to the dashboard: a fixed size and axes position so that panels line up
while a run is redrawn quarter by quarter, one legend below the axes, and a hint on a panel
that has no quarter yet.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure

from openweight_sim import figstyle, plots
from openweight_sim.dashboard.market import DashboardMarket
from openweight_sim.scenario import Scenario

NO_DATA = "Press STEP or ▶ in the left panel to simulate"
"""Shown on a panel before the first quarter is simulated."""

PANEL_SIZE = (6.4, 4.3)
"""Inches at 100 dpi; a browser scales the PNG to its panel's width."""

PANEL_AXES = (0.12, 0.38, 0.77, 0.54)
"""Fixed axes position (left, bottom, width, height): panels line up."""

Panel = Callable[..., Figure]


def _fit(fig: Figure, df: pd.DataFrame) -> Figure:
    """Fixed size and axes position, every legend gathered below the axes, a hint if empty."""
    fig.set_layout_engine("none")
    fig.set_size_inches(*PANEL_SIZE)
    fig.set_dpi(100)
    handles, labels = [], []
    for ax in fig.axes:
        ax.set_position(PANEL_AXES)
        ax.yaxis.label.set_fontsize(8)
        ax.yaxis.label.set_text(textwrap.fill(ax.get_ylabel(), 38))
        ax.title.set_fontsize(11)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        h, lab = ax.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    fig.axes[0].set_xlabel(figstyle.HISTORY_NOTE, fontsize=8, color="0.4")
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.255),
        ncol=2 if len(labels) <= 6 else 3,
        fontsize=7 if len(labels) <= 6 else 6,
        frameon=False,
        handlelength=2.5,
        columnspacing=1.2,
        borderaxespad=0,
    )
    if df.empty:
        ax = fig.axes[0]
        ax.text(0.5, 0.5, NO_DATA, transform=ax.transAxes, ha="center", va="center", color="0.35")
    return fig


def _panel(plot: Callable[..., Figure], **extra) -> Panel:
    """A dashboard panel drawn by ``plot`` (a function of :mod:`openweight_sim.plots`)."""

    def panel(
        df: pd.DataFrame,
        scenario: Scenario,
        quarters: list[str],
        overlay: pd.DataFrame | None = None,
    ) -> Figure:
        history = scenario.history_until if scenario.history else None
        kwargs = {k: f(scenario) for k, f in extra.items()}
        fig = plot(df, "", overlay=overlay, quarters=quarters, shade_until=history, **kwargs)
        return _fit(fig, df)

    panel.__doc__ = f"The dashboard panel of :func:`openweight_sim.plots.{plot.__name__}`."
    return panel


def _lab_names(scenario: Scenario) -> dict[str, str]:
    return {k: f"{lab.name} ({lab.policy})" for k, lab in scenario.labs.items()}


FIGURES: dict[str, Panel] = {
    "lab-shares": _panel(plots.lab_share_plot, labels=_lab_names),
    "open-share": _panel(plots.open_share_plot),
    "prices": _panel(plots.price_plot),
    "quality-gap": _panel(plots.quality_gap_plot),
    "meta-payoff": _panel(plots.meta_payoff_plot),
}
"""Plot panels of the dashboard, by CSS class suffix (``owsim-plot-<name>``)."""

price_panel = FIGURES["prices"]
"""The prices panel (closed APIs, hosted open weights, GPT-4 level; log axis)."""


def figure_png(model: DashboardMarket, name: str, overlay: bool) -> bytes:
    """Render one panel of ``model`` as PNG bytes.

    Args:
        model: the dashboard model.
        name: a key of :data:`FIGURES`.
        overlay: draw the counterfactual (dashed).
    """
    cf = model.counterfactual_frame() if overlay else None
    fig = FIGURES[name](model.frame(), model.config, model.quarters, overlay=cf)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()

"""The dashboard's plot panels as PNG bytes, drawn by :mod:`openweight_sim.plots`."""

from __future__ import annotations

import io
from collections.abc import Callable

from matplotlib.figure import Figure

from openweight_sim.dashboard.market import DashboardMarket
from openweight_sim.panels import PANELS

FIGURES: dict[str, Callable[..., Figure]] = dict(PANELS)
"""Plot panels of the dashboard, by CSS class suffix (``owsim-plot-<name>``)."""


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

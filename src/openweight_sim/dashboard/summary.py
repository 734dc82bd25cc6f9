"""The dashboard's summary card: where the run is, headline numbers, settings in effect."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from html import escape

import numpy as np
import pandas as pd

from openweight_sim.columns import column
from openweight_sim.dashboard.market import DashboardMarket


def _pct(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.0%}"


def _usd(v: float) -> str:
    if not np.isfinite(v):
        return "–"
    return f"${v:.3f}" if v < 0.1 else f"${v:.2f}"


def _elo(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.0f} Elo"


_FORMATS: dict[str, Callable[[float], str]] = {
    "share_open_tokens": _pct,
    "price_closed": _usd,
    "price_gpt4_level": _usd,
    "quality_gap": _elo,
    "closed_gross_margin": _pct,
}


def _headline(name: str) -> str:
    c = column(name)
    return c.title if c.is_share or c.unit == "Elo" else f"{c.title}, {c.unit}"


HEADLINES: tuple[tuple[str, str, Callable[[float], str]], ...] = tuple(
    (name, _headline(name), fmt) for name, fmt in _FORMATS.items()
)
"""Summary-card rows: column, its chart title from the column catalogue, formatter."""

HOW_TO = (
    "<div style='font-size:11.5px;color:#444'>How to use: change the scenario or a slider on "
    "the left, press <b>RESET</b> to apply, then <b>STEP</b> (one quarter) or <b>▶</b> (play "
    "to the end). Grey band in the plots: history; after it, projection.</div>"
)

_CELL = "padding:1px 10px 1px 0;"
_GREY = "<span style='color:#666;font-weight:400'>"


def _where(model: DashboardMarket, n: int) -> str:
    total = len(model.quarters)
    if n:
        return f"{model.frame()['quarter'].iloc[-1]} {_GREY}(quarter {n} of {total})</span>"
    return f"{_GREY}not started: {total} quarters, {model.quarters[0]}–{model.quarters[-1]}</span>"


@cache
def posterior_bands(scenario: str) -> pd.DataFrame | None:
    """The bundled posterior's projection bands of a scenario (None if it has none).

    Only the shipped baseline has a bundled posterior (``data/posterior/baseline``).
    """
    from openweight_sim.bundled import bundled_posterior
    from openweight_sim.posterior.bands import read_bands

    d = bundled_posterior(scenario)
    return read_bands(d) if d is not None else None


POSTERIOR_HEAD = (
    "<th style='{cell}text-align:right' title='95% posterior-predictive interval of the "
    "calibrated baseline in this quarter: uncertainty of the calibrated parameters (the "
    "posterior over the 2023-2024 facts) and run-to-run noise together. It does not move "
    "with the sliders.'>Calibrated range, 95%</th>"
)


def _band(bands: pd.DataFrame | None, col: str, quarter: str, fmt: Callable[[float], str]) -> str:
    if bands is None:
        return ""
    row = bands[(bands["column"] == col) & (bands["quarter"] == quarter)]
    text = "–" if row.empty else f"{fmt(float(row['lo'].iloc[0]))}–{fmt(float(row['hi'].iloc[0]))}"
    return f"<td style='{_CELL}text-align:right;color:#555'>{text}</td>"


def _headline_table(model: DashboardMarket, overlay: bool) -> str:
    df = model.frame()
    quarter = str(df["quarter"].iloc[-1])
    cf = model.counterfactual_frame() if overlay else None
    bands = posterior_bands(model.config.name)
    head = f"<th style='{_CELL}text-align:left'>Latest quarter</th>"
    head += f"<th style='{_CELL}text-align:right'>This run</th>"
    if bands is not None:
        head += POSTERIOR_HEAD.format(cell=_CELL)
    if cf is not None:
        head += f"<th style='{_CELL}text-align:right'>Without open weights</th>"
    rows = [f"<tr style='color:#555;font-size:12px'>{head}</tr>"]
    for col, label, fmt in HEADLINES:
        row = f"<td style='{_CELL}'>{label}</td>"
        row += f"<td style='{_CELL}text-align:right'><b>{fmt(float(df[col].iloc[-1]))}</b></td>"
        row += _band(bands, col, quarter, fmt)
        if cf is not None:
            row += f"<td style='{_CELL}text-align:right'>{fmt(float(cf[col].iloc[-1]))}</td>"
        rows.append(f"<tr>{row}</tr>")
    return (
        "<table class='owsim-headlines' style='font-size:13.5px;border-collapse:collapse;"
        f"margin-bottom:6px'>{''.join(rows)}</table>"
    )


def summary_html(model: DashboardMarket, overlay: bool) -> str:
    """The summary card: where the run is, headline numbers, settings in effect.

    Args:
        model: the dashboard model.
        overlay: add the counterfactual's numbers.

    Returns:
        An HTML fragment (every text from the scenario is escaped).
    """
    n = model.quarters_done
    sc = model.config
    parts = [
        f"<div style='font-size:17px;font-weight:600'>Scenario <code>{escape(sc.name)}</code>"
        f" · {_where(model, n)}</div>",
        "<div style='color:#555;font-size:12.5px;margin-bottom:6px'>"
        f"{escape(sc.description)}</div>",
    ]
    if n:
        parts.append(_headline_table(model, overlay))
    settings = " · ".join(
        f"<b>{label}: {escape(value)}</b>" if changed else f"{label}: {escape(value)}"
        for label, value, changed in model.settings()
    )
    parts.append(
        f"<div class='owsim-settings' style='font-size:11.5px;color:#444'>Settings in effect "
        f"({sc.developers.count:,} developers, seed {model.seed}; <b>bold</b> = changed from "
        f"the baseline): {settings}</div>"
    )
    return "".join(parts)

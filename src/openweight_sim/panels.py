"""Dashboard panels: a run over its scenario's whole horizon, with a dashed overlay run.

Each panel takes the per-quarter frame so far (it may be empty or partial), the scenario
and its quarters, and returns a Figure of a fixed size and axes position, so that panels
line up and a run can be redrawn quarter by quarter as the dashboard steps it. Colours and
the history note are those of :mod:`openweight_sim.plots`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator, PercentFormatter

from openweight_sim.plots import HISTORY_NOTE, LAB_COLORS

if TYPE_CHECKING:
    from openweight_sim.scenario import Scenario

PANEL_COLORS = {
    **LAB_COLORS,
    "meta": "#0b3d91",
    "deepseek": "#17becf",
    "alibaba": "#ffb000",
}
"""Lab colours of the panels: the brand colours, with Meta, DeepSeek and Alibaba set apart
from Google's blue and Mistral's orange so that neighbouring bands can be told apart."""

NO_DATA = "Press STEP or ▶ in the left panel to simulate"
"""Shown on a panel before the first quarter is simulated."""

PANEL_SIZE = (6.4, 4.3)
"""Inches at 100 dpi; a browser scales the PNG to its panel's width."""

PANEL_AXES = (0.115, 0.345, 0.865, 0.58)
"""Fixed axes position (left, bottom, width, height): fast, and panels line up."""

GPT4_ELO = 1186
"""Arena Elo of GPT-4 (2023), the reference line of the quality panel."""


def _panel_axes(title: str) -> tuple[Figure, plt.Axes]:
    fig = Figure(figsize=PANEL_SIZE, dpi=100)
    ax = fig.add_axes(PANEL_AXES)
    ax.set_title(title, fontsize=11.5, loc="left", fontweight="bold")
    return fig, ax


def _panel_legend(fig: Figure, ax: plt.Axes, ncol: int = 2) -> None:
    """One legend below the axes, outside the plot area (all axes' entries)."""
    handles, labels = ax.get_legend_handles_labels()
    for other in fig.axes:
        if other is not ax:
            h, lab = other.get_legend_handles_labels()
            handles, labels = handles + h, labels + lab
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.225),
        ncol=ncol,
        fontsize=8,
        frameon=False,
        handlelength=2.5,
        columnspacing=1.2,
        borderaxespad=0,
    )


def _horizon_axis(ax: plt.Axes, quarters: list[str], history_until: str | None, n: int) -> None:
    """Fix the x axis to the whole horizon, shade the history, say when there is no data."""
    ticks = [i for i, q in enumerate(quarters) if q.endswith("Q1")]
    ax.set_xticks(ticks, [quarters[i][:4] for i in ticks])
    ax.set_xlim(-0.5, len(quarters) - 0.5)
    if history_until in quarters:
        ax.axvspan(-0.5, quarters.index(history_until) + 0.5, color="0.93", zorder=0)
        ax.set_xlabel(HISTORY_NOTE, fontsize=8, color="0.4")
    ax.grid(alpha=0.3)
    for line in ax.get_lines():  # a line of one point is invisible: mark it
        if len(line.get_xdata()) == 1:
            line.set_marker("o")
    if n == 0:
        ax.text(0.5, 0.5, NO_DATA, transform=ax.transAxes, ha="center", va="center", color="0.35")


def _history_until(scenario: Scenario) -> str | None:
    return scenario.history_until if scenario.history else None


def _leaders(overlay: pd.DataFrame, labs: list[str], n: int = 3) -> list[str]:
    """The ``n`` labs with the largest token share in the overlay's latest quarter."""
    last = overlay.iloc[-1]
    return sorted(labs, key=lambda k: -np.nan_to_num(last[f"share_tokens_{k}"]))[:n]


def lab_share_panel(
    df: pd.DataFrame,
    scenario: Scenario,
    quarters: list[str],
    overlay: pd.DataFrame | None = None,
) -> Figure:
    """Stacked token share by lab; dashed: the overlay's three leading labs together."""
    fig, ax = _panel_axes("Token share by lab (all tokens served)")
    labs = [k for k in scenario.labs if f"share_tokens_{k}" in df.columns]
    if len(df):
        # One block per quarter (edges at ±0.5), so a single quarter shows too.
        edges = (np.arange(len(df))[:, None] + np.array([-0.5, 0.5])).ravel()
        ax.stackplot(
            edges,
            [np.repeat(df[f"share_tokens_{k}"].fillna(0).to_numpy(), 2) for k in labs],
            labels=[f"{scenario.labs[k].name} ({scenario.labs[k].policy})" for k in labs],
            colors=[PANEL_COLORS.get(k, "0.5") for k in labs],
            alpha=0.9,
        )
    if overlay is not None and len(overlay) and labs:
        lead = _leaders(overlay, labs)
        ax.plot(
            np.arange(len(overlay)),
            sum(overlay[f"share_tokens_{k}"].fillna(0) for k in lead),
            color="k",
            ls="--",
            lw=2,
            label="No open weights:\n" + "+".join(scenario.labs[k].name for k in lead),
        )
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("Share of tokens")
    _horizon_axis(ax, quarters, _history_until(scenario), len(df))
    if len(df):
        _panel_legend(fig, ax, ncol=3)
    return fig


def open_share_panel(
    df: pd.DataFrame,
    scenario: Scenario,
    quarters: list[str],
    overlay: pd.DataFrame | None = None,
) -> Figure:
    """Open-weight share of tokens and of spend, and the Chinese-origin open share."""
    fig, ax = _panel_axes("Open-weight vs closed models")
    x = np.arange(len(df))
    if len(df):
        ax.plot(
            x, df["share_open_tokens"], lw=2.4, color="C0", label="Open weights: share of tokens"
        )
        ax.plot(
            x,
            df["share_open_spend"],
            lw=2.0,
            color="C0",
            ls=":",
            label="Open weights: share of spend",
        )
        ax.plot(
            x,
            df["share_open_tokens_cn"],
            lw=1.8,
            color="C3",
            label="Chinese-origin open weights: tokens",
        )
        ax.plot(
            x,
            1 - df["share_open_tokens"],
            lw=1.8,
            color="0.35",
            label="Closed APIs: share of tokens",
        )
    if overlay is not None and len(overlay):
        ax.plot(
            np.arange(len(overlay)),
            1 - overlay["share_open_tokens"].fillna(0),
            lw=1.6,
            color="0.35",
            ls="--",
            label="Closed APIs, no open weights (100%)",
        )
    ax.set_ylim(-0.02, 1.04)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("Share")
    _horizon_axis(ax, quarters, _history_until(scenario), len(df))
    if len(df):
        _panel_legend(fig, ax)
    return fig


PANEL_PRICE_SERIES = (
    ("price_closed", "Closed APIs (mean price paid)", "C1", 2.4),
    ("price_open_hosted", "Hosted open weights (mean price paid)", "C0", 2.4),
    ("price_gpt4_level", "Cheapest model at GPT-4 level", "C2", 1.8),
)
"""Price panel series: column, label, colour, line width."""


def _usd_tick(v: float, _pos: int) -> str:
    return f"${v:g}"


def _price_limits(frames: list[pd.DataFrame]) -> tuple[float, float]:
    """Log-axis limits covering every finite positive price, and at least 0.01–100 USD."""
    values = [
        f[col].to_numpy(dtype=float) for f in frames for col, *_ in PANEL_PRICE_SERIES if col in f
    ]
    finite = np.concatenate(values) if values else np.array([])
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if not finite.size:
        return 0.01, 100.0
    return min(0.01, finite.min() / 1.5), max(100.0, finite.max() * 1.5)


def price_panel(
    df: pd.DataFrame,
    scenario: Scenario,
    quarters: list[str],
    overlay: pd.DataFrame | None = None,
) -> Figure:
    """Token prices on a log axis; dashed: the same prices in the overlay."""
    fig, ax = _panel_axes("Token prices (log scale)")
    drawn = False
    for col, label, color, lw in PANEL_PRICE_SERIES:
        if col in df and df[col].notna().any():
            ax.plot(np.arange(len(df)), df[col], lw=lw, color=color, label=label)
            drawn = True
        if overlay is not None and col in overlay and overlay[col].notna().any():
            ax.plot(
                np.arange(len(overlay)),
                overlay[col],
                lw=lw * 0.8,
                color=color,
                ls="--",
                label=f"{label.split(' (')[0]}, no open weights",
            )
    ax.set_yscale("log")
    ax.set_ylim(*_price_limits([f for f in (df, overlay) if f is not None]))
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=12))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(_usd_tick))
    ax.set_ylabel("USD per million tokens")
    _horizon_axis(ax, quarters, _history_until(scenario), len(df))
    if drawn:
        _panel_legend(fig, ax)
    return fig


def quality_panel(
    df: pd.DataFrame,
    scenario: Scenario,
    quarters: list[str],
    overlay: pd.DataFrame | None = None,
) -> Figure:
    """Best closed vs best open-weight quality; the shaded band is the gap."""
    fig, ax = _panel_axes("Capability: best closed vs best open model")
    x = np.arange(len(df))
    if len(df):
        closed = df["best_closed"].to_numpy(dtype=float)
        opened = df["best_open"].to_numpy(dtype=float)
        ax.plot(x, closed, lw=2.4, color="C1", label="Best closed model")
        ax.plot(x, opened, lw=2.4, color="C0", label="Best open-weight model")
        ax.fill_between(
            x,
            opened,
            closed,
            where=np.isfinite(opened),
            color="C3",
            alpha=0.15,
            label="Quality gap",
        )
        gap = df["quality_gap"].dropna()
        if len(gap):
            ax.text(
                0.99,
                0.04,
                f"gap in {df['quarter'].iloc[-1]}: {gap.iloc[-1]:.0f} Elo",
                transform=ax.transAxes,
                ha="right",
                fontsize=10,
                color="C3",
                fontweight="bold",
            )
    if overlay is not None and len(overlay):
        ax.plot(
            np.arange(len(overlay)),
            overlay["best_closed"],
            lw=1.8,
            color="C1",
            ls="--",
            label="Best closed, no open weights",
        )
    ax.axhline(GPT4_ELO, color="0.5", lw=1, ls=":", label=f"GPT-4 (2023) = {GPT4_ELO}")
    ax.set_ylabel("Quality (Arena Elo)")
    _horizon_axis(ax, quarters, _history_until(scenario), len(df))
    _panel_legend(fig, ax)
    return fig


def meta_payoff_panel(
    df: pd.DataFrame,
    scenario: Scenario,
    quarters: list[str],
    overlay: pd.DataFrame | None = None,
) -> Figure:
    """Meta's net payoff per quarter and cumulated; dashed: the overlay's cumulative payoff."""
    fig, ax = _panel_axes("Meta: cumulative net payoff of its Llama programme")
    x = np.arange(len(df))
    if len(df):
        ax.bar(x, df["meta_net_payoff"] / 1e9, color="#0866ff", alpha=0.35, label="Per quarter")
        ax.plot(
            x,
            df["meta_net_payoff"].cumsum() / 1e9,
            lw=2.4,
            color="#0866ff",
            label="Cumulative net payoff",
        )
    if overlay is not None and len(overlay):
        ax.plot(
            np.arange(len(overlay)),
            overlay["meta_net_payoff"].cumsum() / 1e9,
            lw=1.8,
            color="#0866ff",
            ls="--",
            label="Cumulative, no open weights\n(Llama kept internal)",
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("USD billions")
    _horizon_axis(ax, quarters, _history_until(scenario), len(df))
    if len(df):
        _panel_legend(fig, ax)
    return fig


PANELS = {
    "lab-shares": lab_share_panel,
    "open-share": open_share_panel,
    "prices": price_panel,
    "quality-gap": quality_panel,
    "meta-payoff": meta_payoff_panel,
}
"""The panels, by name (the dashboard shows them in this order)."""

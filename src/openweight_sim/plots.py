"""Plots of a run (and of replications): titles, units, labelled axes and legends.

Each function takes the tidy per-quarter DataFrame of a run (``quarters.csv``) and
returns a matplotlib Figure; :func:`plot_run` writes the standard set of PNGs. Every
function also takes an ``overlay``: a second run drawn dashed on the same axes in the same
colours (e.g. the no-open-weights counterfactual), or, if it holds several replications
(a ``replication`` column), their mean dashed with the 5–95% band shaded. Labels and units
come from the column catalogue (:mod:`openweight_sim.columns`); colours, the quarter axis
with its history shading and legends from :mod:`openweight_sim.figstyle`.
Every plot also takes ``quarters`` (the x axis: a scenario's whole horizon, so that a run in
progress is drawn against the quarters still to come) and ``shade_until`` (the last shaded
quarter of history); the dashboard draws its panels with these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from openweight_sim.columns import COLUMNS
from openweight_sim.figstyle import (
    HISTORY_UNTIL,
    LAB_COLORS,
    OKABE_ITO,
    SERIES_COLORS,
    display_text,
    outside_legend,
    quarter_axis,
)

OVERLAY_LABEL = "no open weights"
"""Default legend suffix of an overlay (the counterfactual is the usual one)."""


def draw_overlay(
    ax,
    overlay: pd.DataFrame | None,
    column: str,
    label: str,
    color: str | None = None,
    lw: float = 1.6,
    values=None,
    band: bool = True,
) -> None:
    """Draw ``column`` of the overlay dashed (one run) or as a mean and 5–95% band.

    Args:
        ax: the axes (x positions are quarter indices, as in the main run).
        overlay: the second run(s), or None (nothing drawn).
        column: the column to draw.
        label: legend label.
        color: line colour (default: the axes' next colour).
        lw: line width.
        values: ``f(frame) -> Series`` computing the drawn values from a frame instead of
            reading ``column`` (e.g. a cumulative sum or a sum of columns).
        band: shade the 5–95% band of several replications (else their mean only).
    """
    if overlay is None or len(overlay) == 0:
        return
    get = values or (lambda f: f[column])
    label = display_text(label)
    runs = overlay["replication"].to_numpy() if "replication" in overlay else np.zeros(1)
    if (runs != runs[0]).any():
        per_run = overlay.assign(_v=get(overlay)).groupby("quarter", sort=False)["_v"]
        mean, lo, hi = per_run.mean(), per_run.quantile(0.05), per_run.quantile(0.95)
        x = np.arange(len(mean))
        (line,) = ax.plot(x, mean.to_numpy(), ls="--", lw=lw, color=color, label=label)
        if band:
            ax.fill_between(
                x, lo.to_numpy(), hi.to_numpy(), color=line.get_color(), alpha=0.15, lw=0
            )
        return
    ax.plot(
        np.arange(len(overlay)), get(overlay).to_numpy(), ls="--", lw=lw, color=color, label=label
    )


FIG_SIZE = (11.0, 5.2)
"""Inches of a run plot (written at 110 dpi)."""


def _fig(title: str) -> tuple[Figure, plt.Axes]:
    """A figure outside pyplot's global state (safe in the dashboard's server threads)."""
    fig = Figure(figsize=FIG_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(display_text(title), fontsize=12, loc="left")
    return fig, ax


def _time_axis(
    ax, df: pd.DataFrame, quarters: Sequence[str] | None, shade_until: str | None
) -> None:
    """The quarter axis over ``quarters`` (default: the frame's own), history shaded."""
    quarter_axis(ax, list(df["quarter"]) if quarters is None else list(quarters), shade_until)


def lab_share_plot(
    df: pd.DataFrame,
    scenario: str = "",
    labels: dict | None = None,
    overlay: pd.DataFrame | None = None,
    overlay_label: str = OVERLAY_LABEL,
    *,
    quarters: Sequence[str] | None = None,
    shade_until: str | None = HISTORY_UNTIL,
) -> Figure:
    """Stacked share of all tokens served, by lab; overlay: each lab's stacked edge, dashed."""
    cols = [c for c in df.columns if c.startswith("share_tokens_") and c[13:] in LAB_COLORS]
    cols = [c for c in cols if df[c].fillna(0).max() > 0] or cols
    fig, ax = _fig(f"Token share by model lab {scenario}".strip())
    x = range(len(df))
    names = [display_text((labels or {}).get(c[13:], c[13:])) for c in cols]
    ax.stackplot(
        x,
        [df[c].fillna(0).to_numpy() for c in cols],
        labels=names,
        colors=[LAB_COLORS[c[13:]] for c in cols],
        edgecolor="white",
        lw=0.4,
    )
    if overlay is not None:
        for k, c in enumerate(cols):
            if c in overlay:
                edge = cols[: k + 1]
                draw_overlay(
                    ax,
                    overlay,
                    c,
                    f"{names[k]}, {overlay_label} (stacked)",
                    color=LAB_COLORS[c[13:]],
                    values=lambda f, edge=edge: f[edge].fillna(0).sum(axis=1),
                    band=False,  # eight stacked bands would hide the stack
                )
    ax.set_ylabel("Share of all tokens served (API, hosted and self-hosted)")
    ax.set_ylim(0, 1)
    _time_axis(ax, df, quarters, shade_until)
    outside_legend(ax, title="Lab (model family)")
    return fig


def open_share_plot(
    df: pd.DataFrame,
    scenario: str = "",
    overlay: pd.DataFrame | None = None,
    overlay_label: str = OVERLAY_LABEL,
    *,
    quarters: Sequence[str] | None = None,
    shade_until: str | None = HISTORY_UNTIL,
) -> Figure:
    """Open-weight share of tokens and of spend, and the Chinese-origin open share."""
    fig, ax = _fig(f"Open-weight vs closed models: shares of tokens and spend {scenario}".strip())
    x = range(len(df))
    blue, vermillion = SERIES_COLORS[0], SERIES_COLORS[1]
    ax.plot(x, df["share_open_tokens"], lw=2.2, color=blue, label="Open weights: share of tokens")
    ax.plot(
        x, df["share_open_spend"], lw=2.2, ls="--", color=blue, label="Open weights: share of spend"
    )
    ax.plot(
        x,
        df["share_open_tokens_cn"],
        lw=1.6,
        color=vermillion,
        label="Chinese-origin open: share of tokens",
    )
    ax.plot(
        x, 1 - df["share_open_tokens"], lw=1.6, color="0.3", label="Closed APIs: share of tokens"
    )
    draw_overlay(
        ax,
        overlay,
        "share_open_tokens",
        f"Closed APIs: share of tokens, {overlay_label}",
        color="0.3",
        values=lambda f: 1 - f["share_open_tokens"].fillna(0),
    )
    ax.set_ylabel("Share of all tokens or of all spend (0–1)")
    ax.set_ylim(0, 1)
    _time_axis(ax, df, quarters, shade_until)
    outside_legend(ax)
    return fig


PRICE_SERIES = (
    ("price_closed", "-", 2.2),
    ("price_open_hosted", "-", 2.2),
    ("price_gpt4_level", "--", 1.8),
    ("price_self_host", ":", 1.8),
)
"""Price columns of :func:`price_plot`: column, line style, width (labels: the catalogue)."""


def price_plot(
    df: pd.DataFrame,
    scenario: str = "",
    overlay: pd.DataFrame | None = None,
    overlay_label: str = OVERLAY_LABEL,
    *,
    quarters: Sequence[str] | None = None,
    shade_until: str | None = HISTORY_UNTIL,
) -> Figure:
    """Prices on a log axis: closed APIs, hosted open, GPT-4 level, self-hosting."""
    fig, ax = _fig(f"Token prices {scenario}".strip())
    x = range(len(df))
    for k, (col, ls, lw) in enumerate(PRICE_SERIES):
        label = COLUMNS[col].chart_title
        color = SERIES_COLORS[k]
        if col in df and df[col].notna().any():
            ax.plot(x, df[col], ls=ls, lw=lw, color=color, label=label)
        if overlay is not None and col in overlay and overlay[col].notna().any():
            name = label.split(" (")[0]
            draw_overlay(ax, overlay, col, f"{name}, {overlay_label}", color, lw * 0.8)
    ax.set_yscale("log")
    ax.set_ylabel("USD per million tokens (3:1 input:output blend, log scale)")
    _time_axis(ax, df, quarters, shade_until)
    outside_legend(ax)  # nothing to name before the first quarter
    return fig


def quality_gap_plot(
    df: pd.DataFrame,
    scenario: str = "",
    overlay: pd.DataFrame | None = None,
    overlay_label: str = OVERLAY_LABEL,
    *,
    quarters: Sequence[str] | None = None,
    shade_until: str | None = HISTORY_UNTIL,
) -> Figure:
    """Best closed vs best open quality and the gap between them."""
    fig, ax = _fig(f"Capability: best closed vs best open model {scenario}".strip())
    x = range(len(df))
    for k, col in enumerate(("best_closed", "best_open")):
        c = COLUMNS[col]
        (line,) = ax.plot(x, df[col], lw=2.2, color=SERIES_COLORS[k], label=c.label)
        if overlay is not None and col in overlay and overlay[col].notna().any():
            draw_overlay(ax, overlay, col, f"{c.label}, {overlay_label}", line.get_color())
    ax.axhline(1186, color="0.5", lw=1, ls=":", label="GPT-4 (0314) level = 1186")
    ax.set_ylabel(COLUMNS["best_closed"].axis_label)
    ax2 = ax.twinx()
    ax2.bar(x, df["quality_gap"], alpha=0.3, color="0.55", label="Gap (bars, right axis)")
    ax2.set_ylabel("Gap: best closed − best open (Elo points)")
    ax.set_zorder(ax2.get_zorder() + 1)  # lines and the history shading above the gap bars
    ax.patch.set_visible(False)
    _time_axis(ax, df, quarters, shade_until)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    outside_legend(ax, h1 + h2, l1 + l2, below=True)
    return fig


META_PARTS = (
    ("meta_avoided_inference", "Avoided inference spend", OKABE_ITO["blue"]),
    ("meta_ad_lift", "Ad-revenue lift", OKABE_ITO["orange"]),
    ("meta_ecosystem_value", "Ecosystem value", OKABE_ITO["bluish_green"]),
)
"""Benefit components of Meta's payoff: column, legend label, colour."""
META_COST_COLOR = "0.55"
META_LEVEL_NOTE = "level of the programme's payoff, not a gain over a world without open weights"


def _meta_costs(df: pd.DataFrame) -> pd.Series:
    """Meta's quarterly costs of the programme (training and the capex share), in USD."""
    return df["meta_training_cost"] + df["meta_capex_share"]


def meta_payoff_plot(
    df: pd.DataFrame,
    scenario: str = "",
    overlay: pd.DataFrame | None = None,
    overlay_label: str = OVERLAY_LABEL,
    *,
    quarters: Sequence[str] | None = None,
    shade_until: str | None = HISTORY_UNTIL,
) -> Figure:
    """Meta's quarterly payoff from its Llama programme, by component (a level, per quarter).

    This is what the programme earns and costs in the scenario, not its value relative to a
    world without open weights (that is the counterfactual comparison).
    """
    fig, ax = _fig(f"Meta's open-weight programme: payoff per quarter {scenario}".strip())
    x = range(len(df))
    bottom = pd.Series(0.0, index=df.index)
    for col, label, color in META_PARTS:
        ax.bar(x, df[col] / 1e9, bottom=bottom / 1e9, label=label, color=color, alpha=0.85)
        bottom = bottom + df[col]
    ax.bar(
        x, -_meta_costs(df) / 1e9, label="Training + capex share", color=META_COST_COLOR, alpha=0.85
    )
    net = COLUMNS["meta_net_payoff"]
    ax.plot(x, df["meta_net_payoff"] / 1e9, color="k", lw=2, marker="o", ms=3, label="Net payoff")
    draw_overlay(
        ax,
        overlay,
        net.name,
        f"Net payoff, {overlay_label}",
        "k",
        values=lambda f: f[net.name] * net.scale,
    )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel(f"{net.axis_label}\n({META_LEVEL_NOTE.split(',')[0]})")
    _time_axis(ax, df, quarters, shade_until)
    outside_legend(ax)
    return fig


def meta_cumulative_plot(
    df: pd.DataFrame,
    scenario: str = "",
    overlay: pd.DataFrame | None = None,
    overlay_label: str = OVERLAY_LABEL,
    *,
    quarters: Sequence[str] | None = None,
    shade_until: str | None = HISTORY_UNTIL,
) -> Figure:
    """Meta's payoff summed since the first quarter: benefits, costs and the net.

    The quarterly payoff saw-tooths with training lumps; the running sums show the trend.
    """
    start = df["quarter"].iloc[0] if len(df) else ""
    fig, ax = _fig(
        f"Meta's open-weight programme: cumulative payoff since {start} {scenario}".strip()
    )
    x = np.arange(len(df))
    benefits = sum(df[col] for col, _, _ in META_PARTS)
    ax.fill_between(
        x,
        0,
        benefits.cumsum() / 1e9,
        color=OKABE_ITO["orange"],
        alpha=0.35,
        lw=0,
        label="Benefits (avoided inference, ad lift, ecosystem)",
    )
    ax.fill_between(
        x,
        0,
        -_meta_costs(df).cumsum() / 1e9,
        color=META_COST_COLOR,
        alpha=0.45,
        lw=0,
        label="Costs (training + capex share)",
    )
    ax.plot(x, df["meta_net_payoff"].cumsum() / 1e9, color="k", lw=2.2, label="Net payoff")
    draw_overlay(
        ax,
        overlay,
        "meta_net_payoff",
        f"Net payoff, {overlay_label}",
        "k",
        values=lambda f: (
            f.groupby("replication", sort=False)["meta_net_payoff"].cumsum() / 1e9
            if "replication" in f
            else f["meta_net_payoff"].cumsum() / 1e9
        ),
    )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel(f"USD billions, summed since {start}\n({META_LEVEL_NOTE.split(',')[0]})")
    _time_axis(ax, df, quarters, shade_until)
    outside_legend(ax)
    return fig


PLOTS = {
    "token_share_by_lab": lab_share_plot,
    "open_vs_closed_share": open_share_plot,
    "prices": price_plot,
    "quality_gap": quality_gap_plot,
    "meta_payoff": meta_payoff_plot,
    "meta_payoff_cumulative": meta_cumulative_plot,
}


def plot_run(
    df: pd.DataFrame,
    out_dir: str | Path,
    scenario: str = "",
    overlay: pd.DataFrame | None = None,
    overlay_label: str = OVERLAY_LABEL,
    history: str | None = HISTORY_UNTIL,
) -> list[Path]:
    """Write the standard PNGs of one run into ``out_dir``; returns their paths.

    Args:
        df: the run's per-quarter frame.
        out_dir: folder of the PNGs (created).
        scenario: scenario name for the titles.
        overlay: a second run (or replications) drawn dashed on the same axes.
        overlay_label: how the legends name the overlay.
        history: last quarter of the replayed history (hatched), None for none.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = f"— {scenario}" if scenario else ""
    paths = []
    for name, fn in PLOTS.items():
        fig = fn(df, label, overlay=overlay, overlay_label=overlay_label, shade_until=history)
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths

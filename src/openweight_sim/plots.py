"""Plots of a run (and of replications): titles, units, labelled axes and legends.

Each function takes the tidy per-quarter DataFrame of a run (``quarters.csv``) and
returns a matplotlib Figure; :func:`plot_run` writes the standard set of PNGs. Every
function also takes an ``overlay``: a second run drawn dashed on the same axes in the same
colours (e.g. the no-open-weights counterfactual), or, if it holds several replications
(a ``replication`` column), their mean dashed with the 5–95% band shaded. Labels and units
come from the column catalogue (:mod:`openweight_sim.columns`); :func:`quarter_axis` is the
one quarter axis of every chart in the package.
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

LAB_COLORS = {
    "openai": "#10a37f",
    "anthropic": "#d97757",
    "google": "#4285f4",
    "meta": "#0b3d91",
    "mistral": "#fa520f",
    "deepseek": "#17becf",
    "alibaba": "#ffb000",
    "moonshot": "#6b4fbb",
}
"""Lab colours: brand colours, with Meta, DeepSeek and Alibaba set apart from Google's blue
and Mistral's orange so that neighbouring bands of a stacked plot can be told apart."""
HISTORY_NOTE = "shaded: historical releases (to 2024Q4); after: projection"
HISTORY_UNTIL = "2024Q4"
"""Last quarter of the replayed release history in the bundled scenarios (shaded)."""
OVERLAY_LABEL = "no open weights"
"""Default legend suffix of an overlay (the counterfactual is the usual one)."""


def quarter_axis(ax, quarters: list[str], shade_until: str | None = None) -> None:
    """The quarter axis: a tick per year at Q1, quarters before ``shade_until`` shaded.

    Args:
        ax: the axes; x positions are indices into ``quarters``.
        quarters: the quarter labels of the x axis, in time order.
        shade_until: last quarter of a shaded span (history, in-sample window), if any.
    """
    ticks = [i for i, q in enumerate(quarters) if q.endswith("Q1")] or list(range(len(quarters)))
    ax.set_xticks(ticks, [quarters[i][:4] for i in ticks])
    ax.set_xlabel("Quarter (ticks at Q1)")
    if shade_until in quarters:
        ax.axvspan(-0.5, quarters.index(shade_until) + 0.5, color="0.93", zorder=0)
    ax.set_xlim(-0.5, len(quarters) - 0.5)
    ax.grid(alpha=0.3)


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


FIG_SIZE = (9.0, 5.0)
"""Inches of a run plot (written at 110 dpi)."""


def _fig(title: str) -> tuple[Figure, plt.Axes]:
    """A figure outside pyplot's global state (safe in the dashboard's server threads)."""
    fig = Figure(figsize=FIG_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=12, loc="left")
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
    names = [(labels or {}).get(c[13:], c[13:]) for c in cols]
    ax.stackplot(
        x,
        [df[c].fillna(0).to_numpy() for c in cols],
        labels=names,
        colors=[LAB_COLORS[c[13:]] for c in cols],
        alpha=0.9,
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
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="Lab (model family)")
    ax.text(0.0, -0.16, HISTORY_NOTE, transform=ax.transAxes, fontsize=8, color="0.4")
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
    fig, ax = _fig(f"Open-weight vs closed models {scenario}".strip())
    x = range(len(df))
    ax.plot(x, df["share_open_tokens"], lw=2.2, label="Open weights: share of tokens")
    ax.plot(x, df["share_open_spend"], lw=2.2, ls="--", label="Open weights: share of spend")
    ax.plot(x, df["share_open_tokens_cn"], lw=1.6, label="Chinese-origin open: share of tokens")
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
    ax.set_ylabel("Share (0–1)")
    ax.set_ylim(0, 1)
    _time_axis(ax, df, quarters, shade_until)
    ax.legend(loc="upper left", fontsize=9)
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
    for col, ls, lw in PRICE_SERIES:
        label = COLUMNS[col].chart_title
        color = None
        if col in df and df[col].notna().any():
            (line,) = ax.plot(x, df[col], ls=ls, lw=lw, label=label)
            color = line.get_color()
        if overlay is not None and col in overlay and overlay[col].notna().any():
            name = label.split(" (")[0]
            draw_overlay(ax, overlay, col, f"{name}, {overlay_label}", color, lw * 0.8)
    ax.set_yscale("log")
    ax.set_ylabel("USD per million tokens (3:1 input:output blend, log scale)")
    _time_axis(ax, df, quarters, shade_until)
    if ax.get_legend_handles_labels()[0]:  # nothing to name before the first quarter
        ax.legend(loc="upper right", fontsize=9)
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
    for col in ("best_closed", "best_open"):
        c = COLUMNS[col]
        (line,) = ax.plot(x, df[col], lw=2.2, label=c.label)
        if overlay is not None and col in overlay and overlay[col].notna().any():
            draw_overlay(ax, overlay, col, f"{c.label}, {overlay_label}", line.get_color())
    ax.axhline(1186, color="0.5", lw=1, ls=":", label="GPT-4 (0314) level = 1186")
    ax.set_ylabel(COLUMNS["best_closed"].axis_label)
    ax2 = ax.twinx()
    ax2.bar(x, df["quality_gap"], alpha=0.2, color="C3", label="Gap (right axis)")
    ax2.set_ylabel("Gap: best closed − best open (Elo points)")
    _time_axis(ax, df, quarters, shade_until)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=9)
    return fig


def meta_payoff_plot(
    df: pd.DataFrame,
    scenario: str = "",
    overlay: pd.DataFrame | None = None,
    overlay_label: str = OVERLAY_LABEL,
    *,
    quarters: Sequence[str] | None = None,
    shade_until: str | None = HISTORY_UNTIL,
) -> Figure:
    """Meta's quarterly payoff from its Llama programme, by channel (``meta.payoff``)."""
    fig, ax = _fig(f"Meta's payoff from open weights {scenario}".strip())
    x = range(len(df))
    parts = [
        ("meta_payoff_ecosystem", "Ecosystem returns"),
        ("meta_payoff_api", "API revenue"),
        ("meta_payoff_input_cost", "Input cost of own AI"),
        ("meta_payoff_moat", "Rival moat / attention"),
        ("meta_payoff_leakage", "Capability leakage"),
        ("meta_payoff_training", "Training (amortised) + capex"),
    ]
    up = pd.Series(0.0, index=df.index)
    down = pd.Series(0.0, index=df.index)
    for col, label in parts:
        v = df[col]
        base = up.where(v >= 0, down)
        ax.bar(x, v / 1e9, bottom=base / 1e9, label=label, alpha=0.85)
        up, down = up + v.clip(lower=0), down + v.clip(upper=0)
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
    ax.set_ylabel(net.axis_label)
    _time_axis(ax, df, quarters, shade_until)
    ax.legend(loc="upper left", fontsize=9)
    return fig


PLOTS = {
    "token_share_by_lab": lab_share_plot,
    "open_vs_closed_share": open_share_plot,
    "prices": price_plot,
    "quality_gap": quality_gap_plot,
    "meta_payoff": meta_payoff_plot,
}


def plot_run(
    df: pd.DataFrame,
    out_dir: str | Path,
    scenario: str = "",
    overlay: pd.DataFrame | None = None,
    overlay_label: str = OVERLAY_LABEL,
) -> list[Path]:
    """Write the standard PNGs of one run into ``out_dir``; returns their paths.

    Args:
        df: the run's per-quarter frame.
        out_dir: folder of the PNGs (created).
        scenario: scenario name for the titles.
        overlay: a second run (or replications) drawn dashed on the same axes.
        overlay_label: how the legends name the overlay.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = f"— {scenario}" if scenario else ""
    paths = []
    for name, fn in PLOTS.items():
        fig = fn(df, label, overlay=overlay, overlay_label=overlay_label)
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths

"""Simulated against observed: one panel per group of facts (``validation.png``).

Each panel shows the simulated mean per quarter with its 5–95% band over replications and
the observed facts as points with their tolerance bars. Prices use a log axis. The
in-sample window (to 2024Q4) is shaded; quarters after it are the model's projection.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from openweight_sim.calibration.facts import IN_SAMPLE_END, MODEL_COLUMN
from openweight_sim.figstyle import SERIES_COLORS, display_text, outside_legend, quarter_axis

PANELS: list[tuple[str, list[str], str, bool]] = [
    (
        "Price at GPT-4 level (cheapest API, Arena ≥ 1186)",
        ["price_gpt4_level"],
        "USD per million tokens",
        True,
    ),
    (
        "Hosted Llama 70B-class price (median host)",
        ["price_open_hosted_70b"],
        "USD per million tokens",
        True,
    ),
    ("Quality gap: best closed − best open", ["quality_gap"], "Elo", False),
    (
        "Closed list prices: OpenAI flagship, cheapest small",
        ["closed_flagship_price", "closed_small_price"],
        "USD per million tokens",
        True,
    ),
    (
        "Enterprise: API spend shares, open workload share",
        [
            "enterprise_spend_share_openai",
            "enterprise_spend_share_anthropic",
            "open_share_enterprise_workloads",
        ],
        "share (0–1)",
        False,
    ),
    ("H100 rental (exogenous input)", ["h100_rental_usd_per_hour"], "USD/GPU-hour", False),
]
"""(title, fact metrics, unit, log axis) per panel."""

COLORS = SERIES_COLORS[:3]
SHORT = {
    "closed_flagship_price": "OpenAI flagship",
    "closed_small_price": "cheapest closed small",
    "enterprise_spend_share_openai": "OpenAI spend",
    "enterprise_spend_share_anthropic": "Anthropic spend",
    "open_share_enterprise_workloads": "open workloads",
}


def log_axis(ax) -> None:
    """A log y axis with plain-number labels, at 1-2-5 steps when it spans few decades.

    A panel spanning under about two decades (e.g. 0.3–8 USD) would otherwise show a single
    labelled tick.
    """
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    if np.log10(hi / lo) < 2.5:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(NullFormatter())


def quarter_bands(sim: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Mean, 5th and 95th percentile over replications per quarter of ``columns``.

    Returns:
        A frame indexed by quarter (in simulation order) with a column MultiIndex
        ``(column, stat)``, stat in mean / p5 / p95.
    """
    order = list(dict.fromkeys(sim["quarter"]))
    cols = [c for c in columns if c in sim.columns]
    g = sim.groupby("quarter", sort=False)[cols]
    out = pd.concat(
        {"mean": g.mean(), "p5": g.quantile(0.05), "p95": g.quantile(0.95)}, axis=1
    ).swaplevel(axis=1)
    return out.reindex(order)


def validation_figure(sim: pd.DataFrame, card: pd.DataFrame, title: str = "") -> Figure:
    """The multi-panel overlay of simulated bands and observed facts.

    Args:
        sim: stacked per-quarter frames of the replications.
        card: the scorecard (observed, low, high, within_tolerance per fact).
        title: figure title.
    """
    cols = [MODEL_COLUMN[m] for _, ms, _, _ in PANELS for m in ms]
    bands = quarter_bands(sim, cols)
    quarters = list(bands.index)
    x = np.arange(len(quarters))
    pos = {q: i for i, q in enumerate(quarters)}
    fig, axes = plt.subplots(3, 2, figsize=(13, 15), layout="constrained")
    for ax, (ptitle, metrics, unit, log) in zip(axes.flat, PANELS, strict=True):
        for k, metric in enumerate(metrics):
            color = COLORS[k % len(COLORS)]
            col = MODEL_COLUMN[metric]
            name = f"{SHORT[metric]}: " if len(metrics) > 1 else ""
            if col in bands.columns.get_level_values(0):
                b = bands[col]
                ax.plot(
                    x,
                    b["mean"],
                    color=color,
                    lw=1.8,
                    marker="o",
                    ms=2.5,
                    label=f"{name}simulated mean, 5–95%",
                )
                ax.fill_between(x, b["p5"], b["p95"], color=color, alpha=0.18, lw=0)
            f = card[card["metric"] == metric]
            f = f[f["period"].isin(pos)]
            if len(f):
                fx = f["period"].map(pos).to_numpy(float) + 0.08 * (k - 1)
                obs = f["observed"].to_numpy(float)
                yerr = np.vstack([obs - f["low"].to_numpy(float), f["high"].to_numpy(float) - obs])
                ax.errorbar(
                    fx,
                    obs,
                    yerr=yerr,
                    fmt="o",
                    color=color,
                    mec="black",
                    mew=0.6,
                    ms=6,
                    capsize=3,
                    lw=1.0,
                    label=f"{name}observed, tolerance",
                )
                miss = ~f["within_tolerance"].to_numpy(bool)
                if miss.any():
                    ax.scatter(fx[miss], obs[miss], marker="x", s=70, color="black", zorder=5)
        if log:
            log_axis(ax)
        ax.set_title(ptitle, fontsize=10.5, loc="left")
        ax.set_ylabel(unit)
        quarter_axis(ax, quarters, IN_SAMPLE_END, ("in-sample", "out of sample"))
        outside_legend(ax, below=True, fontsize=7.5, bbox_to_anchor=(0.0, -0.16))
    fig.suptitle(
        (display_text(title) + "\n" if title else "")
        + "lines: simulated mean, bands: 5–95% over replications; points: observed with "
        "tolerance, x = miss; hatched: in-sample 2023Q1–2024Q4",
        fontsize=10,
    )
    return fig


def validation_title(scenario: str, replications: int) -> str:
    """The title of ``validation.png``: the scenario and how many replications it shows."""
    return f"{scenario}: simulated ({replications} replications) vs observed"


def plot_validation(sim: pd.DataFrame, card: pd.DataFrame, path: Path, title: str = "") -> Path:
    """Draw :func:`validation_figure` to ``path`` (PNG) and return the path."""
    fig = validation_figure(sim, card, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

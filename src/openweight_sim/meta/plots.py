"""Figures of the value of openness to Meta: the channel waterfall and the stacked time path.

Both read a :class:`~openweight_sim.meta.value.MetaValue` (or its tables) and return a
matplotlib figure outside pyplot's global state (safe in the dashboard's server threads);
money is shown in USD billions, discounted to the run's first quarter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from openweight_sim.figstyle import HISTORY_NOTE, HISTORY_UNTIL, quarter_axis
from openweight_sim.meta.payoff import CHANNELS

if TYPE_CHECKING:
    from openweight_sim.meta.value import MetaValue

LABELS = {
    "moat": "Rival moat / attention",
    "leakage": "Capability leakage",
    "input_cost": "Input cost of own AI",
    "ecosystem": "Ecosystem returns",
    "api": "Forgone API",
    "training": "Training & capex openness adds",
}
"""Display names of the channels."""
COLORS = {
    "moat": "#0b3d91",
    "leakage": "#d62728",
    "input_cost": "#17becf",
    "ecosystem": "#2ca02c",
    "api": "#9467bd",
    "training": "#7f7f7f",
}
BN = 1e-9


def waterfall(summary: pd.DataFrame, title: str):
    """Waterfall of the cumulative discounted value by channel, ending at the total.

    Args:
        summary: :meth:`MetaValue.summary` (channel, mean, lo, hi, n).
        title: the figure's title.
    """
    s = summary.set_index("channel")
    fig = Figure(figsize=(10.5, 5.2))
    ax = fig.add_subplot()
    start = 0.0
    for i, c in enumerate(CHANNELS):
        m = float(s.loc[c, "mean"]) * BN
        ax.bar(i, m, bottom=start, color=COLORS[c], label=LABELS[c])
        err = np.array([[m - s.loc[c, "lo"] * BN], [s.loc[c, "hi"] * BN - m]])
        ax.errorbar(i, start + m, yerr=np.abs(err), color="black", capsize=3, lw=1)
        start += m
    total = s.loc["openness"]
    n = len(CHANNELS)
    ax.bar(n, total["mean"] * BN, color="black", label="Value of openness (sum)")
    ax.errorbar(
        n,
        total["mean"] * BN,
        yerr=[[(total["mean"] - total["lo"]) * BN], [(total["hi"] - total["mean"]) * BN]],
        color="0.5",
        capsize=4,
    )
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(range(n + 1), [*(LABELS[c] for c in CHANNELS), "Total"], rotation=25, ha="right")
    ax.set_ylabel("USD billions, discounted to the first quarter")
    ax.set_xlabel(f"Channel (bars: mean; whiskers: 95% interval, n = {int(total['n'])})")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def stacked(value: pd.DataFrame, title: str, quarters: list[str] | None = None, note: bool = True):
    """Cumulative discounted value by channel over time (mean over replications), stacked.

    Positive channels stack above zero, negative ones below; the black line is the total.

    Args:
        value: :attr:`MetaValue.value`.
        title: the figure's title.
        quarters: the x axis's quarters (default: those of ``value``); later ones stay empty.
        note: add the history/projection note under the title.
    """
    cols = [f"meta_value_{c}_cumulative" for c in CHANNELS]
    mean = value.groupby("quarter", sort=False)[[*cols, "meta_value_openness_cumulative"]].mean()
    quarters = list(mean.index) if quarters is None else list(quarters)
    x = np.arange(len(mean))
    fig = Figure(figsize=(8.5, 4.8))
    ax = fig.add_subplot()
    pos = np.zeros(len(x))
    neg = np.zeros(len(x))
    for c, col in zip(CHANNELS, cols, strict=True):
        v = mean[col].to_numpy() * BN
        up, down = np.clip(v, 0, None), np.clip(v, None, 0)
        ax.fill_between(x, pos, pos + up, color=COLORS[c], alpha=0.8, label=LABELS[c], lw=0)
        ax.fill_between(x, neg, neg + down, color=COLORS[c], alpha=0.8, lw=0)
        pos, neg = pos + up, neg + down
    ax.plot(x, mean["meta_value_openness_cumulative"] * BN, color="black", lw=2, label="Total")
    ax.axhline(0.0, color="black", lw=0.8)
    quarter_axis(ax, quarters, HISTORY_UNTIL)
    ax.set_ylabel("Cumulative value, USD billions (discounted)")
    ax.set_title(f"{title}\n{HISTORY_NOTE}" if note else title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def save_figures(result: MetaValue, directory: Path) -> list[Path]:
    """Write the waterfall and the stacked plot of ``result`` as PNGs; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    n = len(result.seeds)
    name = result.scenario.name
    figs = {
        "meta_value_waterfall.png": waterfall(
            result.summary(),
            f"What openness pays Meta, {name}: cumulative value by channel ({n} paired runs)",
        ),
        "meta_value_stacked.png": stacked(
            result.value, f"Value of openness to Meta over time by channel, {name}"
        ),
    }
    paths = []
    for fname, fig in figs.items():
        fig.savefig(directory / fname, dpi=110)
        paths.append(directory / fname)
    return paths

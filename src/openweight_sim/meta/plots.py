"""Figures of the value of openness to Meta: waterfall, stacked time path, posterior intervals.

The first two read a :class:`~openweight_sim.meta.value.MetaValue` (or its tables), the
third the decomposition of a :class:`~openweight_sim.meta.predictive.MetaValuePosterior`;
all return a matplotlib figure outside pyplot's global state (safe in the dashboard's
server threads); money is shown in USD billions, discounted to the run's first quarter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from openweight_sim.figstyle import HISTORY_NOTE, HISTORY_UNTIL, OKABE_ITO, quarter_axis
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


def _interval_marks(ax, x: float, r: pd.Series, color: str, legend: bool) -> None:
    """One channel of :func:`value_posterior`: whisker, draw-mean bar, mean dot, share."""
    ax.plot(
        [x, x],
        [r["lo"] * BN, r["hi"] * BN],
        color="0.35",
        lw=1.2,
        zorder=2,
        label="95% predictive interval (parameters and run-to-run noise)" if legend else None,
    )
    ax.plot(
        [x, x],
        [r["param_lo"] * BN, r["param_hi"] * BN],
        color=color,
        lw=9,
        alpha=0.45,
        solid_capstyle="butt",
        zorder=3,
        label="95% interval of the draw means (parameters)" if legend else None,
    )
    ax.plot(
        x,
        r["mean"] * BN,
        "o",
        color=color,
        mec="white",
        ms=8,
        zorder=4,
        label="mean over all runs" if legend else None,
    )
    share = r["share_parameters"]
    text = "–" if not np.isfinite(share) else f"{share:.0%}"
    ax.annotate(
        text,
        (x, r["hi"] * BN),
        xytext=(0, 5),
        textcoords="offset points",
        ha="center",
        fontsize=8,
    )


def value_posterior(table: pd.DataFrame, title: str):
    """Value of openness by channel over posterior draws: mean and two 95% intervals.

    Per channel (and the total, and the value from Meta's first review on where the run
    reaches it): a dot at the mean over all runs, a thick bar over the interval of the draw
    means (parameter uncertainty alone) and a thin whisker over the predictive interval (all
    runs: parameters and run-to-run noise); the parameters' share of the variance is written
    above each.

    Args:
        table: :meth:`~openweight_sim.meta.predictive.MetaValuePosterior.decomposition`.
        title: the figure's title.
    """
    t = table.set_index("channel")
    items = ["openness", *CHANNELS]
    names = {"openness": "Value of openness (total)", **LABELS}
    colors = {"openness": "black", **COLORS}
    if "forward" in t.index and np.isfinite(t.loc["forward", "mean"]):
        items.append("forward")
        names["forward"] = f"Total from first review ({t.loc['forward', 'from']})"
        colors["forward"] = OKABE_ITO["reddish_purple"]
    fig = Figure(figsize=(10.5, 5.4))
    ax = fig.add_subplot()
    for i, c in enumerate(items):
        _interval_marks(ax, i, t.loc[c], colors[c], legend=i == 0)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(range(len(items)), [names[c] for c in items], rotation=25, ha="right")
    ax.set_ylabel("USD billions (bn USD), discounted to the first quarter")
    n, reps = int(t.loc["openness", "draws"]), t.loc["openness", "replications"]
    ax.set_xlabel(
        f"Channel ({n} posterior draws × {reps:g} paired runs; number above: share of the "
        "variance from the parameters)"
    )
    ax.set_title(title)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(axis="y", alpha=0.3)
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

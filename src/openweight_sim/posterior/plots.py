"""Figures of the posterior: marginals, pairs, per-fact hit rates, projection bands.

Every parameter is drawn on the scale of its prior (a log axis for a log-uniform prior),
with the prior's density, the CMA-ES point and the posterior's 95% interval marked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from openweight_sim.posterior.priors import Prior

UNITS = "dimensionless coefficients of the choice model"
"""What the free parameters are measured in (coefficients of the choice model)."""


def _short(name: str) -> str:
    return name.replace("developers.", "").replace("segments.", "").replace("pricing.", "")


def _log_axis(axis, set_scale) -> None:
    """A log axis with plain-number tick labels (0.3, 1, 3 rather than 3×10⁻¹)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    set_scale("log")
    # 1-2-5 ticks: a prior spanning less than a decade (2 to 10) still gets several labels
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(NullFormatter())


def _bins(p: Prior, values: np.ndarray, n: int = 30) -> np.ndarray:
    lo, hi = (p.low, p.high) if p.kind != "normal" else (values.min(), values.max())
    if p.log:
        return np.geomspace(lo, hi, n + 1)
    return np.linspace(lo, hi, n + 1)


def marginals_figure(
    particles: pd.DataFrame, priors: Sequence[Prior], point: Mapping[str, float]
) -> plt.Figure:
    """One panel per parameter: weighted posterior histogram, prior density, CMA-ES point."""
    k = len(priors)
    cols = min(3, k)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(axes).ravel()
    w = particles["weight"].to_numpy(float)
    for ax, p in zip(axes, priors, strict=False):
        v = particles[p.name].to_numpy(float)
        bins = _bins(p, v)
        ax.hist(v, bins=bins, weights=w, density=True, color="C0", alpha=0.6, label="posterior")
        if p.kind != "normal":
            x = np.geomspace(p.low, p.high, 200) if p.log else np.linspace(p.low, p.high, 200)
            dens = (
                1 / (x * math.log(p.high / p.low))
                if p.log
                else np.full_like(x, 1 / (p.high - p.low))
            )
            ax.plot(x, dens, color="0.4", ls="--", lw=1.2, label="prior")
        if p.name in point:
            ax.axvline(point[p.name], color="C3", lw=1.8, label="CMA-ES point")
        if p.log:
            _log_axis(ax.xaxis, ax.set_xscale)
        ax.set_title(_short(p.name), fontsize=10, loc="left")
        ax.set_xlabel(f"value ({'log axis' if p.log else 'linear axis'})")
        ax.set_ylabel("density (per unit of value)")
    for ax in axes[k:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Posterior marginals of the free parameters ({UNITS})", fontsize=12)
    return fig


def pairs_figure(
    particles: pd.DataFrame, priors: Sequence[Prior], point: Mapping[str, float]
) -> plt.Figure:
    """Pairwise posterior: weighted scatter below the diagonal, histograms on it.

    A particle's opacity grows with its weight (floored, so that every particle shows).
    """
    k = len(priors)
    size = max(1.6, min(2.4, 16 / k))
    fig, axes = plt.subplots(k, k, figsize=(size * k, size * k), layout="constrained")
    axes = np.atleast_2d(axes)
    w = particles["weight"].to_numpy(float)
    alpha = np.clip(w / w.max(), 0.3, 1.0)  # heavier particles darker, none invisible
    for i, pi in enumerate(priors):
        for j, pj in enumerate(priors):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            x = particles[pj.name].to_numpy(float)
            if i == j:
                ax.hist(x, bins=_bins(pj, x, 20), weights=w, color="C0", alpha=0.7)
            else:
                y = particles[pi.name].to_numpy(float)
                ax.scatter(x, y, s=6, c="C0", alpha=alpha, lw=0)
                if pi.name in point and pj.name in point:
                    ax.plot(point[pj.name], point[pi.name], "x", color="C3", ms=7, mew=2)
                if pi.log:
                    _log_axis(ax.yaxis, ax.set_yscale)
            if pj.log:
                _log_axis(ax.xaxis, ax.set_xscale)
            ax.tick_params(labelsize=6)
            if i == k - 1:
                ax.set_xlabel(_short(pj.name), fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(_short(pi.name), fontsize=7)
    fig.suptitle(
        f"Posterior pairs ({UNITS}; x = CMA-ES point; diagonal: weighted histogram)", fontsize=11
    )
    return fig


def hit_rates_figure(check: pd.DataFrame) -> plt.Figure:
    """Per-fact hit rates under the posterior and at the CMA-ES point."""
    fig, ax = plt.subplots(figsize=(max(8, 0.28 * len(check)), 4.5), layout="constrained")
    x = np.arange(len(check))
    ax.bar(x - 0.2, check["hit_point"], width=0.4, color="C3", label="CMA-ES point")
    ax.bar(x + 0.2, check["hit_posterior"], width=0.4, color="C0", label="posterior")
    ax.set_xticks(x, check["id"], rotation=90, fontsize=7)
    if "not_worse_within_noise" in check:
        worse = ~check["not_worse_within_noise"].to_numpy(bool)
        if worse.any():
            ax.plot(x[worse], np.full(worse.sum(), 1.08), "v", color="k", markersize=5,
                    label="posterior worse beyond noise (paired, one-sided 5%)")  # fmt: skip
    ax.set_ylim(0, 1.13)
    ax.set_xlabel("In-sample fact (id)")
    ax.set_ylabel("Share of runs within the fact's band (0–1)")
    ax.set_title("Per-fact hit rates: posterior vs CMA-ES point", loc="left")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def projection_figure(
    posterior: pd.DataFrame,
    point: pd.DataFrame,
    column: str,
    scenario: str,
    shade_until: str,
) -> plt.Figure | None:
    """Projection of one column: posterior-predictive 5–95% band and the point's band.

    Args:
        posterior: per-quarter frames of the posterior draws' runs (``draw`` column).
        point: per-quarter frames of the CMA-ES point's runs, same seeds.
        column: the column.
        scenario: scenario name (title).
        shade_until: last quarter of the shaded history span.
    """
    from openweight_sim.columns import column as catalogued
    from openweight_sim.experiments.plots import fan_stats
    from openweight_sim.plots import quarter_axis
    from openweight_sim.scenario import quarter_index

    if column not in posterior or not posterior[column].notna().any():
        return None
    col = catalogued(column)
    quarters = sorted(set(posterior["quarter"]), key=quarter_index)
    pos = {q: i for i, q in enumerate(quarters)}
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    n_draws = posterior["draw"].nunique()
    for df, color, label in (
        (point, "C3", f"CMA-ES point: 5–95% of {len(point) // max(len(quarters), 1)} runs"),
        (posterior, "C0", f"posterior: 5–95% of {n_draws} draws × runs"),
    ):
        st = fan_stats(df, column)
        x = [pos[q] for q in st.index]
        ax.fill_between(x, st["lo"], st["hi"], color=color, alpha=0.22, lw=0, label=label)
        ax.plot(x, st["mean"], color=color, lw=2, label=label.split(":")[0] + ": mean")
    if col.log:
        ax.set_yscale("log")
    ax.set_ylabel(col.axis_label)
    quarter_axis(ax, quarters, shade_until)
    ax.set_title(f"{col.chart_title} — {scenario}, projection with parameter uncertainty",
                 fontsize=11, loc="left")  # fmt: skip
    ax.legend(loc="best", fontsize=8, title=f"shaded: in-sample history (to {shade_until})")
    return fig


def save(fig: plt.Figure | None, path: Path) -> Path | None:
    """Write a figure as PNG (creating its folder) and close it."""
    if fig is None:
        return None
    from openweight_sim.experiments.plots import save_figure

    return save_figure(fig, path)

"""Plots of experiments: fan charts of replications, sensitivity bars, PRIM boxes.

Every figure has a title, labelled axes with units and a legend. Fan charts show the mean
over replications as a line and the 5–95% range of the runs as a shaded band; several
scenarios (``compare``) are overlaid in one chart per quantity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure

from openweight_sim.columns import FANS
from openweight_sim.columns import column as catalogued
from openweight_sim.figstyle import (
    HISTORY_UNTIL,
    SERIES_COLORS,
    display_text,
    outside_legend,
    quarter_axis,
)
from openweight_sim.scenario import quarter_index

FAN_COLUMNS = FANS
"""Columns drawn as fan charts; titles, axis labels and log axes from the catalogue."""


def slug(name: str) -> str:
    """A file-name-safe version of an output name (``price_closed@2026Q4`` → ``..._2026Q4``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("/cf", "_vs_cf").replace("@", "_"))


def save_figure(fig: Figure, path: Path) -> Path:
    """Write a figure as PNG (creating its folder) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def fan_stats(df: pd.DataFrame, column: str, low: float = 0.05, high: float = 0.95):
    """Per-quarter mean and [low, high] quantiles of a column over replications."""
    g = df.groupby("quarter", sort=False)[column]
    return pd.DataFrame({"mean": g.mean(), "lo": g.quantile(low), "hi": g.quantile(high)})


def fan_figure(
    frames: Mapping[str, pd.DataFrame],
    column: str,
    title_suffix: str = "",
    shade_until: str | None = HISTORY_UNTIL,
) -> Figure | None:
    """One fan chart of ``column``: a mean line and 5–95% band per labelled frame.

    Every frame gets a legend entry: a frame in which the column is undefined (NaN in every
    run, e.g. the quality gap without any open model) is named as such instead of vanishing.
    Returns None if the column is missing or undefined in every frame.

    Args:
        frames: per-quarter frames (with ``replication``) by legend label.
        column: the catalogued column to draw.
        title_suffix: appended to the title (scenario names).
        shade_until: last quarter of the shaded history.
    """
    col = catalogued(column)
    title = f"{col.chart_title} — {title_suffix}" if title_suffix else col.chart_title
    usable = {k: df for k, df in frames.items() if column in df and df[column].notna().any()}
    if not usable:
        return None
    quarters = sorted(
        set().union(*(set(df["quarter"]) for df in frames.values())), key=quarter_index
    )
    pos = {q: i for i, q in enumerate(quarters)}
    fig, ax = plt.subplots(figsize=(11, 5.2), layout="constrained")
    ax.set_title(display_text(title), fontsize=12, loc="left")
    for k, (label, df) in enumerate(frames.items()):
        color = SERIES_COLORS[k % len(SERIES_COLORS)]
        name = display_text(label)
        if label not in usable:
            ax.plot([], [], color=color, lw=2.2, label=f"{name}: not drawn, undefined in every run")
            continue
        st = fan_stats(df, column)
        x = [pos[q] for q in st.index]
        n = df["replication"].nunique() if "replication" in df else 1
        ax.fill_between(
            x, st["lo"], st["hi"], color=color, alpha=0.25, lw=0, label=f"{name}: 5–95% of {n} runs"
        )
        ax.plot(x, st["mean"], color=color, lw=2.2, label=f"{name}: mean", zorder=3)
    if col.log:
        ax.set_yscale("log")
    ax.set_ylabel(col.axis_label)
    quarter_axis(ax, quarters, shade_until)
    outside_legend(ax)
    return fig


def plot_fans(
    df: pd.DataFrame,
    out_dir: str | Path,
    scenario: str = "",
    shade_until: str | None = HISTORY_UNTIL,
) -> list[Path]:
    """Fan charts of one scenario's replications (``quarters.csv`` with ``replication``)."""
    paths = []
    for col in FAN_COLUMNS:
        fig = fan_figure({scenario or "scenario": df}, col, scenario, shade_until)
        if fig is not None:
            paths.append(save_figure(fig, Path(out_dir) / f"fan_{col}.png"))
    return paths


def plot_compare_fans(
    qa: pd.DataFrame,
    qb: pd.DataFrame,
    out_dir: str | Path,
    name_a: str,
    name_b: str,
    shade_until: str | None = HISTORY_UNTIL,
) -> list[Path]:
    """Fan charts overlaying scenarios A and B (paired replications), both in every chart."""
    if name_a == name_b:
        name_a, name_b = f"{name_a} (A)", f"{name_b} (B)"
    paths = []
    for col in FAN_COLUMNS:
        suffix = f"{name_a} (A) vs {name_b} (B)"
        fig = fan_figure({name_a: qa, name_b: qb}, col, suffix, shade_until)
        if fig is not None:
            paths.append(save_figure(fig, Path(out_dir) / f"fan_{col}.png"))
    return paths


PARAMETER_AXIS = "Parameter (swept scenario input)"
"""The label of an axis listing a sweep's parameters."""

SOBOL_MAX_WIDTH = 0.5
"""A Sobol index whose 95% interval is wider than this is not trustworthy."""
SOBOL_MIN_N = 64
"""Below this many base samples (N) Sobol indices are flagged as rough."""


def sobol_warnings(table: pd.DataFrame, output: str, n_base: int | None = None) -> list[str]:
    """Why the Sobol indices of ``output`` should not be trusted at this sample size, if so.

    The rules: a 95% interval wider than :data:`SOBOL_MAX_WIDTH`; a first-order index above
    the total one beyond their intervals (S1 ≤ ST holds for the true indices, so this is
    estimation noise); fewer than :data:`SOBOL_MIN_N` base samples.

    Args:
        table: the Sobol table (``output``, ``parameter``, S1/ST with ``_lo``/``_hi``).
        output: the output whose rows are checked.
        n_base: the design's base sample size N, if known.

    Returns:
        One line per broken rule (empty if none).
    """
    t = table[table["output"] == output].dropna(subset=["S1", "ST"])
    notes = []
    if n_base is not None and n_base < SOBOL_MIN_N:
        notes.append(f"N = {n_base} base samples (< {SOBOL_MIN_N}): indices are rough")
    widths = pd.concat([t["S1_hi"] - t["S1_lo"], t["ST_hi"] - t["ST_lo"]])
    if len(widths) and widths.max() > SOBOL_MAX_WIDTH:
        notes.append(
            f"95% intervals up to {widths.max():.2f} wide (> {SOBOL_MAX_WIDTH}): "
            "increase design.samples"
        )
    above = t[t["S1_lo"] > t["ST_hi"]]
    if len(above):
        notes.append(
            f"S1 > ST beyond their intervals for {', '.join(above['parameter'])}: estimation noise"
        )
    return notes


def sobol_figure(table: pd.DataFrame, output: str, n_base: int | None = None) -> Figure:
    """Bars of first-order (S1) and total (ST) Sobol indices with 95% intervals.

    The legend sits right of the axes (never over the error bars); :func:`sobol_warnings`
    are printed under the axes in vermillion.
    """
    t = table[table["output"] == output].sort_values("ST", ascending=True)
    notes = sobol_warnings(table, output, n_base)
    y = np.arange(len(t))
    height = 2.4 + 0.5 * len(t) + 0.25 * len(notes)
    fig, ax = plt.subplots(figsize=(10, height), layout="constrained")
    n_text = f" (N = {n_base} base samples)" if n_base else ""
    ax.set_title(f"Sobol sensitivity of {output}{n_text}", fontsize=12, loc="left")
    for k, (key, label) in enumerate(
        (
            ("ST", "ST: total effect (alone + interactions)"),
            ("S1", "S1: first-order effect (alone)"),
        )
    ):
        ax.barh(
            y + (0.2 if key == "ST" else -0.2),
            t[key],
            height=0.38,
            xerr=t[f"{key}_conf"],
            color=SERIES_COLORS[1 - k],
            capsize=3,
            label=label,
        )
    ax.set_yticks(y, t["parameter"])
    ax.set_ylabel(PARAMETER_AXIS)
    ax.set_xlabel("Share of the output's variance (error bars: 95% bootstrap interval)")
    ax.axvline(0, color="k", lw=0.8)
    ax.grid(axis="x", alpha=0.3)
    outside_legend(ax)
    if notes:
        fig.supxlabel(
            "Not trustworthy at this sample size:\n" + "\n".join(f"• {n}" for n in notes),
            color=SERIES_COLORS[1],
            fontsize=9,
            x=0.01,
            ha="left",
        )
    return fig


def morris_figure(table: pd.DataFrame, output: str) -> Figure:
    """Morris screening: mu* bars with intervals, and the mu*–sigma plane."""
    t = table[table["output"] == output].sort_values("mu_star", ascending=True)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 2.4 + 0.45 * len(t)), layout="constrained")
    fig.suptitle(f"Morris screening of {output}", fontsize=12, x=0.01, ha="left")
    y = np.arange(len(t))
    ax1.set_title("Influence: μ*, mean |elementary effect|", fontsize=10, loc="left")
    ax1.barh(y, t["mu_star"], xerr=t["mu_star_conf"], color=SERIES_COLORS[0], capsize=3)
    ax1.set_yticks(y, t["parameter"])
    ax1.set_ylabel(PARAMETER_AXIS)
    ax1.set_xlabel("μ* (output units per full parameter range; bars: 95% interval)")
    ax1.grid(axis="x", alpha=0.3)
    ax2.set_title("Influence against non-linearity", fontsize=10, loc="left")
    ax2.scatter(t["mu_star"], t["sigma"], color=SERIES_COLORS[1], label="parameters")
    for row in t.itertuples():
        ax2.annotate(
            row.parameter,
            (row.mu_star, row.sigma),
            fontsize=8,
            xytext=(3, 3),
            textcoords="offset points",
        )
    lim = float(np.nanmax([t["mu_star"].max(), t["sigma"].max(), 1e-12]))
    ax2.plot([0, lim], [0, lim], color="0.5", ls=":", label="σ = μ* (strongly non-linear)")
    ax2.set_xlabel("μ* (output units per full parameter range)")
    ax2.set_ylabel("σ of the elementary effects (same units)")
    ax2.grid(alpha=0.3)
    outside_legend(ax2, below=True, bbox_to_anchor=(0.0, -0.2))
    return fig


def prim_tradeoff_figure(trajectory: pd.DataFrame, selected: int, target: str) -> Figure:
    """PRIM's peeling trajectory: coverage vs density, coloured by restricted parameters."""
    fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    ax.set_title(f"PRIM peeling trajectory: {target}", fontsize=12, loc="left")
    counts = trajectory["n_restricted"].astype(int)
    levels = np.arange(counts.min(), counts.max() + 1)
    cmap = plt.get_cmap("viridis", len(levels))
    norm = BoundaryNorm(np.append(levels, levels[-1] + 1) - 0.5, cmap.N)
    sc = ax.scatter(
        trajectory["coverage"],
        trajectory["density"],
        c=counts,
        cmap=cmap,
        norm=norm,
        label="boxes while peeling",
    )
    ax.scatter(
        [trajectory.loc[selected, "coverage"]],
        [trajectory.loc[selected, "density"]],
        marker="*",
        s=260,
        facecolor="none",
        edgecolor=SERIES_COLORS[1],
        lw=2,
        label="selected box (before pasting)",
    )
    bar = fig.colorbar(sc, ax=ax, label="Parameters restricted (count)")
    bar.set_ticks(levels)
    bar.minorticks_off()
    ax.set_xlabel("Coverage: share of all cases of interest inside the box")
    ax.set_ylabel("Density: share of the box's points that are cases of interest")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    outside_legend(ax, below=True)
    return fig


def prim_boxes_figure(
    table: pd.DataFrame, bounds: Mapping[str, tuple[float, float]], target: str
) -> Figure:
    """Each box's restricted ranges, drawn within the sweep's ranges (normalised to 0–1)."""
    rows = table.dropna(subset=["parameter"])
    params = list(dict.fromkeys(rows["parameter"])) or ["(none)"]
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.5 * len(params)), layout="constrained")
    ax.set_title(f"PRIM boxes: where {target}", fontsize=12, loc="left")
    nbox = int(table["box"].max()) if len(table) else 0
    for b in range(1, nbox + 1):
        tb = rows[rows["box"] == b]
        head = table[table["box"] == b].iloc[0]
        label = f"box {b}: coverage {head['coverage']:.0%}, density {head['density']:.0%}"
        for k, row in enumerate(tb.itertuples()):
            lo, hi = bounds[row.parameter]
            span = hi - lo or 1.0
            offset = 0.0 if nbox == 1 else -0.25 + 0.5 * (b - 1) / (nbox - 1)
            y = params.index(row.parameter) + offset
            ax.plot(
                [(row.low - lo) / span, (row.high - lo) / span],
                [y, y],
                lw=6,
                color=SERIES_COLORS[(b - 1) % len(SERIES_COLORS)],
                solid_capstyle="butt",
                label=label if k == 0 else None,
            )
    ax.set_yticks(range(len(params)), params)
    ax.set_ylabel(PARAMETER_AXIS)
    ax.set_ylim(-0.6, len(params) - 0.4)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("Position within the parameter's sampled range (0 = low, 1 = high)")
    ax.grid(axis="x", alpha=0.3)
    if len(rows):
        outside_legend(ax)
    else:
        ax.text(
            0.5, 0.5, "no restriction: the whole sampled space", ha="center", transform=ax.transAxes
        )
    return fig


def _output_axis(output: str) -> tuple[str, float]:
    """Axis label and scale of a sweep output ``column@quarter`` (or ``column/cf@quarter``)."""
    col = catalogued(output.split("@")[0].split("/")[0])
    if col.is_share:
        return f"{output} (share, 0–1)", 1.0
    unit = col.unit or "model units"
    return f"{output} ({unit})", col.scale


def sweep_outputs_figure(results: pd.DataFrame, outputs: list[str], name: str = "") -> Figure:
    """Distribution of each output over a sweep's finished runs: a histogram per output.

    Args:
        results: the sweep's results (one row per run, ``status`` and one column per output).
        outputs: the outputs to draw, one panel each.
        name: the sweep's name, for the title.
    """
    ok = results[results["status"] == "ok"]
    fig, axes = plt.subplots(
        len(outputs), 1, figsize=(10, 1.0 + 2.4 * len(outputs)), layout="constrained", squeeze=False
    )
    title = f"{name}: " if name else ""
    fig.suptitle(
        display_text(f"{title}each output over the sweep's {len(ok)} finished runs"),
        fontsize=12,
        x=0.01,
        ha="left",
    )
    for ax, out in zip(axes[:, 0], outputs, strict=True):
        label, scale = _output_axis(out)
        v = ok[out].to_numpy(dtype=float) * scale
        v = v[np.isfinite(v)]
        ax.set_xlabel(label)
        ax.set_ylabel("Runs (count)")
        ax.grid(alpha=0.3)
        if not v.size:
            ax.text(0.5, 0.5, "no value in any run", ha="center", transform=ax.transAxes)
            continue
        ax.hist(
            v,
            bins=min(30, max(5, v.size // 4)),
            color=SERIES_COLORS[0],
            alpha=0.75,
            label=f"runs ({v.size}; {len(ok) - v.size} without a value)",
        )
        ax.axvline(v.mean(), color="k", lw=1.6, label="mean")
        for q, ls in ((0.05, ":"), (0.95, ":")):
            ax.axvline(
                np.quantile(v, q),
                color=SERIES_COLORS[1],
                ls=ls,
                lw=1.4,
                label="5th / 95th percentile" if q == 0.05 else None,
            )
        outside_legend(ax)
    return fig

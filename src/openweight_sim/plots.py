"""Plots of a run (and of replications): titles, units, labelled axes and legends.

Each function takes the tidy per-quarter DataFrame of a run (``quarters.csv``) and
returns a matplotlib Figure; :func:`plot_run` writes the standard set of PNGs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

LAB_COLORS = {
    "openai": "#10a37f",
    "anthropic": "#d97757",
    "google": "#4285f4",
    "meta": "#0866ff",
    "mistral": "#fa520f",
    "deepseek": "#4d6bfe",
    "alibaba": "#ff6a00",
    "moonshot": "#6b4fbb",
}
HISTORY_NOTE = "shaded: historical releases (to 2024Q4); after: projection"


def _quarter_axis(ax, quarters: list[str], history_until: str | None = "2024Q4") -> None:
    ticks = [i for i, q in enumerate(quarters) if q.endswith("Q1")] or list(range(len(quarters)))
    ax.set_xticks(ticks, [quarters[i][:4] for i in ticks])
    ax.set_xlabel("Quarter (ticks at Q1)")
    if history_until in quarters:
        ax.axvspan(-0.5, quarters.index(history_until) + 0.5, color="0.93", zorder=0)
    ax.set_xlim(-0.5, len(quarters) - 0.5)
    ax.grid(alpha=0.3)


def _fig(title: str) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    ax.set_title(title, fontsize=12, loc="left")
    return fig, ax


def lab_share_plot(df: pd.DataFrame, scenario: str = "", labels: dict | None = None) -> Figure:
    """Stacked share of all tokens served, by lab whose model served them."""
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
    ax.set_ylabel("Share of all tokens served (API, hosted and self-hosted)")
    ax.set_ylim(0, 1)
    _quarter_axis(ax, list(df["quarter"]))
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="Lab (model family)")
    ax.text(0.0, -0.16, HISTORY_NOTE, transform=ax.transAxes, fontsize=8, color="0.4")
    return fig


def open_share_plot(df: pd.DataFrame, scenario: str = "") -> Figure:
    """Open-weight share of tokens and of spend, and the Chinese-origin open share."""
    fig, ax = _fig(f"Open-weight vs closed models {scenario}".strip())
    x = range(len(df))
    ax.plot(x, df["share_open_tokens"], lw=2.2, label="Open weights: share of tokens")
    ax.plot(x, df["share_open_spend"], lw=2.2, ls="--", label="Open weights: share of spend")
    ax.plot(x, df["share_open_tokens_cn"], lw=1.6, label="Chinese-origin open: share of tokens")
    ax.plot(
        x, 1 - df["share_open_tokens"], lw=1.6, color="0.3", label="Closed APIs: share of tokens"
    )
    ax.set_ylabel("Share (0–1)")
    ax.set_ylim(0, 1)
    _quarter_axis(ax, list(df["quarter"]))
    ax.legend(loc="upper left", fontsize=9)
    return fig


def price_plot(df: pd.DataFrame, scenario: str = "") -> Figure:
    """Prices on a log axis: closed APIs, hosted open, GPT-4 level, self-hosting."""
    fig, ax = _fig(f"Token prices {scenario}".strip())
    x = range(len(df))
    series = [
        ("price_closed", "Closed APIs (token-weighted mean)", "-", 2.2),
        ("price_open_hosted", "Hosted open weights (token-weighted mean)", "-", 2.2),
        ("price_gpt4_level", "Cheapest at GPT-4 level (Elo ≥ 1186)", "--", 1.8),
        ("price_self_host", "Self-hosting (own cost per token)", ":", 1.8),
    ]
    for col, label, ls, lw in series:
        if col in df and df[col].notna().any():
            ax.plot(x, df[col], ls=ls, lw=lw, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("USD per million tokens (3:1 input:output blend, log scale)")
    _quarter_axis(ax, list(df["quarter"]))
    ax.legend(loc="upper right", fontsize=9)
    return fig


def quality_gap_plot(df: pd.DataFrame, scenario: str = "") -> Figure:
    """Best closed vs best open quality and the gap between them."""
    fig, ax = _fig(f"Capability: best closed vs best open model {scenario}".strip())
    x = range(len(df))
    ax.plot(x, df["best_closed"], lw=2.2, label="Best closed model")
    ax.plot(x, df["best_open"], lw=2.2, label="Best open-weight model")
    ax.axhline(1186, color="0.5", lw=1, ls=":", label="GPT-4 (0314) level = 1186")
    ax.set_ylabel("Quality (Arena Elo)")
    ax2 = ax.twinx()
    ax2.bar(x, df["quality_gap"], alpha=0.2, color="C3", label="Gap (right axis)")
    ax2.set_ylabel("Gap: best closed − best open (Elo points)")
    _quarter_axis(ax, list(df["quarter"]))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=9)
    return fig


def meta_payoff_plot(df: pd.DataFrame, scenario: str = "") -> Figure:
    """Meta's quarterly payoff from its Llama programme, by component."""
    fig, ax = _fig(f"Meta's payoff from open weights {scenario}".strip())
    x = range(len(df))
    parts = [
        ("meta_avoided_inference", "Avoided inference spend"),
        ("meta_ad_lift", "Ad-revenue lift"),
        ("meta_ecosystem_value", "Ecosystem value"),
    ]
    bottom = pd.Series(0.0, index=df.index)
    for col, label in parts:
        ax.bar(x, df[col] / 1e9, bottom=bottom / 1e9, label=label, alpha=0.85)
        bottom = bottom + df[col]
    costs = -(df["meta_training_cost"] + df["meta_capex_share"])
    ax.bar(x, costs / 1e9, label="Training + capex share", color="0.5", alpha=0.85)
    ax.plot(x, df["meta_net_payoff"] / 1e9, color="k", lw=2, marker="o", ms=3, label="Net payoff")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("USD billions per quarter")
    _quarter_axis(ax, list(df["quarter"]))
    ax.legend(loc="upper left", fontsize=9)
    return fig


PLOTS = {
    "token_share_by_lab": lab_share_plot,
    "open_vs_closed_share": open_share_plot,
    "prices": price_plot,
    "quality_gap": quality_gap_plot,
    "meta_payoff": meta_payoff_plot,
}


def plot_run(df: pd.DataFrame, out_dir: str | Path, scenario: str = "") -> list[Path]:
    """Write the standard PNGs of one run into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = f"— {scenario}" if scenario else ""
    paths = []
    for name, fn in PLOTS.items():
        fig = fn(df, label)
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths

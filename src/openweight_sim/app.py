"""Interactive dashboard of the AI model market (Mesa SolaraViz).

Run it with ``openweight-sim dashboard`` (or ``solara run openweight_sim.app``) and open
http://127.0.0.1:8765. It needs no internet access: Solara's front-end is served from the
installed ``solara-assets`` package.

The left panel holds Mesa's controls (Reset, ▶ play, Step) and the model parameters: a
scenario picker and sliders for the key assumptions. As in every Mesa app, parameters
apply when the model is (re)created, that is on **Reset**. A slider left at its baseline
value keeps the chosen scenario's own setting, so picking e.g. ``china_open_surge`` keeps
that scenario's lower origin aversion.

The main area shows a summary card (the quarter, headline numbers and the settings in
effect) and one plot per question: token share by lab, open vs closed share, prices on
a log axis, the capability gap and Meta's payoff. The switch on the summary card overlays
the counterfactual: the same scenario, settings and random seed with every lab closed
(for the baseline this is exactly the bundled ``no_open_weights`` scenario), stepped in
lockstep with the main run and drawn dashed.
"""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Callable
from html import escape
from typing import Any

import mesa
import numpy as np
import pandas as pd
import solara
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator, PercentFormatter
from mesa.visualization import Slider, SolaraViz
from mesa.visualization.utils import update_counter

from openweight_sim.counterfactual import counterfactual_scenario
from openweight_sim.model import OpenWeightMarket
from openweight_sim.plots import HISTORY_NOTE, LAB_COLORS
from openweight_sim.scenario import Scenario, bundled_names, get_dotted, load_scenario

BASELINE = load_scenario("baseline")
"""The bundled baseline: slider defaults are its values."""

DEFAULT_DEVELOPERS = 20_000
"""Developers simulated by default (a full 20-quarter run takes well under two seconds)."""

DEFAULT_SEED = 42

MAU_CHOICES: dict[str, float] = {
    "1M": 1e6,
    "10M": 1e7,
    "100M": 1e8,
    "700M": 7e8,
    "1B": 1e9,
}
"""Llama licence thresholds offered (monthly active users above which a licence is needed)."""

SLIDER_PATHS: dict[str, str] = {
    "meta_release_interval": "labs.meta.release_interval",
    "meta_moe_leverage": "labs.meta.moe_leverage.frontier",
    "llama_mau_threshold": "labs.meta.mau_threshold",
    "cn_aversion": "developers.cn_aversion",
    "frontier_growth": "technology.frontier_growth",
    "price_sensitivity": "developers.price_sensitivity",
    "switching_cost": "developers.switching_cost",
    "efficiency_growth": "technology.efficiency_growth",
}
"""Model keyword → dotted scenario path of the sliders that override the chosen scenario."""

SETTING_LABELS: dict[str, tuple[str, str]] = {
    "labs.meta.release_interval": ("Meta: new Llama generation every", "{:.0f} quarters"),
    "labs.meta.moe_leverage.frontier": ("Meta: frontier MoE leverage", "×{:.0f}"),
    "labs.meta.mau_threshold": ("Llama licence threshold", "{}"),
    "developers.cn_aversion": ("Aversion to Chinese-origin models", "×{:.1f}"),
    "technology.frontier_growth": ("Closed frontier growth", "{:.0f} Elo/quarter"),
    "developers.price_sensitivity": ("Developers' price sensitivity", "×{:.1f}"),
    "developers.switching_cost": ("Cost of switching model family", "{:.1f}"),
    "technology.efficiency_growth": ("Serving efficiency growth", "+{:.0%}/year"),
}
"""How the summary card names each slider's setting and formats its value."""


def _baseline(path: str) -> Any:
    return get_dotted(BASELINE.model_dump(), path)


def _mau_label(value: float) -> str:
    for label, v in MAU_CHOICES.items():
        if np.isclose(v, value):
            return label
    return f"{value:,.0f}"


def model_params() -> dict[str, Any]:
    """SolaraViz ``model_params``: the scenario picker, sliders and fixed values.

    Slider defaults are the baseline's values, so a fresh dashboard is the baseline.
    """
    return {
        "scenario_name": {
            "type": "Select",
            "value": "baseline",
            "values": bundled_names(),
            "label": "Scenario",
        },
        "meta_release_interval": Slider(
            "Meta: quarters per release",
            value=_baseline("labs.meta.release_interval"),
            min=1,
            max=8,
            step=1,
        ),
        "meta_moe_leverage": Slider(
            "Meta: MoE leverage (×)",
            value=float(_baseline("labs.meta.moe_leverage.frontier")),
            min=1.0,
            max=30.0,
            step=1.0,
        ),
        "llama_mau_threshold": {
            "type": "Select",
            "value": _mau_label(_baseline("labs.meta.mau_threshold")),
            "values": list(MAU_CHOICES),
            "label": "Llama licence threshold (monthly active users)",
        },
        "cn_aversion": Slider(
            "CN-origin aversion (×)",
            value=float(_baseline("developers.cn_aversion")),
            min=0.0,
            max=3.0,
            step=0.1,
        ),
        "frontier_growth": Slider(
            "Closed frontier Elo/quarter",
            value=float(_baseline("technology.frontier_growth")),
            min=0.0,
            max=60.0,
            step=2.0,
        ),
        "price_sensitivity": Slider(
            "Price sensitivity (×)",
            value=float(_baseline("developers.price_sensitivity")),
            min=0.5,
            max=2.0,
            step=0.1,
        ),
        "switching_cost": Slider(
            "Switching cost",
            value=float(_baseline("developers.switching_cost")),
            min=0.0,
            max=4.0,
            step=0.1,
        ),
        "efficiency_growth": Slider(
            "Efficiency gain per year",
            value=float(_baseline("technology.efficiency_growth")),
            min=0.0,
            max=1.5,
            step=0.1,
        ),
        "developers": Slider(
            "Developers", value=DEFAULT_DEVELOPERS, min=1000, max=20000, step=1000
        ),
        "rng": Slider("Random seed", value=DEFAULT_SEED, min=0, max=100, step=1),
    }


def slider_overrides(values: dict[str, Any]) -> dict[str, Any]:
    """Dotted overrides for the sliders moved away from their baseline value.

    A slider at its baseline value keeps the chosen scenario's own setting.

    Args:
        values: model keyword → slider value (``llama_mau_threshold`` as a label of
            :data:`MAU_CHOICES` or a number).

    Returns:
        ``{"labs.meta.release_interval": 3, ...}``
    """
    out: dict[str, Any] = {}
    for key, path in SLIDER_PATHS.items():
        if key not in values:
            continue
        value = values[key]
        if key == "llama_mau_threshold" and isinstance(value, str):
            value = MAU_CHOICES[value]
        base = _baseline(path)
        value = round(value) if isinstance(base, int) else float(value)
        if not np.isclose(value, float(base)):
            out[path] = value
    return out


_run_ids = itertools.count()


class DashboardMarket(mesa.Model):
    """The dashboard's model: a market run plus its no-open-weights counterfactual.

    SolaraViz creates it from the sidebar's values on Reset. It wraps an
    :class:`~openweight_sim.model.OpenWeightMarket` (``market``) and, once the
    counterfactual is asked for, a shadow market of the same scenario with every lab closed,
    same overrides and same seed (``counterfactual``), stepped in lockstep.

    Args:
        scenario_name: a bundled scenario.
        meta_release_interval: quarters between Meta's generations.
        meta_moe_leverage: total/active parameters of Meta's frontier releases.
        llama_mau_threshold: Llama licence threshold, a label of :data:`MAU_CHOICES`.
        cn_aversion: multiplier on the segments' aversion to Chinese-origin models.
        frontier_growth: Elo per quarter of the closed frontier after the history.
        price_sensitivity: multiplier on the segments' price sensitivity.
        switching_cost: utility cost of changing model family.
        efficiency_growth: serving efficiency growth per year.
        developers: developers simulated.
        rng: random seed, shared by the run and its counterfactual.
        counterfactual: build the counterfactual at once (otherwise on first request).
    """

    def __init__(
        self,
        scenario_name: str = "baseline",
        meta_release_interval: int = _baseline("labs.meta.release_interval"),
        meta_moe_leverage: float = _baseline("labs.meta.moe_leverage.frontier"),
        llama_mau_threshold: str = _mau_label(_baseline("labs.meta.mau_threshold")),
        cn_aversion: float = _baseline("developers.cn_aversion"),
        frontier_growth: float = _baseline("technology.frontier_growth"),
        price_sensitivity: float = _baseline("developers.price_sensitivity"),
        switching_cost: float = _baseline("developers.switching_cost"),
        efficiency_growth: float = _baseline("technology.efficiency_growth"),
        developers: int = DEFAULT_DEVELOPERS,
        rng: int = DEFAULT_SEED,
        counterfactual: bool = False,
    ):
        super().__init__(rng=rng)
        values = {
            "meta_release_interval": meta_release_interval,
            "meta_moe_leverage": meta_moe_leverage,
            "llama_mau_threshold": llama_mau_threshold,
            "cn_aversion": cn_aversion,
            "frontier_growth": frontier_growth,
            "price_sensitivity": price_sensitivity,
            "switching_cost": switching_cost,
            "efficiency_growth": efficiency_growth,
        }
        self.seed = int(rng)
        self.run_id = next(_run_ids)
        chosen = load_scenario(scenario_name)
        self.overrides = {
            **slider_overrides(values),
            "developers.count": int(developers),
        }
        self.market = OpenWeightMarket(chosen, rng=self.seed, **self.overrides)
        self.config = self.market.config
        self.counterfactual_config = counterfactual_scenario(self.config)
        self.counterfactual: OpenWeightMarket | None = None
        self.datacollector = self.market.datacollector
        self._lock = threading.RLock()
        if counterfactual:
            self.counterfactual_frame()

    @property
    def quarters(self) -> list[str]:
        """All quarters of the horizon."""
        return list(self.config.quarters)

    @property
    def quarters_done(self) -> int:
        """Quarters simulated so far."""
        return len(next(iter(self.datacollector.model_vars.values()), []))

    def step(self) -> None:
        """Simulate one quarter of the run (and of the counterfactual, if shown)."""
        with self._lock:
            self.market.step()
            if self.counterfactual is not None:
                self._catch_up()
            self.running = self.market.running

    def frame(self) -> pd.DataFrame:
        """Per-quarter outputs of the run so far."""
        with self._lock:
            return self.market.quarters_frame()

    def counterfactual_frame(self) -> pd.DataFrame:
        """Per-quarter outputs of the counterfactual, created and caught up on demand."""
        with self._lock:
            if self.counterfactual is None:
                self.counterfactual = OpenWeightMarket(self.counterfactual_config, rng=self.seed)
            self._catch_up()
            return self.counterfactual.quarters_frame()

    def _catch_up(self) -> None:
        cf = self.counterfactual
        assert cf is not None
        while cf.running and cf.steps < self.market.steps:
            cf.step()

    def settings(self) -> list[tuple[str, str, bool]]:
        """The slider settings in effect: (label, value, differs from the baseline)."""
        data = self.config.model_dump()
        rows = []
        for path, (label, fmt) in SETTING_LABELS.items():
            value = get_dotted(data, path)
            changed = not np.isclose(float(value), float(_baseline(path)))
            shown = _mau_label(value) + " MAU" if path.endswith("mau_threshold") else value
            rows.append((label, fmt.format(shown), changed))
        return rows


# --------------------------------------------------------------------------- figures

PANEL_COLORS = {
    **LAB_COLORS,
    "meta": "#0b3d91",
    "deepseek": "#17becf",
    "alibaba": "#ffb000",
}
"""Lab colours: the report's brand colours, with Meta, DeepSeek and Alibaba set apart from
Google's blue and Mistral's orange so that neighbouring bands can be told apart."""
NO_DATA = "Press STEP or ▶ in the left panel to simulate"


FIG_SIZE = (6.4, 4.3)
"""Inches at 100 dpi; the browser scales the PNG to its panel's width."""
AXES_BOX = (0.115, 0.345, 0.865, 0.58)
"""Fixed axes position (left, bottom, width, height): fast, and panels line up."""


def _axes(title: str) -> tuple[Figure, Any]:
    fig = Figure(figsize=FIG_SIZE, dpi=100)
    ax = fig.add_axes(AXES_BOX)
    ax.set_title(title, fontsize=11.5, loc="left", fontweight="bold")
    return fig, ax


def _legend(fig: Figure, ax: Any, ncol: int = 2) -> None:
    """One legend below the axes, outside the plot area."""
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


def _horizon_axis(ax: Any, quarters: list[str], history_until: str | None, n: int) -> None:
    """Fix the x axis to the whole horizon, shade the history, say when no data yet."""
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


def lab_share_figure(
    df: pd.DataFrame, cf: pd.DataFrame | None, scenario: Scenario, quarters: list[str]
) -> Figure:
    """Stacked token share by lab; dashed: the three big closed labs without open weights."""
    fig, ax = _axes("Token share by lab (all tokens served)")
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
    big = [k for k in ("openai", "anthropic", "google") if k in labs]
    if cf is not None and len(cf) and big:
        ax.plot(
            np.arange(len(cf)),
            sum(cf[f"share_tokens_{k}"].fillna(0) for k in big),
            color="k",
            ls="--",
            lw=2,
            label="No open weights:\nOpenAI+Anthropic+Google",
        )
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("Share of tokens")
    _horizon_axis(ax, quarters, scenario.history_until if scenario.history else None, len(df))
    if len(df):
        _legend(fig, ax, ncol=3)
    return fig


def open_share_figure(
    df: pd.DataFrame, cf: pd.DataFrame | None, scenario: Scenario, quarters: list[str]
) -> Figure:
    """Open-weight share of tokens and of spend, and the Chinese-origin open share."""
    fig, ax = _axes("Open-weight vs closed models")
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
    if cf is not None and len(cf):
        ax.plot(
            np.arange(len(cf)),
            1 - cf["share_open_tokens"].fillna(0),
            lw=1.6,
            color="0.35",
            ls="--",
            label="Closed APIs, no open weights (100%)",
        )
    ax.set_ylim(-0.02, 1.04)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("Share")
    _horizon_axis(ax, quarters, scenario.history_until if scenario.history else None, len(df))
    if len(df):
        _legend(fig, ax)
    return fig


def _usd_tick(v: float, _pos: int) -> str:
    return f"${v:g}"


PRICE_SERIES = (
    ("price_closed", "Closed APIs (mean price paid)", "C1", 2.4),
    ("price_open_hosted", "Hosted open weights (mean price paid)", "C0", 2.4),
    ("price_gpt4_level", "Cheapest model at GPT-4 level", "C2", 1.8),
)


def price_figure(
    df: pd.DataFrame, cf: pd.DataFrame | None, scenario: Scenario, quarters: list[str]
) -> Figure:
    """Token prices on a log axis; dashed: the same prices without open weights."""
    fig, ax = _axes("Token prices (log scale)")
    x = np.arange(len(df))
    drawn = False
    for col, label, color, lw in PRICE_SERIES:
        if col in df and df[col].notna().any():
            ax.plot(x, df[col], lw=lw, color=color, label=label)
            drawn = True
        if cf is not None and col in cf and cf[col].notna().any():
            ax.plot(
                np.arange(len(cf)),
                cf[col],
                lw=lw * 0.8,
                color=color,
                ls="--",
                label=f"{label.split(' (')[0]}, no open weights",
            )
    ax.set_yscale("log")
    values = [
        f[col].to_numpy(dtype=float)
        for f in (df, cf)
        if f is not None
        for col, *_ in PRICE_SERIES
        if col in f
    ]
    finite = np.concatenate(values) if values else np.array([])
    finite = finite[np.isfinite(finite) & (finite > 0)]
    low = min(0.01, finite.min() / 1.5) if finite.size else 0.01
    high = max(100.0, finite.max() * 1.5) if finite.size else 100.0
    ax.set_ylim(low, high)
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=12))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(_usd_tick))
    ax.set_ylabel("USD per million tokens")
    _horizon_axis(ax, quarters, scenario.history_until if scenario.history else None, len(df))
    if drawn:
        _legend(fig, ax)
    return fig


def quality_figure(
    df: pd.DataFrame, cf: pd.DataFrame | None, scenario: Scenario, quarters: list[str]
) -> Figure:
    """Best closed vs best open-weight quality; the shaded band is the gap."""
    fig, ax = _axes("Capability: best closed vs best open model")
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
    if cf is not None and len(cf):
        ax.plot(
            np.arange(len(cf)),
            cf["best_closed"],
            lw=1.8,
            color="C1",
            ls="--",
            label="Best closed, no open weights",
        )
    ax.axhline(1186, color="0.5", lw=1, ls=":", label="GPT-4 (2023) = 1186")
    ax.set_ylabel("Quality (Arena Elo)")
    _horizon_axis(ax, quarters, scenario.history_until if scenario.history else None, len(df))
    _legend(fig, ax)
    return fig


def meta_figure(
    df: pd.DataFrame, cf: pd.DataFrame | None, scenario: Scenario, quarters: list[str]
) -> Figure:
    """Meta's cumulative net payoff from its models; dashed: Llama kept internal."""
    fig, ax = _axes("Meta: cumulative net payoff of its Llama programme")
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
    if cf is not None and len(cf):
        ax.plot(
            np.arange(len(cf)),
            cf["meta_net_payoff"].cumsum() / 1e9,
            lw=1.8,
            color="#0866ff",
            ls="--",
            label="Cumulative, no open weights\n(Llama kept internal)",
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("USD billions")
    _horizon_axis(ax, quarters, scenario.history_until if scenario.history else None, len(df))
    if len(df):
        _legend(fig, ax)
    return fig


FIGURES: dict[str, Callable[..., Figure]] = {
    "lab-shares": lab_share_figure,
    "open-share": open_share_figure,
    "prices": price_figure,
    "quality-gap": quality_figure,
    "meta-payoff": meta_figure,
}
"""Plot panels of the dashboard, by CSS class suffix (``owsim-plot-<name>``)."""


def figure_png(model: DashboardMarket, name: str, overlay: bool) -> bytes:
    """Render one panel of ``model`` as PNG bytes.

    Args:
        model: the dashboard model.
        name: a key of :data:`FIGURES`.
        overlay: draw the counterfactual (dashed).
    """
    df = model.frame()
    cf = model.counterfactual_frame() if overlay else None
    fig = FIGURES[name](df, cf, model.config, model.quarters)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# --------------------------------------------------------------------------- components

show_counterfactual = solara.reactive(True)
"""Overlay the no-open-weights counterfactual (per browser session)."""


@solara.component
def PlotPanel(model: DashboardMarket, name: str) -> None:
    """One plot panel, redrawn when the model steps, is reset, or the overlay toggles."""
    update_counter.get()
    overlay = show_counterfactual.value
    png = solara.use_memo(
        lambda: figure_png(model, name, overlay),
        dependencies=[model.run_id, model.quarters_done, overlay, name],
    )
    solara.Image(png, width="100%", classes=[f"owsim-plot-{name}"])


def _pct(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.0%}"


def _usd(v: float) -> str:
    if not np.isfinite(v):
        return "–"
    return f"${v:.3f}" if v < 0.1 else f"${v:.2f}"


def _elo(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.0f} Elo"


HEADLINES: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("share_open_tokens", "Open-weight share of tokens", _pct),
    ("price_closed", "Closed API price, USD per M tokens", _usd),
    ("price_gpt4_level", "Cheapest GPT-4-level price, USD per M tokens", _usd),
    ("quality_gap", "Quality gap, best closed − best open", _elo),
    ("closed_gross_margin", "Closed labs' gross margin", _pct),
)
"""Summary-card rows: column, label, formatter."""

_CELL = "padding:1px 10px 1px 0;"


def summary_html(model: DashboardMarket, overlay: bool) -> str:
    """The summary card: where the run is, headline numbers, settings in effect.

    Args:
        model: the dashboard model.
        overlay: add the counterfactual's numbers.

    Returns:
        An HTML fragment (every text from the scenario is escaped).
    """
    df = model.frame()
    cf = model.counterfactual_frame() if overlay else None
    n, total = len(df), len(model.quarters)
    sc = model.config
    if n:
        where = (
            f"{df['quarter'].iloc[-1]} <span style='color:#666;font-weight:400'>"
            f"(quarter {n} of {total})</span>"
        )
    else:
        where = (
            "<span style='color:#666;font-weight:400'>not started: "
            f"{total} quarters, {model.quarters[0]}–{model.quarters[-1]}</span>"
        )
    parts = [
        f"<div style='font-size:17px;font-weight:600'>Scenario <code>{escape(sc.name)}</code>"
        f" · {where}</div>",
        "<div style='color:#555;font-size:12.5px;margin-bottom:6px'>"
        f"{escape(sc.description)}</div>",
    ]
    if n:
        head = f"<th style='{_CELL}text-align:left'>Latest quarter</th>"
        head += f"<th style='{_CELL}text-align:right'>This run</th>"
        if cf is not None:
            head += f"<th style='{_CELL}text-align:right'>Without open weights</th>"
        rows = [f"<tr style='color:#555;font-size:12px'>{head}</tr>"]
        for col, label, fmt in HEADLINES:
            row = f"<td style='{_CELL}'>{label}</td>"
            row += f"<td style='{_CELL}text-align:right'><b>{fmt(float(df[col].iloc[-1]))}</b></td>"
            if cf is not None:
                row += f"<td style='{_CELL}text-align:right'>{fmt(float(cf[col].iloc[-1]))}</td>"
            rows.append(f"<tr>{row}</tr>")
        parts.append(
            "<table class='owsim-headlines' style='font-size:13.5px;border-collapse:collapse;"
            f"margin-bottom:6px'>{''.join(rows)}</table>"
        )
    settings = " · ".join(
        f"<b>{label}: {escape(value)}</b>" if changed else f"{label}: {escape(value)}"
        for label, value, changed in model.settings()
    )
    parts.append(
        f"<div style='font-size:11.5px;color:#444'>Settings in effect "
        f"({sc.developers.count:,} developers, seed {model.seed}; <b>bold</b> = changed from "
        f"the baseline): {settings}</div>"
    )
    return "".join(parts)


HOW_TO = (
    "<div style='font-size:11.5px;color:#444'>How to use: change the scenario or a slider on "
    "the left, press <b>RESET</b> to apply, then <b>STEP</b> (one quarter) or <b>▶</b> (play "
    "to the end). Grey band in the plots: history; after it, projection.</div>"
)


@solara.component
def SummaryCard(model: DashboardMarket) -> None:
    """Where the run is, headline numbers vs the counterfactual, and the settings in effect."""
    update_counter.get()
    overlay = show_counterfactual.value
    text = solara.use_memo(
        lambda: summary_html(model, overlay),
        dependencies=[model.run_id, model.quarters_done, overlay],
    )
    with solara.Column(gap="2px", classes=["owsim-summary"], style="padding: 8px 12px"):
        solara.HTML(tag="div", unsafe_innerHTML=text)
        solara.Switch(
            label="Overlay the counterfactual: same world without open weights (dashed)",
            value=show_counterfactual,
        )
        solara.HTML(tag="div", unsafe_innerHTML=HOW_TO)


def _panel(name: str) -> Callable[[DashboardMarket], Any]:
    def panel(model: DashboardMarket) -> Any:
        return PlotPanel(model, name)

    panel.__name__ = f"panel_{name.replace('-', '_')}"
    return panel


def components() -> list[tuple[Callable[[DashboardMarket], Any], int]]:
    """SolaraViz components: the summary card and the plot panels, on page 0."""
    return [(SummaryCard, 0)] + [(_panel(name), 0) for name in FIGURES]


APP_NAME = "Open weights vs closed AI — market simulator"

CSS = """
/* Show each sidebar slider's value under its thumb (Mesa's sliders show it only while dragged). */
.v-navigation-drawer .v-slider__thumb-container::after {
    content: attr(aria-valuenow);
    position: absolute;
    top: 9px;
    left: 0;
    transform: translateX(-50%);
    font-size: 11px;
    line-height: 1;
    color: rgba(0, 0, 0, 0.65);
    white-space: nowrap;
    pointer-events: none;
}
"""


@solara.component
def Page() -> None:
    """The dashboard page; each browser session gets its own model."""
    model = solara.use_memo(DashboardMarket, dependencies=[])
    solara.Style(CSS)
    SolaraViz(
        model,
        components=components(),
        model_params=model_params(),
        name=APP_NAME,
        play_interval=101,
    )

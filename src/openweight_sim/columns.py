"""The catalogue of headline output columns: name, label, unit, scale, chart title and axis.

One place says what a column of the per-quarter table (``quarters.csv``) is called and in
which unit it is shown, so the CLI summary table, ``compare`` and its thesis table, the fan
charts, the run plots and the dashboard all name it the same way. A column's raw values are
in the model's units (prices in USD per million tokens, money in USD per quarter, shares in
0–1, quality in Arena Elo); ``scale`` turns them into the display ``unit``.

The selections below (:data:`SUMMARY`, :data:`KEY`, :data:`FANS`) say which columns each
table or chart shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHARE = "share"
"""The unit of a share or margin in 0–1 (shown as a percentage)."""

USD_M_AXIS = "USD per million tokens (log scale)"


@dataclass(frozen=True)
class Column:
    """How one output column is named and shown.

    Attributes:
        name: the column of the per-quarter table.
        label: short label for tables, e.g. ``Closed API price``.
        unit: display unit after ``scale`` (``USD/M``, ``Elo``, ``USD bn/q``), or
            :data:`SHARE` for a share in 0–1.
        scale: multiplies a raw value into ``unit`` (e.g. ``1e-9`` for USD bn).
        title: chart title (defaults to ``label``).
        axis: y-axis label of a chart (defaults to the unit).
        log: draw on a log axis.
    """

    name: str
    label: str
    unit: str
    scale: float = 1.0
    title: str = ""
    axis: str = ""
    log: bool = False

    @property
    def is_share(self) -> bool:
        """True for a share or margin in 0–1."""
        return self.unit == SHARE

    @property
    def heading(self) -> str:
        """Label with its unit, as a table row heading: ``Closed API price (USD/M)``."""
        return self.label if self.is_share else f"{self.label} ({self.unit})"

    @property
    def chart_title(self) -> str:
        """The chart title."""
        return self.title or self.label

    @property
    def axis_label(self) -> str:
        """The y-axis label of a chart."""
        return self.axis or ("Share (0–1)" if self.is_share else self.unit)

    def scaled(self, values: np.ndarray | float) -> np.ndarray | float:
        """Raw values in the display unit (shares stay in 0–1)."""
        return values if self.scale == 1.0 else np.asarray(values, dtype=float) * self.scale

    def format(self, value: float, width: int = 10) -> str:
        """One table cell: ``–`` for NaN, a percentage for a share, 3 digits otherwise."""
        if value is None or np.isnan(value):
            return "{:>{w}}".format("–", w=width)
        if self.is_share:
            return "{:>{w}.1%}".format(value, w=width)
        return "{:>{w}.3g}".format(self.scaled(value), w=width)


_ALL = (
    Column(
        "price_closed",
        "Closed API price",
        "USD/M",
        title="Closed API price (token-weighted mean)",
        axis=USD_M_AXIS,
        log=True,
    ),
    *(
        Column(
            f"price_closed_{tier}",
            f"Closed {tier} price",
            "USD/M",
            title=f"Closed API price, {tier} tier (token-weighted mean)",
            axis=USD_M_AXIS,
            log=True,
        )
        for tier in ("frontier", "mid", "small")
    ),
    Column(
        "price_open_hosted",
        "Hosted open price",
        "USD/M",
        title="Hosted open-weight price (token-weighted mean)",
        axis=USD_M_AXIS,
        log=True,
    ),
    Column(
        "price_gpt4_level",
        "GPT-4-level price",
        "USD/M",
        title="Cheapest price at GPT-4 level (Elo ≥ 1186)",
        axis=USD_M_AXIS,
        log=True,
    ),
    Column(
        "price_self_host",
        "Self-hosting cost",
        "USD/M",
        title="Self-hosting (own cost per token)",
        axis=USD_M_AXIS,
        log=True,
    ),
    Column(
        "share_open_tokens",
        "Open share of tokens",
        SHARE,
        title="Open-weight share of tokens",
        axis="Share of all tokens (0–1)",
    ),
    Column(
        "share_open_tokens_cn",
        "CN open share of tokens",
        SHARE,
        title="Chinese-origin open-weight share of tokens",
        axis="Share of all tokens (0–1)",
    ),
    Column(
        "share_open_spend",
        "Open share of spend",
        SHARE,
        title="Open-weight share of spend",
        axis="Share of all spend (0–1)",
    ),
    Column(
        "open_share_enterprise_workloads",
        "Open share of enterprise tokens",
        SHARE,
        title="Open-weight share of enterprise tokens (F27, F51)",
        axis="Share of enterprise tokens (0–1)",
    ),
    Column(
        "enterprise_open_spend_share",
        "Open share of enterprise API spend",
        SHARE,
        title="Open-weight share of enterprise API spend",
        axis="Share of enterprise API spend (0–1)",
    ),
    Column(
        "enterprise_spend_share_openai",
        "Enterprise share: OpenAI",
        SHARE,
        title="OpenAI's share of enterprise API spend (F23, F25)",
        axis="Share of enterprise API spend (0–1)",
    ),
    Column(
        "enterprise_spend_share_anthropic",
        "Enterprise share: Anthropic",
        SHARE,
        title="Anthropic's share of enterprise API spend (F24, F26)",
        axis="Share of enterprise API spend (0–1)",
    ),
    Column(
        "enterprise_spend_share_google",
        "Enterprise share: Google",
        SHARE,
        title="Google's share of enterprise API spend (F49, F50)",
        axis="Share of enterprise API spend (0–1)",
    ),
    Column(
        "top_release_token_share",
        "Largest release's token share",
        SHARE,
        title="Largest single release's share of all tokens",
        axis="Share of all tokens (0–1)",
    ),
    Column(
        "closed_frontier_spend_share",
        "Closed frontier share of spend",
        SHARE,
        title="Closed labs' frontier-tier releases' share of spend",
        axis="Share of all spend (0–1)",
    ),
    Column(
        "quality_gap",
        "Quality gap",
        "Elo",
        title="Quality gap: best closed − best open model",
        axis="Elo points",
    ),
    Column(
        "best_closed",
        "Best closed model",
        "Elo",
        title="Best closed model",
        axis="Quality (Arena Elo)",
    ),
    Column(
        "best_open",
        "Best open-weight model",
        "Elo",
        title="Best open-weight model",
        axis="Quality (Arena Elo)",
    ),
    Column(
        "closed_gross_margin",
        "Closed gross margin",
        SHARE,
        title="Closed labs' gross margin",
        axis="Gross margin (0–1)",
    ),
    Column(
        "host_gross_margin",
        "Host gross margin",
        SHARE,
        title="Hosting providers' gross margin",
        axis="Gross margin (0–1)",
    ),
    Column(
        "closed_revenue",
        "Closed API revenue",
        "USD bn/q",
        1e-9,
        title="Closed labs' API revenue",
        axis="USD billions per quarter",
    ),
    Column(
        "total_tokens",
        "Tokens served",
        "T tokens/q",
        1e-6,
        title="Tokens served (all models)",
        axis="Trillion tokens per quarter",
    ),
    Column(
        "meta_net_payoff",
        "Meta net payoff",
        "USD bn/q",
        1e-9,
        title="Meta's net payoff from its Llama programme",
        axis="USD billions per quarter",
    ),
    Column(
        "consumer_surplus",
        "Consumer surplus",
        "M (index)",
        1e-6,
        title="Developers' consumer surplus (an index: only differences are meaningful)",
        axis="Consumer surplus, millions (index)",
    ),
)

COLUMNS: dict[str, Column] = {c.name: c for c in _ALL}
"""Every catalogued column by name."""

SUMMARY = (
    "price_closed",
    "price_open_hosted",
    "price_gpt4_level",
    "share_open_tokens",
    "share_open_tokens_cn",
    "share_open_spend",
    "quality_gap",
    "closed_gross_margin",
    "meta_net_payoff",
)
"""Rows of the summary table that ``openweight-sim run`` prints."""

KEY = (
    "price_closed",
    "price_closed_frontier",
    "price_closed_mid",
    "price_closed_small",
    "price_open_hosted",
    "price_gpt4_level",
    "share_open_tokens",
    "share_open_tokens_cn",
    "share_open_spend",
    "quality_gap",
    "closed_gross_margin",
    "host_gross_margin",
    "closed_revenue",
    "total_tokens",
    "meta_net_payoff",
    "consumer_surplus",
)
"""Columns that ``compare`` reports (ratios and differences A vs B)."""

FANS = (
    "price_closed",
    "price_open_hosted",
    "price_gpt4_level",
    "share_open_tokens",
    "quality_gap",
    "closed_gross_margin",
)
"""Columns drawn as fan charts of replications (``run --replications``, ``compare``)."""


def column(name: str) -> Column:
    """The catalogue entry of ``name``, or a plain one (label = name, no unit) if uncatalogued."""
    return COLUMNS.get(name) or Column(name, name, "", title=name, axis=name)

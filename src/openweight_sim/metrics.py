"""The quarter's report: what one quarter produced (docs/ODD.md sections 7.13 and 7.15).

:class:`QuarterBook` summarises a booked quarter (:class:`~openweight_sim.records.QuarterRecord`)
once per quarter: prices, shares, margins, quality, adoption, Meta's payoff; the
DataCollector's reporters only read it, so data collection costs almost nothing. The book
is for reporting only: nothing the next quarter needs is read back from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from openweight_sim.options import CLOSED_API, HOSTED, OPEN_API, SELF_HOST
from openweight_sim.records import QuarterRecord, ratio

if TYPE_CHECKING:
    from openweight_sim.meta_payoff import PayoffTerms

NAN = float("nan")
ORIGINS = ("US", "CN", "EU")
"""Lab origins with a token-share column (the values ``Lab.origin`` may take)."""
ENTERPRISE_SHARE = "enterprise_spend_share_"
"""Prefix of the per-lab enterprise spend-share columns (labs: ``reporting``)."""


@dataclass(frozen=True)
class MarketState:
    """What the report needs beside the record: the labs and the market's state.

    Attributes:
        lab_index: index of each lab by id (the scenario's order).
        origins: each lab's origin, by index.
        flagship_lab: index of the lab whose frontier API price the flagship column
            follows (−1: none).
        focal_lab: index of the payoff's focal lab (−1: none).
        focal_policy: the focal lab's openness policy.
        enterprise_labs: labs with an enterprise spend-share column, by id (index).
        has_enterprise: whether the scenario has an enterprise segment.
        frontier, best_closed, best_open: quality (Elo).
        price_gpt4_level: cheapest API price at GPT-4 level, USD per M tokens.
        adopters, adoption: real developer firms using LLMs, and their share.
        gpu_price: GPU rental price, USD/hour.
    """

    lab_index: Mapping[str, int]
    origins: Sequence[str]
    flagship_lab: int
    focal_lab: int
    focal_policy: str
    enterprise_labs: Mapping[str, int]
    has_enterprise: bool
    frontier: float
    best_closed: float
    best_open: float
    price_gpt4_level: float
    adopters: float
    adoption: float
    gpu_price: float


TIER_NAMES = ("frontier", "mid", "small")
"""Tier names by tier code (the per-tier closed price columns)."""

_PRICE_DEPENDENT = (
    "price_closed",
    "price_closed_frontier",
    "price_closed_mid",
    "price_closed_small",
    "price_open_hosted",
    "price_self_host",
    "price_gpt4_level",
    "closed_flagship_price",
    "closed_small_price",
    "price_open_hosted_70b",
    "share_open_tokens",
    "share_open_tokens_cn",
    "share_open_spend",
    "share_self_host_tokens",
    "closed_gross_margin",
    "host_gross_margin",
    "open_share_enterprise_workloads",
    "open_share_enterprise_workload_count",
    "self_host_cost",
    "enterprise_open_spend_share",
    "top_release_token_share",
    "closed_frontier_spend_share",
    "total_tokens",
    "total_spend",
    "closed_revenue",
    "consumer_surplus",
    "meta_avoided_inference",
    "meta_net_payoff",
)
"""Report columns withheld (NaN) in a quarter without a price equilibrium."""


@dataclass
class QuarterBook:
    """One quarter's market outcome (all money in USD, tokens in millions, prices USD/M)."""

    quarter: str = ""
    price_closed: float = NAN
    price_closed_frontier: float = NAN
    price_closed_mid: float = NAN
    price_closed_small: float = NAN
    price_open_hosted: float = NAN
    price_self_host: float = NAN
    price_gpt4_level: float = NAN
    closed_flagship_price: float = NAN
    closed_small_price: float = NAN
    price_open_hosted_70b: float = NAN
    share_open_tokens: float = NAN
    share_open_tokens_cn: float = NAN
    share_open_spend: float = NAN
    share_self_host_tokens: float = NAN
    self_host_cost: float = 0.0
    quality_gap: float = NAN
    best_closed: float = NAN
    best_open: float = NAN
    frontier: float = NAN
    closed_gross_margin: float = NAN
    host_gross_margin: float = NAN
    open_share_enterprise_workloads: float = NAN
    open_share_enterprise_workload_count: float = NAN
    enterprise_open_spend_share: float = NAN
    top_release_token_share: float = NAN
    closed_frontier_spend_share: float = NAN
    total_tokens: float = 0.0
    total_spend: float = 0.0
    closed_revenue: float = 0.0
    adopters: float = 0.0
    adoption: float = 0.0
    hosted_offers: int = 0
    gpu_price: float = NAN
    consumer_surplus: float = NAN
    meta_avoided_inference: float = 0.0
    meta_ad_lift: float = 0.0
    meta_ecosystem_value: float = 0.0
    meta_training_cost: float = 0.0
    meta_capex_share: float = 0.0
    meta_net_payoff: float = 0.0
    meta_policy: str = ""
    pricing_converged: bool = True
    pricing_iterations: int = 0
    no_equilibrium: bool = False
    price_at_cap: bool = False
    sold_below_cost: bool = False
    withdrawn_offers: int = 0
    share_tokens_by_lab: dict[str, float] = field(default_factory=dict)
    share_tokens_by_origin: dict[str, float] = field(default_factory=dict)
    enterprise_spend_share_by_lab: dict[str, float] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> QuarterBook:
        """A book before the first quarter."""
        return cls()

    @classmethod
    def from_record(
        cls, record: QuarterRecord, state: MarketState, payoff: PayoffTerms
    ) -> QuarterBook:
        """Summarise a booked quarter: prices, shares, margins, quality, adoption, payoff.

        Args:
            record: the booked quarter.
            state: the labs and the market's state after booking.
            payoff: the focal lab's payoff this quarter.
        """
        b = cls(quarter=record.quarter)
        b._prices_and_shares(record)
        b._lab_prices(record, state)
        b.best_closed = state.best_closed
        b.best_open = state.best_open
        b.quality_gap = b.best_closed - b.best_open
        b.frontier = state.frontier
        b._enterprise(record, state)
        b._concentration(record)
        b._token_shares(record, state)
        b.adopters = state.adopters
        b.adoption = state.adoption
        b.hosted_offers = int((record.options.kind == HOSTED).sum())
        b.gpu_price = state.gpu_price
        b.consumer_surplus = record.consumer_surplus
        b.pricing_converged = record.pricing_converged
        b.pricing_iterations = record.pricing_iterations
        for flag, value in record.market_flags.items():  # impossible-market flags
            setattr(b, flag, value)
        b.meta_policy = state.focal_policy
        b.meta_avoided_inference = payoff.avoided_inference
        b.meta_ad_lift = payoff.ad_lift
        b.meta_ecosystem_value = payoff.ecosystem_value
        b.meta_training_cost = payoff.training_cost
        b.meta_capex_share = payoff.capex_share
        b.meta_net_payoff = payoff.net
        if b.no_equilibrium:
            b._withhold_market_outcomes()
        return b

    def _withhold_market_outcomes(self) -> None:
        """Report no market outcome for a quarter whose prices are not an equilibrium.

        When some firm has no finite best response (``no_equilibrium``), the prices are set
        by the cap, not by the market; everything computed from them (prices, shares of
        tokens and spend, margins, money, surplus, Meta's avoided inference and net payoff)
        would describe a market that cannot exist. Those columns are NaN; the flags,
        qualities, adoption and the payoff terms that do not depend on prices stay.
        """
        for name in _PRICE_DEPENDENT:
            setattr(self, name, NAN)
        for table in (
            self.share_tokens_by_lab,
            self.share_tokens_by_origin,
            self.enterprise_spend_share_by_lab,
        ):
            for key in table:
                table[key] = NAN

    def _prices_and_shares(self, record: QuarterRecord) -> None:
        """Average prices by kind, open and self-hosted shares, gross margins."""
        opts, Q, spend = record.options, record.tokens, record.spend
        kind = opts.kind
        closed = kind == CLOSED_API
        hosted = (kind == OPEN_API) | (kind == HOSTED)
        selfh = kind == SELF_HOST
        openm = opts.open
        margin = spend - record.serving_cost
        market = ~selfh  # what is paid to labs and hosts; self-hosting is the buyer's own cost
        self.total_tokens = float(Q.sum())
        self.total_spend = float(spend[market].sum())
        self.self_host_cost = float(spend[selfh].sum())
        self.closed_revenue = float(spend[closed].sum())
        self.price_closed = ratio(spend[closed].sum(), Q[closed].sum())
        for code, tier in enumerate(TIER_NAMES):
            in_tier = closed & (opts.tier == code)
            setattr(self, f"price_closed_{tier}", ratio(spend[in_tier].sum(), Q[in_tier].sum()))
        self.price_open_hosted = ratio(spend[hosted].sum(), Q[hosted].sum())
        self.price_self_host = ratio(spend[selfh].sum(), Q[selfh].sum())
        self.share_open_tokens = ratio(Q[openm].sum(), Q.sum())
        self.share_open_tokens_cn = ratio(Q[openm & opts.cn].sum(), Q.sum())
        self.share_open_spend = ratio(spend[openm & market].sum(), spend[market].sum())
        self.share_self_host_tokens = ratio(Q[selfh].sum(), Q.sum())
        self.closed_gross_margin = ratio(margin[closed].sum(), spend[closed].sum())
        self.host_gross_margin = ratio(margin[hosted].sum(), spend[hosted].sum())

    def _lab_prices(self, record: QuarterRecord, state: MarketState) -> None:
        """The price facts: GPT-4 level, the flagship lab's, the small tier, the focal 70B."""
        opts, prices = record.options, record.prices
        closed = (opts.kind == CLOSED_API) & np.isfinite(prices)  # withdrawn: no price
        self.price_gpt4_level = state.price_gpt4_level
        if state.flagship_lab >= 0:
            flag = closed & (opts.lab == state.flagship_lab) & (opts.tier == 0)
            if flag.any():
                self.closed_flagship_price = float(prices[flag].max())
        small = closed & (opts.tier == 2)
        if small.any():
            self.closed_small_price = float(prices[small].min())
        # The focal lab's 70B-class open model (F07-F09): hosted offers of a ~70B-active
        # release.
        h70 = (
            (opts.kind == HOSTED)
            & (opts.lab == state.focal_lab)
            & (np.abs(opts.active_b - 70.0) <= 20.0)
            & np.isfinite(prices)
        )
        if h70.any():
            self.price_open_hosted_70b = float(np.median(prices[h70]))

    def _enterprise(self, record: QuarterRecord, state: MarketState) -> None:
        """Enterprise spend shares (API spend only: Menlo's definition) and open workloads."""
        if not state.has_enterprise:
            return
        opts, e_spend, e_tok = record.options, record.enterprise_spend, record.enterprise_tokens
        api_spend = e_spend[opts.api].sum()
        for lab_key, i in state.enterprise_labs.items():
            s = e_spend[opts.api & (opts.lab == i)].sum()
            self.enterprise_spend_share_by_lab[lab_key] = ratio(s, api_spend)
        self.open_share_enterprise_workloads = ratio(e_tok[opts.open].sum(), e_tok.sum())
        e_count = record.enterprise_workloads
        self.open_share_enterprise_workload_count = ratio(e_count[opts.open].sum(), e_count.sum())
        self.enterprise_open_spend_share = ratio(
            e_spend[opts.api & opts.open].sum(), e_spend[opts.api].sum()
        )

    def _concentration(self, record: QuarterRecord) -> None:
        """The largest release's share of all tokens; closed frontier releases' share of spend.

        A release's tokens add up over all its options (its lab's API, every host, self-
        hosting). The frontier-tier share counts API spend on closed labs' tier-0 releases.
        """
        opts, Q, spend = record.options, record.tokens, record.spend
        if opts.size:
            _, release = np.unique(opts.rid, return_inverse=True)
            per_release = np.bincount(release, weights=Q)
            self.top_release_token_share = ratio(per_release.max(), Q.sum())
        frontier = (opts.kind == CLOSED_API) & (opts.tier == 0)
        self.closed_frontier_spend_share = ratio(spend[frontier].sum(), spend.sum())

    def _token_shares(self, record: QuarterRecord, state: MarketState) -> None:
        """Token shares by lab and by lab origin."""
        Q = record.tokens
        lab_tokens = np.bincount(record.options.lab, weights=Q, minlength=len(state.lab_index))
        self.share_tokens_by_lab = {
            k: ratio(lab_tokens[i], Q.sum()) for k, i in state.lab_index.items()
        }
        origins = np.array(state.origins)
        self.share_tokens_by_origin = {
            o: ratio(lab_tokens[origins == o].sum(), Q.sum()) for o in ORIGINS
        }


SCALAR_COLUMNS = [
    f.name
    for f in fields(QuarterBook)
    if f.name
    not in {
        "share_tokens_by_lab",
        "share_tokens_by_origin",
        "enterprise_spend_share_by_lab",
    }
]


def model_reporters(
    lab_keys: list[str], enterprise_share_labs: list[str] | tuple[str, ...] = ()
) -> dict[str, Any]:
    """DataCollector model reporters: every scalar of the book plus token shares.

    Args:
        lab_keys: the scenario's lab ids; each gets a ``share_tokens_<lab>`` column.
        enterprise_share_labs: labs with an ``enterprise_spend_share_<lab>`` column
            (the scenario's ``reporting.enterprise_share_labs``).
    """

    def scalar(name: str):
        return lambda m: getattr(m.book, name)

    reps: dict[str, Any] = {}
    for name in SCALAR_COLUMNS:
        reps[name] = scalar(name)
        if name == "host_gross_margin":  # the enterprise columns follow the margins
            for key in enterprise_share_labs:
                reps[ENTERPRISE_SHARE + key] = lambda m, k=key: (
                    m.book.enterprise_spend_share_by_lab.get(k, NAN)
                )
    reps["meta_cumulative_payoff"] = lambda m: m.payoff_history.cumulative
    for key in lab_keys:
        reps[f"share_tokens_{key}"] = lambda m, k=key: m.book.share_tokens_by_lab.get(k, NAN)
    for origin in ORIGINS:
        reps[f"share_tokens_{origin.lower()}"] = lambda m, o=origin: (
            m.book.share_tokens_by_origin.get(o, NAN)
        )
    return reps


def lab_reporters() -> dict[str, Any]:
    """Agent-type reporters for labs (one row per lab and quarter)."""
    return {
        "quarter": lambda a: a.model.book.quarter,
        "lab": "key",
        "name": "name",
        "origin": lambda a: a.spec.origin,
        "policy": "policy",
        "tokens_m": "tokens",
        "share_tokens": lambda a: a.model.book.share_tokens_by_lab.get(a.key, NAN),
        "api_revenue_usd": "revenue",
        "serving_cost_usd": "serving_cost",
        "gross_margin": lambda a: ratio(a.revenue - a.serving_cost, a.revenue),
        "training_cost_usd": "training_cost_q",
        "cash_usd": "cash",
        "releases": lambda a: len(a.catalogue),
    }


def host_reporters() -> dict[str, Any]:
    """Agent-type reporters for hosting providers (one row per host and quarter)."""
    return {
        "quarter": lambda a: a.model.book.quarter,
        "host": "key",
        "name": "name",
        "models_served": lambda a: len(a.serving),
        "tokens_m": "tokens",
        "revenue_usd": "revenue",
        "cost_usd": "cost",
        "gross_margin": "margin",
    }

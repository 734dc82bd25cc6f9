"""Accounting and reporters: what one quarter produced (docs/ODD.md sections 7.13 and 7.15).

:class:`QuarterBook` is computed once per quarter from the options, the price
equilibrium and the developers' choices; the DataCollector's reporters only read it, so
data collection costs almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from openweight_sim import _kernels, market
from openweight_sim.options import CLOSED_API, HOSTED, OPEN_API, SELF_HOST, Options
from openweight_sim.releases import REFERENCE_ELO

if TYPE_CHECKING:
    from openweight_sim.model import OpenWeightMarket

NAN = float("nan")


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else NAN


@dataclass
class QuarterBook:
    """One quarter's market outcome (all money in USD, tokens in millions, prices USD/M)."""

    quarter: str = ""
    price_closed: float = NAN
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
    quality_gap: float = NAN
    best_closed: float = NAN
    best_open: float = NAN
    frontier: float = NAN
    closed_gross_margin: float = NAN
    host_gross_margin: float = NAN
    enterprise_spend_share_openai: float = NAN
    enterprise_spend_share_anthropic: float = NAN
    open_share_enterprise_workloads: float = NAN
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
    host_profit_by_release: dict[str, dict[int, float]] = field(default_factory=dict)
    first_price_gpt4: float | None = None

    @classmethod
    def empty(cls) -> QuarterBook:
        """A book before the first quarter."""
        return cls()

    @classmethod
    def account(
        cls,
        model: OpenWeightMarket,
        opts: Options,
        demand: dict[str, Any],
        groups: dict[str, np.ndarray],
        eq: market.Equilibrium,
    ) -> QuarterBook:
        """Book the quarter: volumes, spend, margins, shares, Meta's payoff, surplus."""
        sc = model.config
        dev = model.developers
        scale = dev.scale
        J = opts.size
        rows, col = model._last_choice_cols
        seg_names = dev.segment_names
        enterprise = seg_names.index("enterprise") if "enterprise" in seg_names else -1
        # per-developer sums in one compiled pass (same order as np.bincount)
        Q, spend, e_tok, e_spend, on_meta = _kernels.book_developers(
            rows,
            col,
            dev.tokens,
            dev.price_paid,
            float(scale),
            dev.segment,
            enterprise,
            dev.lab,
            model.lab_index.get(sc.meta_payoff.lab, -1),
            J,
        )
        cost = np.where(opts.fixed, np.nan, opts.cost)
        serve_cost = np.where(opts.fixed, spend, opts.cost * Q)
        prices = np.where(opts.fixed | eq.withdrawn, np.nan, eq.prices)  # withdrawn: no price

        kind = opts.kind
        closed = kind == CLOSED_API
        hosted = (kind == OPEN_API) | (kind == HOSTED)
        selfh = kind == SELF_HOST
        openm = opts.open
        b = cls(quarter=model.label(model.q))
        b.first_price_gpt4 = model.book.first_price_gpt4
        b.total_tokens = float(Q.sum())
        b.total_spend = float(spend.sum())
        b.closed_revenue = float(spend[closed].sum())
        b.price_closed = _ratio(spend[closed].sum(), Q[closed].sum())
        b.price_open_hosted = _ratio(spend[hosted].sum(), Q[hosted].sum())
        b.price_self_host = _ratio(spend[selfh].sum(), Q[selfh].sum())
        gpt4 = opts.api & (opts.quality >= REFERENCE_ELO) & ~eq.withdrawn
        b.price_gpt4_level = float(prices[gpt4].min()) if gpt4.any() else NAN
        if b.first_price_gpt4 is None and np.isfinite(b.price_gpt4_level):
            b.first_price_gpt4 = b.price_gpt4_level
        b.share_open_tokens = _ratio(Q[openm].sum(), Q.sum())
        b.share_open_tokens_cn = _ratio(Q[openm & opts.cn].sum(), Q.sum())
        b.share_open_spend = _ratio(spend[openm].sum(), spend.sum())
        b.share_self_host_tokens = _ratio(Q[selfh].sum(), Q.sum())
        b.closed_gross_margin = _ratio((spend - serve_cost)[closed].sum(), spend[closed].sum())
        b.host_gross_margin = _ratio((spend - serve_cost)[hosted].sum(), spend[hosted].sum())

        labs = list(model.labs)
        li = {k: i for i, k in enumerate(labs)}
        if "openai" in li:
            flag = closed & (opts.lab == li["openai"]) & (opts.tier == 0) & ~eq.withdrawn
            if flag.any():
                b.closed_flagship_price = float(prices[flag].max())
        small = closed & (opts.tier == 2) & ~eq.withdrawn
        if small.any():
            b.closed_small_price = float(prices[small].min())
        meta_i = li.get(sc.meta_payoff.lab, -1)
        # Meta's 70B-class open model (F07-F09): hosted offers of a ~70B-active release.
        h70 = (kind == HOSTED) & (opts.lab == meta_i) & (np.abs(opts.active_b - 70.0) <= 20.0)
        h70 &= ~eq.withdrawn
        if h70.any():
            b.price_open_hosted_70b = float(np.median(prices[h70]))

        closed_q = [
            r.quality
            for r in model.releases.values()
            if not r.open_weights and model.labs[r.lab].spec.first_party_api
        ]
        open_rel = [model.releases[rid] for rid in model.active.values()]
        best_open = [r.quality for r in open_rel if r.open_weights and r.license != "research"]
        all_open = [r.quality for r in model.releases.values() if r.open_weights]
        b.best_closed = max(closed_q) if closed_q else NAN
        b.best_open = max(best_open or all_open) if (best_open or all_open) else NAN
        b.quality_gap = b.best_closed - b.best_open
        b.frontier = model.frontier

        # Enterprise spend shares (API spend only: Menlo's definition) and open workloads.
        if enterprise >= 0:
            api_spend = e_spend[opts.api].sum()
            for lab_key in ("openai", "anthropic"):
                if lab_key in li:
                    s = e_spend[opts.api & (opts.lab == li[lab_key])].sum()
                    setattr(b, f"enterprise_spend_share_{lab_key}", _ratio(s, api_spend))
            b.open_share_enterprise_workloads = _ratio(e_tok[openm].sum(), e_tok.sum())

        lab_tokens = np.bincount(opts.lab, weights=Q, minlength=len(labs))
        b.share_tokens_by_lab = {k: _ratio(lab_tokens[i], Q.sum()) for k, i in li.items()}
        origins = np.array([model.labs[k].spec.origin for k in labs])
        b.share_tokens_by_origin = {
            o: _ratio(lab_tokens[origins == o].sum(), Q.sum()) for o in ("US", "CN", "EU")
        }
        b.adopters = float(dev.adopted.sum() * scale)
        b.adoption = dev.adoption_fraction()
        b.hosted_offers = int((kind == HOSTED).sum())
        b.gpu_price = model.gpu_price

        # Consumer surplus: nested-logit log-sum over each group, in utility/alpha units.
        pr = sc.pricing
        cs = market.consumer_surplus(
            demand["delta"],
            np.where(opts.fixed, 1.0, eq.prices),
            demand["alpha"],
            nest=opts.rid,
            sigma=pr.nest_sigma,
            log_price=True,
            available=demand["available"],
        )
        counts = np.bincount(groups["inverse"], minlength=cs.size)
        b.consumer_surplus = float((cs * counts).sum() * scale)

        # Labs and hosts book their quarter.
        for k, lab in model.labs.items():
            mine = opts.lab == li[k]
            api = mine & ((kind == CLOSED_API) | (kind == OPEN_API))
            lab.revenue = float(spend[api].sum())
            lab.serving_cost = float(serve_cost[api].sum())
            lab.tokens = float(Q[mine].sum())
            lab.cash += lab.revenue - lab.serving_cost - lab.training_cost_q
        hosts = list(model.hosts.values())
        for hi, host in enumerate(hosts):
            mine = (kind == HOSTED) & (opts.host == hi)
            fixed = host.spec.fixed_cost_usd * mine.sum()
            host.revenue = float(spend[mine].sum())
            host.cost = float(serve_cost[mine].sum() + fixed)
            host.tokens = float(Q[mine].sum())
            profit = (spend - serve_cost)[mine] - host.spec.fixed_cost_usd
            b.host_profit_by_release[host.key] = {
                int(r): float(p) for r, p in zip(opts.rid[mine], profit, strict=True)
            }

        b._meta_payoff(model, opts, prices, on_meta)
        # One record per option; arrays become Python lists once (same values as float()).
        kinds = ("closed_api", "open_api", "hosted", "self_host")
        rels = [model.releases[r] for r in opts.rid.tolist()]
        fixed = opts.fixed.tolist()
        prices_l, cost_l, spend_l, q_l = prices.tolist(), cost.tolist(), spend.tolist(), Q.tolist()
        flags = market.offer_flags(eq)
        for j, (k, lab_i, host_i, quality, is_open) in enumerate(
            zip(
                kind.tolist(),
                opts.lab.tolist(),
                opts.host.tolist(),
                opts.quality.tolist(),
                openm.tolist(),
                strict=True,
            )
        ):
            model.offer_records.append(
                {
                    "quarter": b.quarter,
                    "option": opts.names[j],
                    "kind": kinds[k],
                    "lab": labs[lab_i],
                    "host": hosts[host_i].key if host_i >= 0 else "",
                    "release": rels[j].name,
                    "tier": rels[j].tier,
                    "quality": quality,
                    "open_weights": is_open,
                    "price": prices_l[j] if not fixed[j] else _ratio(spend[j], Q[j]),
                    "marginal_cost": cost_l[j] if not fixed[j] else NAN,
                    "tokens_m": q_l[j],
                    "spend_usd": spend_l[j],
                    **{name: values[j] for name, values in flags.items()},
                }
            )
        return b

    def _meta_payoff(
        self,
        model: OpenWeightMarket,
        opts: Options,
        prices: np.ndarray,
        on_meta: int,
    ) -> None:
        """Meta's payoff from its model programme this quarter (docs/ODD.md, Accounting).

        avoided inference = internal tokens × (price of a comparable closed API − own cost);
        ad lift = ad revenue × lift per 100 Elo × (Meta's best quality − 1186)/100;
        ecosystem = value per developer × developers building on Meta's family;
        minus training spend booked this quarter and a share of capex.
        """
        sc = model.config
        mp = sc.meta_payoff
        lab = model.labs[mp.lab]
        years = (model.q - model.q0) / 4.0
        mine = lab.catalogue  # internal models count: Meta AI runs on its best model
        self.meta_policy = lab.policy
        if mine:
            best = max(mine, key=lambda r: r.quality)
            own_cost = model._serving_cost(best, lab.spec.serving_efficiency)
            closed = (opts.kind == CLOSED_API) & (opts.quality >= best.quality - 30.0)
            closed &= np.isfinite(prices)  # withdrawn offers have no price
            alt = float(prices[closed].min()) if closed.any() else NAN
            tokens = mp.internal_tokens_m * (1.0 + mp.internal_token_growth) ** years
            self.meta_avoided_inference = (
                tokens * max(0.0, alt - own_cost) if np.isfinite(alt) else 0.0
            )
            revenue = mp.ad_revenue_q * (1.0 + mp.ad_revenue_growth) ** years
            lift = mp.ad_lift_per_100elo * max(0.0, best.quality - REFERENCE_ELO) / 100.0
            self.meta_ad_lift = revenue * lift
        self.meta_ecosystem_value = (
            mp.ecosystem_value_per_dev * float(on_meta) * model.developers.scale
        )
        self.meta_training_cost = lab.training_cost_q
        self.meta_capex_share = mp.capex_q * (1.0 + mp.capex_growth) ** years * mp.capex_share
        self.meta_net_payoff = (
            self.meta_avoided_inference
            + self.meta_ad_lift
            + self.meta_ecosystem_value
            - self.meta_training_cost
            - self.meta_capex_share
        )


SCALAR_COLUMNS = [
    f.name
    for f in fields(QuarterBook)
    if f.name
    not in {
        "share_tokens_by_lab",
        "share_tokens_by_origin",
        "host_profit_by_release",
        "first_price_gpt4",
    }
]


def model_reporters(lab_keys: list[str]) -> dict[str, Any]:
    """DataCollector model reporters: every scalar of the book plus token shares.

    Args:
        lab_keys: the scenario's lab ids; each gets a ``share_tokens_<lab>`` column.
    """

    def scalar(name: str):
        return lambda m: getattr(m.book, name)

    reps: dict[str, Any] = {name: scalar(name) for name in SCALAR_COLUMNS}
    reps["meta_cumulative_payoff"] = lambda m: m.cumulative["meta_net_payoff"]
    for key in lab_keys:
        reps[f"share_tokens_{key}"] = lambda m, k=key: m.book.share_tokens_by_lab.get(k, NAN)
    for origin in ("US", "CN", "EU"):
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
        "gross_margin": lambda a: _ratio(a.revenue - a.serving_cost, a.revenue),
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

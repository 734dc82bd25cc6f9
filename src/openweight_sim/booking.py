"""Booking a quarter: from the developers' choices to a :class:`QuarterRecord`, and offer rows.

:func:`book_quarter` sums what developers bought, per option, in one compiled pass over the
developers, and prices the tokens sold; labs and hosts then book themselves from the record
(``Lab.book``, ``HostingProvider.book``), the reports summarise it
(:class:`openweight_sim.metrics.QuarterBook`) and :func:`offer_rows` writes one tidy row per
option.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from openweight_sim import _kernels, market
from openweight_sim.records import Choices, DemandSystem, DeveloperGroups, QuarterRecord, ratio
from openweight_sim.releases import REFERENCE_ELO, Release

if TYPE_CHECKING:
    from openweight_sim.agents import DeveloperPopulation
    from openweight_sim.demand_classes import ClassArrays
    from openweight_sim.options import Options

NAN = float("nan")
KINDS = ("closed_api", "open_api", "hosted", "self_host")
"""Option kind names, by kind code, as the offers table writes them."""


def book_quarter(
    quarter: str,
    dev: DeveloperPopulation,
    opts: Options,
    demand: DemandSystem,
    groups: DeveloperGroups,
    eq: market.Equilibrium,
    choices: Choices,
    *,
    enterprise_segment: int,
    focal_lab: int,
    nest_sigma: float,
) -> QuarterRecord:
    """Book the quarter: tokens, spend and serving cost per option, and consumer surplus.

    Args:
        quarter: the quarter's label.
        dev: the developer population after choosing (tokens and prices paid).
        opts: the quarter's options.
        demand: the groups' demand system (for consumer surplus).
        groups: the developer groups the market was priced for.
        eq: the quarter's price equilibrium.
        choices: each row's option column after choosing.
        enterprise_segment: index of the enterprise segment (−1: none).
        focal_lab: index of the payoff's focal lab (−1: none).
        nest_sigma: nesting parameter (for consumer surplus).
    """
    scale = dev.scale
    # per-developer sums in one compiled pass (same order as np.bincount)
    tokens, spend, e_tok, e_spend, e_count, on_focal = _kernels.book_developers(
        choices.rows,
        choices.col,
        dev.tokens,
        dev.price_paid,
        float(scale),
        dev.segment,
        enterprise_segment,
        dev.lab,
        focal_lab,
        opts.size,
        dev.firm,
    )
    selfh = opts.self_hosted
    # Consumer surplus: nested-logit log-sum over each group, in utility/alpha units.
    cs = market.consumer_surplus(
        demand.delta,
        np.where(selfh, 1.0, eq.prices),
        demand.alpha,
        nest=opts.nest,
        sigma=nest_sigma,
        log_price=True,
        available=demand.available,
    )
    counts = np.bincount(groups.inverse, minlength=cs.size)
    class_tokens, class_spend = _by_class(dev, choices, opts.size, demand.self_price.shape[0])
    return QuarterRecord(
        quarter=quarter,
        options=opts,
        prices=np.where(selfh | eq.withdrawn, np.nan, eq.prices),  # withdrawn: no price
        marginal_cost=np.where(selfh, np.nan, opts.cost),
        tokens=tokens,
        spend=spend,
        serving_cost=np.where(selfh, spend, opts.cost * tokens),
        enterprise_tokens=e_tok,
        enterprise_spend=e_spend,
        enterprise_workloads=e_count,
        focal_developers=int(on_focal),
        consumer_surplus=float((cs * counts).sum() * scale),
        pricing_converged=bool(eq.converged),
        pricing_iterations=int(eq.iterations),
        market_flags=market.quarter_flags(eq),
        offer_flags=market.offer_flags(eq),
        class_tokens=class_tokens,
        class_spend=class_spend,
    )


def _by_class(
    dev: DeveloperPopulation, choices: Choices, n_options: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Tokens and spend per demand class and option (C×J), real-world units."""
    on = choices.col >= 0
    rows, col = choices.rows[on], choices.col[on]
    cell = dev.klass[rows] * n_options + col
    tok = dev.tokens[rows] * dev.scale
    paid = np.nan_to_num(dev.price_paid[rows]) * tok
    size = n_classes * n_options
    shape = (n_classes, n_options)
    return (
        np.bincount(cell, weights=tok, minlength=size).reshape(shape),
        np.bincount(cell, weights=paid, minlength=size).reshape(shape),
    )


def demand_rows(
    record: QuarterRecord,
    classes: ClassArrays,
    segment_names: Sequence[str],
    workload_names: Sequence[str],
    lab_keys: Sequence[str],
) -> list[dict[str, Any]]:
    """Who buys what: tokens and spend by segment, workload, taste type and what serves it.

    One tidy row per (segment, workload, taste, lab, tier, kind, open weights) with tokens
    this quarter (volume bands summed). Spend of a self-hosting row is the developers' own
    cost, not market spend.
    """
    if record.class_tokens is None:
        return []
    opts = record.options
    tiers = ("frontier", "mid", "small")
    out: dict[tuple[Any, ...], list[float]] = {}
    cls_i, col_i = np.nonzero(record.class_tokens > 0)
    for c, j in zip(cls_i.tolist(), col_i.tolist(), strict=True):
        key = (
            segment_names[classes.segment[c]],
            workload_names[classes.workload[c]],
            int(classes.taste[c]),
            lab_keys[opts.lab[j]],
            tiers[opts.tier[j]],
            KINDS[opts.kind[j]],
            bool(opts.open[j]),
        )
        acc = out.setdefault(key, [0.0, 0.0])
        acc[0] += float(record.class_tokens[c, j])
        acc[1] += float(record.class_spend[c, j])
    names = ("segment", "workload", "taste", "lab", "tier", "kind", "open_weights")
    return [
        {
            "quarter": record.quarter,
            **dict(zip(names, key, strict=True)),
            "tokens_m": tok,
            "spend_usd": spend,
        }
        for key, (tok, spend) in out.items()
    ]


def gpt4_level_price(record: QuarterRecord) -> float:
    """Cheapest API price of a model at least at GPT-4 level (NaN if none is offered)."""
    opts = record.options
    gpt4 = opts.api & (opts.quality >= REFERENCE_ELO) & np.isfinite(record.prices)
    return float(record.prices[gpt4].min()) if gpt4.any() else NAN


def offer_rows(
    record: QuarterRecord,
    lab_keys: Sequence[str],
    host_keys: Sequence[str],
    releases: Mapping[int, Release],
) -> list[dict[str, Any]]:
    """One tidy row per option: price, marginal cost, tokens and spend.

    A self-hosting option's price is what its users paid on average (spend over tokens)
    and it has no marginal cost.
    """
    opts = record.options
    tokens, spend = record.tokens, record.spend
    rels = [releases[r] for r in opts.rid.tolist()]
    selfh = opts.self_hosted.tolist()
    # arrays become Python lists once (same values as float())
    prices, cost = record.prices.tolist(), record.marginal_cost.tolist()
    spend_l, tokens_l = spend.tolist(), tokens.tolist()
    flags = record.offer_flags
    rows = []
    for j, (kind, lab_i, host_i, quality, is_open) in enumerate(
        zip(
            opts.kind.tolist(),
            opts.lab.tolist(),
            opts.host.tolist(),
            opts.quality.tolist(),
            opts.open.tolist(),
            strict=True,
        )
    ):
        rows.append(
            {
                "quarter": record.quarter,
                "option": opts.names[j],
                "kind": KINDS[kind],
                "lab": lab_keys[lab_i],
                "host": host_keys[host_i] if host_i >= 0 else "",
                "release": rels[j].name,
                "tier": rels[j].tier,
                "quality": quality,
                "open_weights": is_open,
                "price": prices[j] if not selfh[j] else ratio(spend[j], tokens[j]),
                "marginal_cost": cost[j] if not selfh[j] else NAN,
                "tokens_m": tokens_l[j],
                "spend_usd": spend_l[j],
                **{name: values[j] for name, values in flags.items()},
            }
        )
    return rows

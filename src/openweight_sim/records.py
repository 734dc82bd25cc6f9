"""Typed records of what flows through one quarter: groups, demand, choices, the booking.

The quarter's phases pass these instead of dicts and tuples: developers are grouped
(:class:`DeveloperGroups`), the groups' demand is summarised (:class:`DemandSystem`), the
developers choose (:class:`Choices`), and the quarter is booked (:class:`QuarterRecord`),
from which labs and hosts book themselves and the reports are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openweight_sim.options import CLOSED_API, HOSTED, OPEN_API, Options


@dataclass
class DeveloperGroups:
    """Workload rows grouped by (demand class, current option, current lab, fine-tuned).

    Groups of identical developers share utilities, so pricing and choice probabilities are
    computed per group (G of them, a few hundred), not per developer.

    Attributes:
        rows: the developers grouped (adopters, or everyone for prospective demand).
        inverse: the group of each row.
        cur_col: each row's current option column (−1 if none).
        klass, cur, lab, ft: per group, its demand class, current column, current lab,
            fine-tuned.
        tokens: per group, its expected tokens this quarter (millions, simulated developers).
        choosers: which rows may choose this quarter (None: all); prospective-demand rows
            price the market before anyone has adopted but choose nothing.
    """

    rows: np.ndarray
    inverse: np.ndarray
    cur_col: np.ndarray
    klass: np.ndarray
    cur: np.ndarray
    lab: np.ndarray
    ft: np.ndarray
    tokens: np.ndarray
    choosers: np.ndarray | None = None


@dataclass
class DemandSystem:
    """The groups' demand for the quarter's options (G groups × J options).

    Attributes:
        delta: mean utility net of price (self-hosting: including its own cost).
        available: which options each group may use.
        alpha: each group's price sensitivity.
        weight: each group's tokens in real-world units (the pricing weight).
        self_price: each class's expected own cost of self-hosting each option, at its
            typical volume (C×J, NaN elsewhere).
        self_variable: each class's GPU cost of self-hosting each option (C×J, NaN elsewhere).
        self_fixed: each class's fixed engineering cost of self-hosting, USD per quarter (C,).
    """

    delta: np.ndarray
    available: np.ndarray
    alpha: np.ndarray
    weight: np.ndarray
    self_price: np.ndarray
    self_variable: np.ndarray
    self_fixed: np.ndarray


@dataclass
class Choices:
    """The developers' options after choosing: ``col[i]`` is the column of ``rows[i]``.

    A column of −1 means no option (the outside option, or a row that bought nothing).
    """

    rows: np.ndarray
    col: np.ndarray


def ratio(num: float, den: float) -> float:
    """``num / den`` as a float, or NaN where ``den`` is not positive (nothing was sold)."""
    return float(num / den) if den > 0 else float("nan")


@dataclass
class QuarterRecord:
    """One quarter booked: per option, volumes, money and prices (real-world units).

    Money in USD, tokens in millions, prices in USD per M tokens. A self-hosting option has
    no market price: ``prices`` and ``marginal_cost`` are NaN there, and its ``serving_cost``
    equals its spend (developers pay their own cost).

    Attributes:
        quarter: the quarter's label.
        options: the quarter's options.
        prices: price per option (NaN for self-hosting).
        marginal_cost: marginal serving cost per option (NaN for self-hosting).
        tokens: tokens bought per option.
        spend: developers' spend per option.
        serving_cost: serving cost of the tokens sold, per option.
        enterprise_tokens, enterprise_spend: the enterprise segment's share of the above.
        enterprise_workloads: the enterprise segment's workload rows on each option.
        focal_developers: simulated developers with at least one workload on the payoff lab's
            family (Meta's ecosystem).
        consumer_surplus: developers' surplus, USD-equivalent.
        pricing_converged, pricing_iterations: the price equilibrium's solver outcome.
        market_flags: the quarter's impossible-market flags (``market.quarter_flags``).
        offer_flags: per-option impossible-market flags (``market.offer_flags``).
        class_tokens, class_spend: tokens and spend per demand class and option (C×J): who
            buys what (``booking.demand_rows``); None when not booked.
    """

    quarter: str
    options: Options
    prices: np.ndarray
    marginal_cost: np.ndarray
    tokens: np.ndarray
    spend: np.ndarray
    serving_cost: np.ndarray
    enterprise_tokens: np.ndarray
    enterprise_spend: np.ndarray
    enterprise_workloads: np.ndarray
    focal_developers: int
    consumer_surplus: float
    pricing_converged: bool
    pricing_iterations: int
    market_flags: dict[str, Any] = field(default_factory=dict)
    offer_flags: dict[str, list[bool]] = field(default_factory=dict)
    class_tokens: np.ndarray | None = None
    class_spend: np.ndarray | None = None

    def lab_api(self, lab: int) -> np.ndarray:
        """The options a lab sells through its own API (closed, or its open model's API)."""
        kind = self.options.kind
        return (self.options.lab == lab) & ((kind == CLOSED_API) | (kind == OPEN_API))

    def host_offers(self, host: int) -> np.ndarray:
        """The options a host sells."""
        return (self.options.kind == HOSTED) & (self.options.host == host)

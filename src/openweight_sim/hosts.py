"""Inference hosts: the agent, and how hosts enter and leave the serving of open models.

Entry (docs/ODD.md section 7.10): each quarter hosts consider open models released within the entry
window; the market is priced with the candidate offers added, and a host adds a model when
its expected profit over the payback horizon beats the onboarding cost, best candidates
first (:func:`enter`). Exit: a host drops a model that lost money ``drop_after`` quarters
running (:meth:`HostingProvider.review`), and every host drops retired releases
(:func:`retire`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import mesa
import numpy as np

from openweight_sim.options import HOSTED, Options
from openweight_sim.pricing import solver_cost
from openweight_sim.records import DemandSystem, QuarterRecord
from openweight_sim.releases import Release
from openweight_sim.scenario import Host as HostSpec

if TYPE_CHECKING:
    from openweight_sim.market import Equilibrium


class HostingProvider(mesa.Agent):
    """An inference host serving open-weight models at per-token prices.

    Attributes:
        key: scenario id (e.g. ``"together"``).
        index: its position among the scenario's hosts (its options' host index).
        spec: its scenario parameters.
        serving: release ids it serves.
        losses: consecutive loss-making quarters per served release.
        revenue, cost, tokens: this quarter's booking (USD, USD, M tokens).
        profit_by_release: this quarter's profit per served release, USD.
    """

    def __init__(self, model: mesa.Model, key: str, spec: HostSpec, index: int = 0):
        super().__init__(model)
        self.key = key
        self.index = index
        self.spec = spec
        self.serving: set[int] = set()
        self.losses: dict[int, int] = {}
        self.revenue = 0.0
        self.cost = 0.0
        self.tokens = 0.0
        self.onboarding_spend = 0.0
        self.profit_by_release: dict[int, float] = {}

    @property
    def name(self) -> str:
        """Display name."""
        return self.spec.name

    @property
    def margin(self) -> float:
        """Gross margin this quarter, (revenue − cost)/revenue (NaN without revenue)."""
        return (self.revenue - self.cost) / self.revenue if self.revenue > 0 else float("nan")

    def may_serve(self, release: Release) -> bool:
        """Whether licence, origin policy and capacity allow serving a release."""
        if not release.open_weights or release.license == "research":
            return False
        if release.origin == "CN" and not self.spec.serves_cn_models:
            return False
        return len(self.serving) < self.spec.max_models

    def decide_entry(self, rid: int, expected_profit_q: float) -> bool:
        """Add a model if its expected profit over the payback horizon beats onboarding."""
        spec = self.spec
        gain = (expected_profit_q - spec.fixed_cost_usd) * spec.payback_quarters
        if gain > spec.onboarding_cost_usd and len(self.serving) < spec.max_models:
            self.serving.add(rid)
            self.losses[rid] = 0
            self.onboarding_spend += spec.onboarding_cost_usd
            return True
        return False

    def book(self, record: QuarterRecord) -> None:
        """Book the quarter: revenue, serving plus fixed cost, tokens, profit per model."""
        mine = record.host_offers(self.index)
        fixed = self.spec.fixed_cost_usd * mine.sum()
        self.revenue = float(record.spend[mine].sum())
        self.cost = float(record.serving_cost[mine].sum() + fixed)
        self.tokens = float(record.tokens[mine].sum())
        profit = (record.spend - record.serving_cost)[mine] - self.spec.fixed_cost_usd
        self.profit_by_release = {
            int(r): float(p) for r, p in zip(record.options.rid[mine], profit, strict=True)
        }

    def review(self, profit_by_release: Mapping[int, float]) -> list[int]:
        """Count loss-making quarters; drop models that lost money ``drop_after`` times running."""
        dropped = []
        for rid in sorted(self.serving):
            loss = profit_by_release.get(rid, -self.spec.fixed_cost_usd) < 0
            self.losses[rid] = self.losses.get(rid, 0) + 1 if loss else 0
            if self.losses[rid] >= self.spec.drop_after:
                dropped.append(rid)
        for rid in dropped:
            self.serving.discard(rid)
            self.losses.pop(rid, None)
        return dropped


def entry_candidates(
    hosts: Sequence[HostingProvider],
    releases: Mapping[int, Release],
    active: Iterable[int],
    q: int,
    window: int,
) -> list[tuple[int, int]]:
    """(host index, release id) pairs a host may start serving this quarter.

    Hosts consider the active open models released this quarter or within ``window``
    quarters before it, that they do not serve yet and may serve.
    """
    recent = [rid for rid in sorted(set(active)) if q - releases[rid].quarter < window]
    return [
        (hi, rid)
        for hi, host in enumerate(hosts)
        for rid in recent
        if rid not in host.serving and host.may_serve(releases[rid])
    ]


def expected_profit(opts: Options, demand: DemandSystem, eq: Equilibrium) -> np.ndarray:
    """Each option's expected profit per quarter at the equilibrium, USD."""
    volume = (demand.weight[:, None] * eq.shares).sum(axis=0)
    return (eq.prices - solver_cost(opts)) * volume


def enter(
    hosts: Sequence[HostingProvider],
    opts: Options,
    candidates: Iterable[tuple[int, int]],
    profit: np.ndarray,
) -> None:
    """Hosts decide on their candidate offers, most profitable first.

    Ranking first means a host's capacity goes to its best models.
    """
    cand = set(candidates)
    order = np.argsort(-profit, kind="stable")
    for j in order:
        if opts.kind[j] == HOSTED and (int(opts.host[j]), int(opts.rid[j])) in cand:
            hosts[int(opts.host[j])].decide_entry(int(opts.rid[j]), float(profit[j]))


def retire(hosts: Iterable[HostingProvider], active: Iterable[int]) -> None:
    """Drop hosts' offers of releases that are no longer active."""
    live = set(active)
    for host in hosts:
        for rid in list(host.serving):
            if rid not in live:
                host.serving.discard(rid)
                host.losses.pop(rid, None)

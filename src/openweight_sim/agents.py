"""Agents: labs (Mesa agents) and developers (arrays + thin views); hosts live in ``hosts``.

Labs and hosts are few and make discrete decisions, so they are ordinary Mesa agents
(:class:`~openweight_sim.hosts.HostingProvider` is re-exported here).
Developers are many (10^3–10^6): their state lives in :class:`DeveloperPopulation`, a
struct of numpy arrays whose decisions are vectorised; :class:`Developer` agents are
thin views onto one row each, so ``model.agents_by_type[Developer]`` still works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mesa
import numpy as np

from openweight_sim.demand_classes import BAND_CUTS, ClassArrays
from openweight_sim.hosts import HostingProvider
from openweight_sim.meta_payoff import consolidates
from openweight_sim.options import NO_CHOICE, OUTSIDE
from openweight_sim.records import QuarterRecord
from openweight_sim.releases import (
    Release,
    coding_from_general,
    coding_offsets,
    generation_quality,
)
from openweight_sim.scenario import TIERS, Scenario, quarter_index, quarter_label
from openweight_sim.scenario import Lab as LabSpec

__all__ = [
    "NO_CHOICE",
    "OUTSIDE",
    "AgentsByType",
    "Developer",
    "DeveloperPopulation",
    "HostingProvider",
    "Lab",
]


class Lab(mesa.Agent):
    """An AI lab: releases models, keeps or changes its openness policy, books revenue.

    Attributes:
        key: scenario id (e.g. ``"meta"``).
        index: its position among the scenario's labs (its options' lab index).
        spec: its scenario parameters.
        policy: current openness policy (may change by schedule or by its objective).
        catalogue: all its releases so far.
        cash: cumulative API revenue minus serving and training cost, USD.
        training_spend: cumulative training cost, USD.
        revenue, serving_cost, tokens: this quarter's API booking (USD, USD, M tokens).
        training_cost_q: training cost booked this quarter, USD.

    The model is the market model (``OpenWeightMarket``): a lab reads its ``config``, ``rng``
    and ``releases`` (it is typed as a Mesa model so that this module does not import the
    model module, which imports it).
    """

    def __init__(self, model: mesa.Model, key: str, spec: LabSpec, index: int = 0):
        super().__init__(model)
        self.key = key
        self.index = index
        self.spec = spec
        self.policy = spec.policy
        self.catalogue: list[Release] = []
        self.cash = 0.0
        self.training_spend = 0.0
        self.last_release_q: int | None = None
        self.revenue = 0.0
        self.serving_cost = 0.0
        self.tokens = 0.0
        self.training_cost_q = 0.0
        self._schedule = {quarter_index(c.quarter): c.policy for c in spec.policy_changes}

    @property
    def name(self) -> str:
        """Display name."""
        return self.spec.name

    def open_tiers(self) -> set[str]:
        """Tiers whose weights the lab releases openly under its current policy."""
        if self.policy == "open":
            return set(TIERS)
        if self.policy == "hybrid":
            return {"small"}
        return set()

    def update_policy(self, q: int, trailing_payoff: float | None) -> None:
        """Apply a scheduled policy change, or consolidate if openness stopped paying.

        Args:
            q: absolute quarter index.
            trailing_payoff: the lab's openness payoff over the last four quarters (USD),
                or None when not tracked.
        """
        if q in self._schedule:
            self.policy = self._schedule[q]
        if consolidates(trailing_payoff, self.spec.consolidate_below):
            self.policy = "closed"

    def previous_quality(self) -> float | None:
        """Quality of the lab's latest frontier-tier release, if any."""
        best = [r.quality for r in self.catalogue if r.tier == self.spec.tiers[0]]
        return best[-1] if best else None

    def release(self, q: int, frontier: float) -> list[Release]:
        """Decide whether to release a generation this quarter and return its models.

        A lab releases every ``release_interval`` quarters (or with probability 1/interval
        when the cadence is stochastic). A generation has one model per tier: the top
        tier's quality comes from :func:`generation_quality`, lower tiers sit
        ``technology.tier_gap`` below it. Architecture and openness follow the lab's
        parameters and current policy.
        """
        spec, model = self.spec, self.model
        interval = spec.release_interval
        if spec.stochastic_cadence:
            due = model.rng.random() < 1.0 / interval
        else:
            due = self.last_release_q is None or q - self.last_release_q >= interval
        if not due:
            return []
        noise = model.rng.normal(0.0, spec.quality_noise) if spec.quality_noise > 0 else 0.0
        top = generation_quality(
            frontier,
            self.previous_quality(),
            frontier_lab=spec.frontier_lab,
            catch_up=spec.catch_up,
            offset=spec.quality_offset,
            noise=noise,
        )
        top += model.config.technology.reasoning_bonus if spec.reasoning else 0.0
        tech = model.config.technology
        gap = tech.tier_gap
        open_tiers = self.open_tiers()
        coding_offset = self.coding_offset()
        out = []
        for tier in spec.tiers:
            quality = top - (getattr(gap, tier) - gap.frontier)
            is_open = tier in open_tiers
            # A hybrid lab keeps its closed line beside the open one (Gemini Flash beside
            # Gemma): a closed model in every tier, and an open sibling a little below it.
            lines = [(False, quality)]
            if is_open:
                sibling = quality - tech.open_line_gap
                lines = (
                    [(False, quality), (True, sibling)]
                    if self.policy == "hybrid"
                    else [(True, quality)]
                )
            for open_weights, q_line in lines:
                out.append(self._new_release(q, tier, q_line, open_weights, coding_offset))
        return out

    def _new_release(
        self, q: int, tier: str, quality: float, open_weights: bool, coding_offset: float
    ) -> Release:
        """Register one rule-generated release of this lab (one tier, one line)."""
        spec = self.spec
        total = getattr(spec.total_params_b, tier)
        suffix = " open" if open_weights and self.policy == "hybrid" else ""
        return self.model.releases.new(
            lab=self.key,
            name=f"{spec.name} {tier}{suffix} {quarter_label(q)}",
            quarter=q,
            tier=tier,
            quality=quality,
            total_b=total,
            active_b=total / getattr(spec.moe_leverage, tier),
            open_weights=open_weights,
            license=spec.license if open_weights else "proprietary",
            origin=spec.origin,
            reasoning=spec.reasoning,
            coding=coding_from_general(quality) + coding_offset,
        )

    def coding_offset(self) -> float:
        """Coding Elo of future releases above the general-to-coding mapping.

        The scenario's ``coding_offset``, or the mean residual of the lab's measured
        historical releases (:func:`openweight_sim.releases.coding_offsets`), else 0.
        """
        if self.spec.coding_offset is not None:
            return self.spec.coding_offset
        history = self.model.config.history
        return coding_offsets(history).get(self.key, 0.0) if history else 0.0

    def record_release(self, release: Release) -> None:
        """Add a release to the catalogue and book its training cost."""
        self.catalogue.append(release)
        self.last_release_q = release.quarter
        cost = getattr(self.spec.training_cost_usd, release.tier)
        self.training_cost_q += cost
        self.training_spend += cost

    def book(self, record: QuarterRecord) -> None:
        """Book the quarter from the record: API revenue and serving cost, tokens, cash."""
        api = record.lab_api(self.index)
        self.revenue = float(record.spend[api].sum())
        self.serving_cost = float(record.serving_cost[api].sum())
        self.tokens = float(record.tokens[record.options.lab == self.index].sum())
        self.cash += self.revenue - self.serving_cost - self.training_cost_q


class DeveloperPopulation:
    """Developer state as a struct of numpy arrays: one row per developer *workload*.

    A developer (a firm or team) runs one workload of each type in its segment's portfolio
    (:meth:`~openweight_sim.scenario.Developers.segment_workloads`) and serves each with a
    model of its choice: rows ``first_row[i] .. first_row[i] + n_rows[i] - 1`` are
    developer ``i``'s workloads. Each simulated developer stands for ``population /
    count`` real developer firms (``scale``), so token and money totals are in real-world
    units whatever the count. Adoption is per developer (all its workloads adopt
    together); choices, lock-in and prices are per workload.

    Attributes:
        count: number of developers; rows: number of workload rows.
        firm: developer index of each row.
        segment, workload, taste, band: each row's segment, workload type, taste type and
            volume band; klass: its demand class (:class:`~openweight_sim.demand_classes.
            ClassArrays`).
        adopted: has adopted LLMs (Bass diffusion), per row (its developer's state).
        base_tokens: tokens per quarter at 2023Q1 demand, millions, per row.
        tokens: this quarter's tokens, millions.
        choice: stable key of the current option, or NO_CHOICE / OUTSIDE.
        lab: lab index of the current (or last) model family, −1 if none.
        finetuned: has fine-tuned on its current family.
        price_paid: price per M tokens of its current option.
    """

    def __init__(self, scenario: Scenario, classes: ClassArrays, rng: np.random.Generator):
        dev = scenario.developers
        self.segment_names = list(dev.segments)
        self.workload_names = list(dev.workloads)
        segs = list(dev.segments.values())
        n = dev.count
        self.count = n
        self.scale = dev.population / n
        # Largest-remainder allocation: segment sizes are exact, not a random draw.
        seg_of = np.repeat(
            np.arange(len(segs), dtype=np.int16), _allocate(np.array([s.share for s in segs]), n)
        )
        z = rng.standard_normal(n)
        median = np.array([s.tokens_m for s in segs])[seg_of]
        sigma = np.array([s.tokens_sigma for s in segs])[seg_of]
        firm_tokens = median * np.exp(sigma * z)
        band = np.searchsorted(np.array(BAND_CUTS), z).astype(np.int16)
        taste = _assign_tastes(seg_of, np.array([t.share for t in dev.taste_types]), rng)
        self.firm_adopted = np.zeros(n, dtype=bool)
        self.firm_adopted[rng.permutation(n)[: round(dev.initial_adoption * n)]] = True
        # workload rows, developer-major
        portfolio = [
            np.array([self.workload_names.index(w) for w in dev.segment_workloads(k)])
            for k in dev.segments
        ]
        self.n_rows = np.array([portfolio[s].size for s in seg_of], dtype=np.int64)
        self.first_row = np.concatenate([[0], np.cumsum(self.n_rows)[:-1]]).astype(np.int64)
        self.firm = np.repeat(np.arange(n, dtype=np.int64), self.n_rows)
        self.segment = seg_of[self.firm]
        self.workload = np.concatenate([portfolio[s] for s in seg_of]).astype(np.int16)
        self.taste = taste[self.firm]
        self.band = band[self.firm]
        self.klass = classes.index[self.segment, self.workload, self.taste, self.band].astype(
            np.int64
        )
        volume = np.array([w.volume for w in dev.workloads.values()])
        self.base_tokens = firm_tokens[self.firm] * volume[self.workload]
        m = self.rows = int(self.firm.size)
        self.adopted = self.firm_adopted[self.firm]
        self.tokens = np.zeros(m)
        self.choice = np.full(m, NO_CHOICE, dtype=np.int64)
        self.lab = np.full(m, -1, dtype=np.int16)
        self.finetuned = np.zeros(m, dtype=bool)
        self.price_paid = np.full(m, np.nan)

    def adoption_fraction(self) -> float:
        """Share of the developers (not workloads) that has adopted LLMs."""
        return float(self.firm_adopted.mean())

    def adopt(self, target_fraction: float, rng: np.random.Generator) -> int:
        """Bring adoption up to ``target_fraction`` by adopting random non-adopters."""
        want = round(target_fraction * self.count) - int(self.firm_adopted.sum())
        if want <= 0:
            return 0
        idle = np.flatnonzero(~self.firm_adopted)
        new = rng.choice(idle, size=min(want, idle.size), replace=False)
        self.firm_adopted[new] = True
        self.adopted = self.firm_adopted[self.firm]
        return int(new.size)

    def rows_of(self, developer: int) -> slice:
        """The workload rows of one developer."""
        first = int(self.first_row[developer])
        return slice(first, first + int(self.n_rows[developer]))


def _allocate(shares: np.ndarray, n: int) -> np.ndarray:
    """Largest-remainder allocation of ``n`` items by ``shares`` (exact sizes, no draw)."""
    raw = shares / shares.sum() * n
    sizes = np.floor(raw).astype(int)
    sizes[np.argsort(raw - sizes, kind="stable")[::-1][: n - sizes.sum()]] += 1
    return sizes


def _assign_tastes(seg_of: np.ndarray, shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Taste type per developer: exact shares within each segment, in random order."""
    taste = np.zeros(seg_of.size, dtype=np.int16)
    if shares.size == 1:
        return taste
    for s in np.unique(seg_of):
        members = np.flatnonzero(seg_of == s)
        types = np.repeat(np.arange(shares.size, dtype=np.int16), _allocate(shares, members.size))
        taste[members] = types[rng.permutation(members.size)]
    return taste


class Developer(mesa.Agent):
    """A thin Mesa view onto one developer's rows of the :class:`DeveloperPopulation` arrays.

    The model is the market model: a view reads its ``developers`` and ``offers``.
    """

    def __init__(self, model: mesa.Model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def segment(self) -> str:
        """Segment name."""
        pop = self.model.developers
        return pop.segment_names[pop.segment[pop.first_row[self.row]]]

    @property
    def adopted(self) -> bool:
        """Whether the developer uses LLMs."""
        return bool(self.model.developers.firm_adopted[self.row])

    @property
    def tokens(self) -> float:
        """Tokens this quarter over all its workloads, millions."""
        pop = self.model.developers
        return float(pop.tokens[pop.rows_of(self.row)].sum())

    @property
    def choices(self) -> dict[str, str | None]:
        """Name of the option serving each of its workloads (multi-homing)."""
        pop = self.model.developers
        rows = range(pop.rows_of(self.row).start, pop.rows_of(self.row).stop)
        return {
            pop.workload_names[pop.workload[r]]: self.model.offers.name(int(pop.choice[r]))
            for r in rows
        }

    @property
    def choice(self) -> str | None:
        """Name of the option serving its first workload (None if none, "outside" if no LLM)."""
        pop = self.model.developers
        return self.model.offers.name(int(pop.choice[pop.first_row[self.row]]))


class AgentsByType(dict):
    """Mesa's agents-by-type registry that creates the ``Developer`` views on first use.

    Why: a view per developer costs most of the set-up time at large populations, and only
    code that asks for ``model.agents_by_type[Developer]`` (or walks the registry) needs them.
    Mesa's own bookkeeping (registering labs and hosts, the DataCollector reading them via
    ``model.agent_types``, which the model answers without building) looks up other types
    and does not trigger the views.
    """

    def __init__(self, build: Callable[[], None] | None = None) -> None:
        """Start empty, with the views pending.

        Args:
            build: creates the views, which register themselves here; None: no views.
        """
        super().__init__()
        self._build = build

    @property
    def views_pending(self) -> bool:
        """Whether the views are offered but not built yet."""
        return self._build is not None

    def ensure_views(self) -> None:
        """Create the views if they are still pending (once)."""
        if self._build is not None:
            build, self._build = self._build, None
            build()

    def __getitem__(self, key: Any) -> Any:
        if key is Developer:
            self.ensure_views()
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        """As ``dict.get``; asking for ``Developer`` creates the views."""
        if key is Developer:
            self.ensure_views()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        if key is Developer:
            self.ensure_views()
        return super().__contains__(key)

    def __iter__(self):
        self.ensure_views()
        return super().__iter__()

    def __len__(self) -> int:
        self.ensure_views()
        return super().__len__()

    def keys(self):
        """As ``dict.keys``, with the views created."""
        self.ensure_views()
        return super().keys()

    def values(self):
        """As ``dict.values``, with the views created."""
        self.ensure_views()
        return super().values()

    def items(self):
        """As ``dict.items``, with the views created."""
        self.ensure_views()
        return super().items()

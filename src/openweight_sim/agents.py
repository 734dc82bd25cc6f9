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

from openweight_sim.hosts import HostingProvider
from openweight_sim.options import NO_CHOICE, OUTSIDE
from openweight_sim.records import QuarterRecord
from openweight_sim.releases import Release, generation_quality
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

    def update_policy(self, q: int) -> None:
        """Apply a scheduled policy change (Meta's own review: ``meta.decision``).

        Args:
            q: absolute quarter index.
        """
        if q in self._schedule:
            self.policy = self._schedule[q]

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
        gap = model.config.technology.tier_gap
        open_tiers = self.open_tiers()
        out = []
        for tier in spec.tiers:
            total = getattr(spec.total_params_b, tier)
            active = total / getattr(spec.moe_leverage, tier)
            is_open = tier in open_tiers
            out.append(
                model.releases.new(
                    lab=self.key,
                    name=f"{spec.name} {tier} {quarter_label(q)}",
                    quarter=q,
                    tier=tier,
                    quality=top - (getattr(gap, tier) - gap.frontier),
                    total_b=total,
                    active_b=active,
                    open_weights=is_open,
                    license=spec.license if is_open else "proprietary",
                    origin=spec.origin,
                    reasoning=spec.reasoning,
                )
            )
        return out

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
    """Developer state as a struct of numpy arrays (one row per developer).

    Each simulated developer stands for ``population / count`` real developer firms
    (``scale``), so token and money totals are in real-world units whatever the count.

    Attributes:
        segment: segment index per developer.
        adopted: has adopted LLMs (Bass diffusion).
        base_tokens: tokens per quarter at 2023Q1 demand, millions.
        tokens: this quarter's tokens, millions.
        choice: stable key of the current option, or NO_CHOICE / OUTSIDE.
        lab: lab index of the current (or last) model family, −1 if none.
        finetuned: has fine-tuned on its current family.
        price_paid: price per M tokens of its current option.
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        dev = scenario.developers
        self.segment_names = list(dev.segments)
        segs = list(dev.segments.values())
        n = dev.count
        self.count = n
        self.scale = dev.population / n
        shares = np.array([s.share for s in segs])
        # Largest-remainder allocation: segment sizes are exact, not a random draw.
        raw = shares * n
        sizes = np.floor(raw).astype(int)
        sizes[np.argsort(raw - sizes)[::-1][: n - sizes.sum()]] += 1
        self.segment = np.repeat(np.arange(len(segs), dtype=np.int16), sizes)
        median = np.array([s.tokens_m for s in segs])[self.segment]
        sigma = np.array([s.tokens_sigma for s in segs])[self.segment]
        self.base_tokens = median * np.exp(sigma * rng.standard_normal(n))
        self.adopted = np.zeros(n, dtype=bool)
        self.adopted[rng.permutation(n)[: round(dev.initial_adoption * n)]] = True
        self.tokens = np.zeros(n)
        self.choice = np.full(n, NO_CHOICE, dtype=np.int64)
        self.lab = np.full(n, -1, dtype=np.int16)
        self.finetuned = np.zeros(n, dtype=bool)
        self.price_paid = np.full(n, np.nan)

    def adoption_fraction(self) -> float:
        """Share of the population that has adopted LLMs."""
        return float(self.adopted.mean())

    def adopt(self, target_fraction: float, rng: np.random.Generator) -> int:
        """Bring adoption up to ``target_fraction`` by adopting random non-adopters."""
        want = round(target_fraction * self.count) - int(self.adopted.sum())
        if want <= 0:
            return 0
        idle = np.flatnonzero(~self.adopted)
        new = rng.choice(idle, size=min(want, idle.size), replace=False)
        self.adopted[new] = True
        return int(new.size)


class Developer(mesa.Agent):
    """A thin Mesa view onto one row of the :class:`DeveloperPopulation` arrays.

    The model is the market model: a view reads its ``developers`` and ``offers``.
    """

    def __init__(self, model: mesa.Model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def segment(self) -> str:
        """Segment name."""
        pop = self.model.developers
        return pop.segment_names[pop.segment[self.row]]

    @property
    def adopted(self) -> bool:
        """Whether the developer uses LLMs."""
        return bool(self.model.developers.adopted[self.row])

    @property
    def tokens(self) -> float:
        """Tokens this quarter, millions."""
        return float(self.model.developers.tokens[self.row])

    @property
    def choice(self) -> str | None:
        """Name of the current option (None if none, "outside" if not using an LLM)."""
        return self.model.offers.name(int(self.model.developers.choice[self.row]))


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

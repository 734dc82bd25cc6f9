"""OpenWeightMarket: the Mesa model that runs one quarter of the AI model market per step.

Phases of a quarter (docs/ODD.md, "Process overview"), and where each lives:

1. technology — GPU price, serving efficiency and the closed frontier advance
   (:meth:`OpenWeightMarket._technology`);
2. releases — historical table up to ``history_until``, lab rules afterwards
   (:meth:`OpenWeightMarket._releases`, ``agents.Lab.release``);
3. options and serving cost — per option, from GPU price, throughput and *active* parameters
   (``options.quarter_options``, ``serving.ServingConditions``; self-hosting:
   ``serving.self_host_price``);
4. hosts enter and exit — entry when expected profit beats onboarding cost
   (``hosts.entry_candidates``, ``hosts.enter``, ``hosts.HostingProvider.review``);
5. prices — Bertrand–Nash (zeta-markup fixed point) or adaptive (``pricing.quarter_prices``);
6. developers choose — a share re-optimises; nested logit; draws in one compiled pass
   (``choice.group_developers``, ``choice.demand_system``, ``choice.choose``);
7. accounting — the quarter booked into a record (``booking.book_quarter``), labs and hosts
   book themselves from it, Meta's payoff (``meta_payoff.meta_payoff``), the report
   (``metrics.QuarterBook``) and data collection;
8. demand grows — Bass adoption; tokens per developer grow and respond to price.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mesa
import numpy as np
from mesa.experimental.scenarios import Scenario as MesaScenario

from openweight_sim import _kernels, market
from openweight_sim.agents import AgentsByType, Developer, DeveloperPopulation, Lab
from openweight_sim.booking import book_quarter, demand_rows, gpt4_level_price, offer_rows
from openweight_sim.choice import choose, demand_system, group_developers
from openweight_sim.demand_classes import ClassArrays
from openweight_sim.hosts import HostingProvider, enter, entry_candidates, expected_profit, retire
from openweight_sim.meta_payoff import PayoffHistory, PayoffTerms, meta_payoff
from openweight_sim.metrics import (
    MarketState,
    QuarterBook,
    host_reporters,
    lab_reporters,
    model_reporters,
)
from openweight_sim.options import (
    OfferCatalogue,
    Options,
    build_options,
    quarter_options,
)
from openweight_sim.pricing import quarter_prices
from openweight_sim.records import Choices, DemandSystem, DeveloperGroups, QuarterRecord
from openweight_sim.releases import (
    Release,
    Releases,
    best_qualities,
    historical_coding,
    history_by_quarter,
)
from openweight_sim.scenario import Scenario, load_scenario, quarter_index, quarter_label
from openweight_sim.serving import ServingConditions

REF_EFFICIENCY_QUARTER = quarter_index("2024Q2")
"""Quarter at which ``technology.ref_throughput`` was measured (F35, 2024)."""
LINES = ("open", "closed")
"""A lab's two product lines per tier: open weights and closed (API-only) models."""
VIEWS_UP_TO = 50_000
"""Largest population for which ``Developer`` views exist by default (built on first use)."""


def _two_lines(lab: Lab, tier: str) -> bool:
    """Whether a lab runs an open and a closed line in a tier (a hybrid's open tiers)."""
    return lab.policy == "hybrid" and tier in lab.open_tiers()


def _line(release: Release) -> str:
    """The product line of a release: ``"open"`` for open weights, else ``"closed"``."""
    return LINES[0] if release.open_weights else LINES[1]


class OpenWeightMarket(mesa.Model):
    """The AI model market, one calendar quarter per step.

    Args:
        scenario: a bundled name (``"baseline"``), a path to a YAML file, or a Scenario.
            Mesa's own ``mesa.experimental.scenarios.Scenario``, which SolaraViz passes on
            Reset, stands for the default (``"baseline"``) seeded by its ``rng``.
        rng: seed or numpy Generator (Mesa's ``rng``); same scenario and rng give
            identical results.
        developer_agents: offer a thin :class:`Developer` Mesa agent per developer row in
            ``model.agents_by_type[Developer]``, built on first access (``None``: only up
            to 50,000 developers, to keep a million-developer run lean).
        **overrides: dotted scenario paths, e.g. ``**{"developers.count": 5000}``, so that
            ``mesa.batch_run`` can sweep them.

    Attributes:
        config: the resolved scenario (a :class:`Scenario`; Mesa reserves ``scenario``).
        developers: the developer population's arrays.
        releases: every release so far, by id.
        offers: stable ids and names of options.
        record: the last quarter booked (:class:`QuarterRecord`), per option.
        book: the last quarter's report (:class:`QuarterBook`), read by the reporters.
        datacollector: per-quarter model reporters (docs/ODD.md section 7.15) and per-lab and
            per-host agent-type reporters.
        offer_records: tidy rows per option and quarter (price, cost, tokens, revenue).
    """

    def __init__(
        self,
        scenario: str | Path | Scenario = "baseline",
        rng: Any = None,
        *,
        developer_agents: bool | None = None,
        **overrides: Any,
    ):
        if isinstance(scenario, MesaScenario):
            rng = scenario.rng if rng is None else rng
            scenario = "baseline"
        super().__init__(rng=rng)
        # compiled kernels load here, in set-up, not in the first quarter
        market.warm_up()
        _kernels.warm_up_choice()
        self.config = load_scenario(scenario, overrides, override_source="model keyword")
        self._set_clock()
        self._create_agents(developer_agents)
        self._init_state()
        sc = self.config
        self.datacollector = mesa.DataCollector(
            model_reporters=model_reporters(list(sc.labs), sc.reporting.enterprise_share_labs),
            agenttype_reporters={Lab: lab_reporters(), HostingProvider: host_reporters()},
        )

    def _set_clock(self) -> None:
        """Quarter indices of the run: start, end, end of the historical table."""
        sc = self.config
        self.q0 = quarter_index(sc.start)
        self.q_end = quarter_index(sc.end)
        self.q = self.q0
        self.history_end = quarter_index(sc.history_until) if sc.history else self.q0 - 1
        if sc.history:
            history_by_quarter(sc.history)  # read the historical table in set-up (cached)

    def _create_agents(self, developer_agents: bool | None) -> None:
        """Labs and hosts (Mesa agents), the developer arrays, and their views on demand."""
        sc = self.config
        self.labs: dict[str, Lab] = {
            k: Lab(self, k, spec, index=i) for i, (k, spec) in enumerate(sc.labs.items())
        }
        self.lab_index = {k: i for i, k in enumerate(self.labs)}
        self.hosts: dict[str, HostingProvider] = {
            k: HostingProvider(self, k, spec, index=i)
            for i, (k, spec) in enumerate(sc.hosts.items())
        }
        self.host_index = {k: i for i, k in enumerate(self.hosts)}
        self.classes = ClassArrays.from_scenario(sc)
        segments = list(sc.developers.segments.values())
        self.enterprise_segment = next((i for i, s in enumerate(segments) if s.enterprise), -1)
        self.developers = DeveloperPopulation(sc, self.classes, self.rng)
        views = sc.developers.count <= VIEWS_UP_TO if developer_agents is None else developer_agents
        # Mesa 3 keeps its agents-by-type registry in ``_agents_by_type`` (a dict it looks
        # types up in); ours is that dict, with the developer views pending.
        registry = AgentsByType(self._create_developer_views if views else None)
        registry.update(dict.items(self._agents_by_type))
        self._agents_by_type = registry

    def _create_developer_views(self) -> None:
        """One :class:`Developer` view per developer row (called on first access)."""
        for row in range(self.developers.count):
            Developer(self, row)

    @property
    def agent_types(self) -> list[type]:
        """The agent types (``Developer`` included when its views are offered, built or not)."""
        registry = self._agents_by_type
        types = list(dict.keys(registry))
        if registry.views_pending and Developer not in types:
            types.append(Developer)
        return types

    @property
    def agents(self):
        """All agents (Mesa's registry); asking for them creates the developer views."""
        self._agents_by_type.ensure_views()
        return super().agents

    def _init_state(self) -> None:
        """The market's state before the first quarter."""
        sc = self.config
        self.releases = Releases()
        self.active: dict[tuple[str, str, str], int] = {}  # (lab, tier, line) -> release id
        self.offers = OfferCatalogue()
        self._last_prices: dict[int, float] = {}
        self.frontier = sc.technology.frontier_start
        self.gpu_price = self._gpu_price(self.q)
        self.efficiency = 1.0
        # state the next quarter's dynamics read (set by booking)
        self.best_closed = float("nan")
        self.best_open = float("nan")
        self.price_gpt4_level = float("nan")
        self.first_price_gpt4: float | None = None
        self.payoff_history = PayoffHistory()
        self._eco_q: int | None = None
        self._eco = np.zeros(len(self.labs))
        self.record: QuarterRecord | None = None
        self.book = QuarterBook.empty()
        self.offer_records: list[dict[str, Any]] = []
        self.demand_records: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ helpers

    @property
    def quarter(self) -> str:
        """Label of the quarter most recently simulated (or about to be, before step 1)."""
        return quarter_label(self.q - 1 if self.steps else self.q)

    def _gpu_price(self, q: int) -> float:
        pts = sorted((quarter_index(k), v) for k, v in self.config.technology.gpu_price.items())
        xs, ys = zip(*pts, strict=True)
        return float(np.interp(q, xs, ys))

    def serving(self) -> ServingConditions:
        """This quarter's serving technology (GPU price, fleet efficiency)."""
        return ServingConditions(self.config.technology, self.gpu_price, self.efficiency)

    def _token_factor(self) -> float:
        """Growth of expected tokens per developer since the start of the run."""
        years = (self.q - self.q0) / 4.0
        return (1.0 + self.config.developers.token_growth) ** years

    # ------------------------------------------------------------------ phases

    def _technology(self) -> None:
        tech = self.config.technology
        self.gpu_price = self._gpu_price(self.q)
        years = (self.q - REF_EFFICIENCY_QUARTER) / 4.0
        self.efficiency = (1.0 + tech.efficiency_growth) ** years
        if self.q == self.q0:
            return
        race = 0.0
        lead = self.best_closed - self.best_open
        if np.isfinite(lead):
            shortfall = max(0.0, tech.target_lead - lead)
            race = shortfall * max(
                (lab.spec.quality_response for lab in self.labs.values() if lab.spec.frontier_lab),
                default=0.0,
            )
        self.frontier += tech.frontier_growth + race

    def _releases(self) -> None:
        q = self.q
        focal = self.config.meta_payoff.lab
        for lab in self.labs.values():
            lab.training_cost_q = 0.0
            lab.update_policy(q, self.payoff_history.trailing if lab.key == focal else None)
        if q <= self.history_end:
            new = self._historical_releases(q)
        else:
            if q == self.history_end + 1 and self.releases:
                closed = [r.quality for r in self.releases.values() if not r.open_weights]
                self.frontier = max([self.frontier, *closed])
            # A rule-generated release supersedes its own line where the lab runs two (a
            # hybrid's open tiers: Gemma beside Gemini Flash) and both lines elsewhere.
            new = [
                (rel, _line(rel), (_line(rel),) if _two_lines(lab, rel.tier) else LINES)
                for lab in self.labs.values()
                for rel in lab.release(q, self.frontier)
            ]
        for rel, line, replaces in new:
            lab = self.labs[rel.lab]
            lab.record_release(rel)
            # An internal model (closed, and no API to sell it through) never reaches the
            # market: it takes no slot and displaces nothing.
            if not (rel.open_weights or lab.spec.first_party_api):
                continue
            # A lab runs an open and a closed line in each tier (Google: Gemini 1.5 Flash
            # beside Gemma 2 9B); a historical release replaces the previous one of its own
            # line, and the other line's too where the table says it superseded it.
            for old in replaces:
                self.active.pop((rel.lab, rel.tier, old), None)
            self.active[(rel.lab, rel.tier, line)] = rel.rid

    def _historical_releases(self, q: int) -> list[tuple[Release, str, tuple[str, ...]]]:
        """This quarter's rows of the historical table: (release, its line, lines replaced)."""
        new = []
        for row in history_by_quarter(self.config.history).get(q, []):
            if row.lab not in self.labs:
                continue
            lab = self.labs[row.lab]
            is_open = bool(row.open_weights) and lab.spec.open_history
            # The line is the historical product line, even when a counterfactual
            # (open_history: false) sells those weights closed: Gemma stays beside Flash.
            line = LINES[0] if row.open_weights else LINES[1]
            other = LINES[1] if row.open_weights else LINES[0]
            replaces = (line,)
            if isinstance(row.supersedes, str) and row.supersedes:
                held = self.active.get((row.lab, row.tier, other))
                if held is not None and self.releases[held].name == row.supersedes:
                    replaces = (line, other)
            rel = self.releases.new(
                lab=row.lab,
                name=row.name,
                quarter=q,
                tier=row.tier,
                quality=float(row.quality),
                total_b=float(row.total_params_b),
                active_b=float(row.active_params_b),
                open_weights=is_open,
                license=row.license if is_open else "proprietary",
                origin=lab.spec.origin,
                reasoning=bool(row.reasoning),
                vision=bool(row.vision),
                historical=True,
                coding=historical_coding(row.lab, row.name, float(row.quality)),
            )
            new.append((rel, line, replaces))
        return new

    def _options(self, candidates: set[tuple[int, int]] | None = None) -> Options:
        """Build this quarter's options; ``candidates`` adds (host, rid) offers under test.

        Serving costs are computed for all options in one vectorised call (per option, from
        the release's parameters and the server's efficiency and GPU price factor).
        """
        items = quarter_options(
            self.offers,
            [self.releases[rid] for rid in sorted(self.active.values())],
            self.config.labs,
            [(host.spec, host.serving) for host in self.hosts.values()],
            self.config.technology.utilization,
            candidates,
        )
        cost = np.zeros(0)
        if items:
            efficiency, gpu_factor, multiplier = np.array(
                [(o.server_efficiency, o.gpu_price_factor, o.cost_multiplier) for o in items]
            ).T
            releases = [o.release for o in items]
            cost = self.serving().costs(releases, efficiency, gpu_factor) * multiplier
        mau = {k: lab.spec.mau_threshold for k, lab in self.labs.items()}
        return build_options(
            items,
            mau,
            cost,
            len(self.labs),
            reasoning_token_factor=self.config.technology.reasoning_token_factor,
            closed_frontier_nest=self.config.pricing.closed_frontier_nest,
        )

    def _ecosystem(self) -> np.ndarray:
        """Ecosystem utility per lab: weight × ln(1 + 100 × share of adopters on its family).

        Computed once per quarter (choices do not change between entry test and pricing).
        """
        if self._eco_q != self.q:
            dev = self.developers
            counts, adopters = _kernels.count_by_lab(
                dev.adopted, dev.choice, dev.lab, len(self.labs)
            )
            share = counts.astype(float) / max(1, adopters)
            self._eco = self.config.developers.ecosystem_weight * np.log1p(100.0 * share)
            self._eco_q = self.q
        return self._eco

    def _groups(self, opts: Options, everyone: bool = False) -> DeveloperGroups:
        """Group the adopters (or ``everyone``: prospective demand) for this quarter."""
        return group_developers(
            self.developers,
            opts,
            len(self.labs),
            self.classes.size,
            len(self.offers),
            self._token_factor(),
            everyone=everyone,
        )

    def _demand_system(self, opts: Options, groups: DeveloperGroups) -> DemandSystem:
        """Mean utilities, availability and weights of the developer groups (G×J)."""
        return demand_system(
            opts,
            groups,
            self.classes,
            self.config.developers,
            self._ecosystem(),
            self._token_factor(),
            self.developers.scale,
        )

    def _market(self, opts: Options) -> tuple[DeveloperGroups, DemandSystem]:
        """Groups and demand system; before anyone has adopted, prospective demand."""
        groups = self._groups(opts)
        if groups.rows.size == 0:  # nobody has adopted yet: price for prospective demand
            groups = self._groups(opts, everyone=True)
        return groups, self._demand_system(opts, groups)

    def _hosts_enter_exit(self) -> None:
        """Hosts drop retired releases and test entry on recent open models (hosts module)."""
        hosts = list(self.hosts.values())
        retire(hosts, self.active.values())
        candidates = entry_candidates(
            hosts, self.releases, self.active.values(), self.q, self.config.pricing.entry_window
        )
        if not candidates:
            return
        opts = self._options(set(candidates))
        _groups, demand = self._market(opts)
        # Entry only needs expected profits to rank candidates: a looser tolerance suffices.
        eq = quarter_prices(
            opts, demand, self.config.pricing, self._last_prices, tol=1e-6, max_iter=500
        )
        enter(hosts, opts, candidates, expected_profit(opts, demand, eq))

    def _choose(
        self,
        opts: Options,
        demand: DemandSystem,
        groups: DeveloperGroups,
        eq: market.Equilibrium,
    ) -> Choices:
        """Developers choose (:func:`openweight_sim.choice.choose`)."""
        return choose(
            self.developers,
            opts,
            demand,
            groups,
            eq,
            self.config.developers,
            self.rng,
            self._token_factor(),
        )

    def _book(
        self,
        opts: Options,
        demand: DemandSystem,
        groups: DeveloperGroups,
        eq: market.Equilibrium,
        choices: Choices,
    ) -> QuarterRecord:
        """Book the quarter; labs and hosts book themselves; the state the next quarter reads."""
        sc = self.config
        record = book_quarter(
            quarter_label(self.q),
            self.developers,
            opts,
            demand,
            groups,
            eq,
            choices,
            enterprise_segment=self.enterprise_segment,
            focal_lab=self.lab_index.get(sc.meta_payoff.lab, -1),
            nest_sigma=sc.pricing.nest_sigma,
        )
        for lab in self.labs.values():
            lab.book(record)
        for host in self.hosts.values():
            host.book(record)
        self.best_closed, self.best_open = best_qualities(
            self.releases.values(),
            [self.releases[rid] for rid in self.active.values()],
            lambda lab: self.labs[lab].spec.first_party_api,
        )
        self.price_gpt4_level = gpt4_level_price(record)
        if self.first_price_gpt4 is None and np.isfinite(self.price_gpt4_level):
            self.first_price_gpt4 = self.price_gpt4_level
        return record

    def _focal_payoff(self, record: QuarterRecord) -> PayoffTerms:
        """The focal lab's payoff this quarter (:func:`openweight_sim.meta_payoff.meta_payoff`)."""
        mp = self.config.meta_payoff
        lab = self.labs[mp.lab]
        return meta_payoff(
            mp,
            (self.q - self.q0) / 4.0,
            lab.catalogue,
            lab.training_cost_q,
            lab.spec.serving_efficiency,
            self.serving().cost,
            record.options,
            record.prices,
            record.focal_developers,
            self.developers.scale,
        )

    def _market_state(self) -> MarketState:
        """The labs and the market's state, as the quarter's report reads them."""
        sc = self.config
        flagship = sc.reporting.flagship_lab
        dev = self.developers
        return MarketState(
            lab_index=self.lab_index,
            origins=[lab.spec.origin for lab in self.labs.values()],
            flagship_lab=self.lab_index[flagship] if flagship is not None else -1,
            focal_lab=self.lab_index.get(sc.meta_payoff.lab, -1),
            focal_policy=self.labs[sc.meta_payoff.lab].policy,
            enterprise_labs={k: self.lab_index[k] for k in sc.reporting.enterprise_share_labs},
            has_enterprise=self.enterprise_segment >= 0,
            frontier=self.frontier,
            best_closed=self.best_closed,
            best_open=self.best_open,
            price_gpt4_level=self.price_gpt4_level,
            adopters=float(dev.firm_adopted.sum() * dev.scale),
            adoption=dev.adoption_fraction(),
            gpu_price=self.gpu_price,
        )

    def _grow_demand(self) -> None:
        sc = self.config.developers
        dev = self.developers
        f = dev.adoption_fraction()
        p = sc.bass_p
        if sc.adoption_price_effect > 0 and np.isfinite(self.price_gpt4_level):
            ref = self.first_price_gpt4 or self.price_gpt4_level
            p = p * (self.price_gpt4_level / ref) ** (-sc.adoption_price_effect)
        target = float(market.bass_step(f, p, sc.bass_q, 0.25))
        dev.adopt(target, self.rng)

    # ------------------------------------------------------------------ step

    def step(self) -> None:
        """Simulate one quarter (the phases in the module docstring)."""
        if self.q > self.q_end:
            self.running = False
            return
        self._technology()
        self._releases()
        self._hosts_enter_exit()
        opts = self._options()
        groups, demand = self._market(opts)
        eq = quarter_prices(opts, demand, self.config.pricing, self._last_prices)
        self._last_prices = {int(k): float(p) for k, p in zip(opts.key, eq.prices, strict=True)}
        choices = self._choose(opts, demand, groups, eq)
        self.record = record = self._book(opts, demand, groups, eq, choices)
        for host in self.hosts.values():
            host.review(host.profit_by_release)
        payoff = self._focal_payoff(record)
        self.payoff_history.add(payoff.net)
        self.book = QuarterBook.from_record(record, self._market_state(), payoff)
        self.offer_records.extend(
            offer_rows(record, list(self.labs), list(self.hosts), self.releases)
        )
        dev = self.developers
        self.demand_records.extend(
            demand_rows(
                record, self.classes, dev.segment_names, dev.workload_names, list(self.labs)
            )
        )
        self.datacollector.collect(self)
        self._grow_demand()
        self.q += 1
        if self.q > self.q_end:
            self.running = False

    def run_model(self, max_steps: int | None = None) -> OpenWeightMarket:
        """Run to the scenario's horizon (or ``max_steps`` more quarters); returns self."""
        n = 0
        while self.running and (max_steps is None or n < max_steps):
            self.step()
            n += 1
        return self

    # ------------------------------------------------------------------ outputs

    def quarters_frame(self):
        """Per-quarter model reporters as a tidy DataFrame indexed 0..T−1."""
        return self.datacollector.get_model_vars_dataframe().reset_index(drop=True)

    def offers_frame(self):
        """Per-option, per-quarter table (price, cost, tokens, revenue)."""
        import pandas as pd

        return pd.DataFrame(self.offer_records)

    def demand_frame(self):
        """Who buys what: tokens and spend per quarter by segment, workload, taste and server.

        One row per (quarter, segment, workload, taste type, lab, tier, option kind, open
        weights); see :func:`openweight_sim.booking.demand_rows`.
        """
        import pandas as pd

        return pd.DataFrame(self.demand_records)

    def labs_frame(self):
        """Per-lab, per-quarter table."""
        df = self.datacollector.get_agenttype_vars_dataframe(Lab)
        return df.reset_index().drop(columns=["AgentID"], errors="ignore")

    def hosts_frame(self):
        """Per-host, per-quarter table."""
        df = self.datacollector.get_agenttype_vars_dataframe(HostingProvider)
        return df.reset_index().drop(columns=["AgentID"], errors="ignore")

    def releases_frame(self):
        """All releases so far as a table."""
        import pandas as pd

        rows = [
            {
                "quarter": quarter_label(r.quarter),
                "lab": r.lab,
                "name": r.name,
                "tier": r.tier,
                "quality": r.quality,
                "coding": r.coding,
                "total_params_b": r.total_b,
                "active_params_b": r.active_b,
                "moe_leverage": r.leverage,
                "open_weights": r.open_weights,
                "license": r.license,
                "origin": r.origin,
                "historical": r.historical,
            }
            for r in self.releases.values()
        ]
        return pd.DataFrame(rows)

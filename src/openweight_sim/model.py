"""OpenWeightMarket: the Mesa model that runs one quarter of the AI model market per step.

Phases of a quarter (docs/ODD.md, "Process overview"):

1. technology — GPU price, serving efficiency and the closed frontier advance;
2. releases — historical table up to ``history_until``, lab rules afterwards;
3. serving cost — per option, from GPU price, throughput and *active* parameters;
4. hosts enter and exit — entry when expected profit beats onboarding cost;
5. prices — Bertrand–Nash (zeta-markup fixed point) or adaptive;
6. developers choose — a share re-optimises; nested logit; draws in one compiled pass;
7. demand grows — Bass adoption; tokens per developer grow and respond to price;
8. accounting — revenue, cost, margins, Meta's payoff, consumer surplus; data collection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mesa
import numpy as np
from mesa.experimental.scenarios import Scenario as MesaScenario

from openweight_sim import _kernels, market
from openweight_sim.agents import (
    NO_CHOICE,
    OUTSIDE,
    Developer,
    DeveloperPopulation,
    HostingProvider,
    Lab,
)
from openweight_sim.metrics import QuarterBook, host_reporters, lab_reporters, model_reporters
from openweight_sim.options import (
    CLOSED_API,
    HOSTED,
    OPEN_API,
    SELF_HOST,
    Options,
    SegmentArrays,
    assign_firms,
    availability,
    build_options,
    segment_utility,
    self_host_price,
    switching_cost,
)
from openweight_sim.releases import Release, history_by_quarter
from openweight_sim.scenario import (
    Scenario,
    load_scenario,
    quarter_index,
    quarter_label,
)

REF_EFFICIENCY_QUARTER = quarter_index("2024Q2")
"""Quarter at which ``technology.ref_throughput`` was measured (F35, 2024)."""
LINES = ("open", "closed")
"""A lab's two product lines per tier: open weights and closed (API-only) models."""


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
        developer_agents: create a thin :class:`Developer` Mesa agent per developer row
            (``None``: only up to 50,000 developers, to keep a million-developer run lean).
        **overrides: dotted scenario paths, e.g. ``**{"developers.count": 5000}``, so that
            ``mesa.batch_run`` can sweep them.

    Attributes:
        config: the resolved scenario (a :class:`Scenario`; Mesa reserves ``scenario``).
        developers: the developer population's arrays.
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
        sc = self.config
        self.q0 = quarter_index(sc.start)
        self.q_end = quarter_index(sc.end)
        self.q = self.q0
        self.history_end = quarter_index(sc.history_until) if sc.history else self.q0 - 1
        if sc.history:
            history_by_quarter(sc.history)  # read the historical table in set-up (cached)

        self.labs: dict[str, Lab] = {k: Lab(self, k, spec) for k, spec in sc.labs.items()}
        self.lab_index = {k: i for i, k in enumerate(self.labs)}
        self.hosts: dict[str, HostingProvider] = {
            k: HostingProvider(self, k, spec) for k, spec in sc.hosts.items()
        }
        self.host_index = {k: i for i, k in enumerate(self.hosts)}
        self.segments = SegmentArrays.from_scenario(sc)
        self.developers = DeveloperPopulation(sc, self.rng)
        make_views = sc.developers.count <= 50_000 if developer_agents is None else developer_agents
        if make_views:
            for row in range(self.developers.count):
                Developer(self, row)

        self.releases: dict[int, Release] = {}
        self.active: dict[tuple[str, str, str], int] = {}  # (lab, tier, line) -> release id
        self._offer_keys: dict[tuple[int, int, int], int] = {}
        self._offer_names: list[str] = []
        self._last_prices: dict[int, float] = {}
        self.frontier = sc.technology.frontier_start
        self.gpu_price = self._gpu_price(self.q)
        self.efficiency = 1.0
        self._meta_trailing: deque[float] = deque(maxlen=4)
        self._eco_q: int | None = None
        self._eco = np.zeros(len(self.labs))
        self.book = QuarterBook.empty()
        self.offer_records: list[dict[str, Any]] = []
        self.cumulative = {"meta_net_payoff": 0.0}

        self.datacollector = mesa.DataCollector(
            model_reporters=model_reporters(list(sc.labs)),
            agenttype_reporters={Lab: lab_reporters(), HostingProvider: host_reporters()},
        )

    # ------------------------------------------------------------------ helpers

    def label(self, q: int) -> str:
        """Quarter label such as 2025Q1."""
        return quarter_label(q)

    @property
    def quarter(self) -> str:
        """Label of the quarter most recently simulated (or about to be, before step 1)."""
        return quarter_label(self.q - 1 if self.steps else self.q)

    def new_release(self, **fields: Any) -> Release:
        """Create a release record with a fresh id."""
        rel = Release(rid=len(self.releases), **fields)
        self.releases[rel.rid] = rel
        return rel

    def offer_key(self, kind: int, rid: int, host: int) -> int:
        """Stable id of an option (kind, release, host) across quarters."""
        k = (kind, rid, host)
        if k not in self._offer_keys:
            self._offer_keys[k] = len(self._offer_keys)
            rel = self.releases[rid]
            via = {
                CLOSED_API: "API",
                OPEN_API: "API",
                HOSTED: list(self.hosts.values())[host].name if host >= 0 else "",
                SELF_HOST: "self-hosted",
            }[kind]
            self._offer_names.append(f"{rel.name} ({via})")
        return self._offer_keys[k]

    def offer_name(self, key: int) -> str | None:
        """Name of an option by stable key (None for no choice, "outside" for no LLM)."""
        if key == NO_CHOICE:
            return None
        if key == OUTSIDE:
            return "outside"
        return self._offer_names[key]

    def _gpu_price(self, q: int) -> float:
        pts = sorted((quarter_index(k), v) for k, v in self.config.technology.gpu_price.items())
        xs, ys = zip(*pts, strict=True)
        return float(np.interp(q, xs, ys))

    # ------------------------------------------------------------------ phases

    def _technology(self) -> None:
        tech = self.config.technology
        self.gpu_price = self._gpu_price(self.q)
        years = (self.q - REF_EFFICIENCY_QUARTER) / 4.0
        self.efficiency = (1.0 + tech.efficiency_growth) ** years
        if self.q == self.q0:
            return
        race = 0.0
        lead = self.book.best_closed - self.book.best_open
        if np.isfinite(lead):
            shortfall = max(0.0, tech.target_lead - lead)
            race = shortfall * max(
                (lab.spec.quality_response for lab in self.labs.values() if lab.spec.frontier_lab),
                default=0.0,
            )
        self.frontier += tech.frontier_growth + race

    def _releases(self) -> None:
        q = self.q
        for lab in self.labs.values():
            lab.training_cost_q = 0.0
            lab.update_policy(q, sum(self._meta_trailing) if self._is_meta(lab) else None)
        # (release, its line, the lines whose active releases it replaces)
        new: list[tuple[Release, str, tuple[str, ...]]] = []
        if q <= self.history_end:
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
                rel = self.new_release(
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
                )
                new.append((rel, line, replaces))
        else:
            if q == self.history_end + 1 and self.releases:
                closed = [r.quality for r in self.releases.values() if not r.open_weights]
                self.frontier = max([self.frontier, *closed])
            # A rule-generated generation has one model per tier and supersedes both lines.
            for lab in self.labs.values():
                new.extend((rel, _line(rel), LINES) for rel in lab.release(q, self.frontier))
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

    def _is_meta(self, lab: Lab) -> bool:
        return lab.key == self.config.meta_payoff.lab

    def _serving_cost(self, rel: Release, efficiency: float, gpu_factor: float = 1.0) -> float:
        """Serving cost of one release (USD per M tokens) for a server of this efficiency."""
        return float(self._serving_costs([rel], np.array([efficiency]), np.array([gpu_factor]))[0])

    def _serving_costs(
        self, rels: list[Release], efficiency: np.ndarray, gpu_factor: np.ndarray
    ) -> np.ndarray:
        """Serving costs of many (release, server) pairs in one vectorised call."""
        tech = self.config.technology
        return np.asarray(
            market.serving_cost(
                self.gpu_price * gpu_factor,
                np.array([r.active_b for r in rels]) * 1e9,
                np.array([r.total_b for r in rels]) * 1e9,
                efficiency=efficiency * self.efficiency,
                utilization=tech.utilization,
                ref_throughput=tech.ref_throughput,
                moe_penalty=tech.moe_penalty,
            ),
            dtype=float,
        )

    def _options(self, candidates: set[tuple[int, int]] | None = None) -> Options:
        """Build this quarter's options; ``candidates`` adds (host, rid) offers under test.

        Serving costs are computed for all options in one vectorised call (per option, from the
        release's parameters and the server's efficiency and GPU price factor).
        """
        rows = []
        # per option: efficiency, GPU price factor, and a multiplier of the cost
        cost_inputs: list[tuple[float, float, float]] = []
        hosts = list(self.hosts.values())
        utilization = self.config.technology.utilization
        for rid in sorted(self.active.values()):
            rel = self.releases[rid]
            lab = self.labs[rel.lab]
            li = self.lab_index[rel.lab]
            if lab.spec.first_party_api:
                kind = OPEN_API if rel.open_weights else CLOSED_API
                cost_inputs.append((lab.spec.serving_efficiency, 1.0, 1.0))
                rows.append(
                    (
                        self.offer_key(kind, rid, -1),
                        kind,
                        rel,
                        li,
                        -1,
                        0.0,
                        lab.spec.brand,
                        rel.name + " (API)",
                    )
                )
            if not rel.open_weights:
                continue
            for hi, host in enumerate(hosts):
                serving = rid in host.serving or (candidates and (hi, rid) in candidates)
                if serving:
                    cost_inputs.append((host.spec.efficiency, host.spec.gpu_price_factor, 1.0))
                    brand = lab.spec.brand + host.spec.brand - lab.spec.license_friction
                    rows.append(
                        (
                            self.offer_key(HOSTED, rid, hi),
                            HOSTED,
                            rel,
                            li,
                            hi,
                            0.0,
                            brand,
                            f"{rel.name} ({host.name})",
                        )
                    )
            # Self-hosting: GPU cost at full utilisation; segments divide by their own.
            cost_inputs.append((1.0, 1.0, utilization))
            rows.append(
                (
                    self.offer_key(SELF_HOST, rid, -1),
                    SELF_HOST,
                    rel,
                    li,
                    -1,
                    0.0,
                    lab.spec.brand - lab.spec.license_friction,
                    f"{rel.name} (self-hosted)",
                )
            )
        opts = build_options(rows, {k: lab.spec.mau_threshold for k, lab in self.labs.items()})
        if rows:
            efficiency, gpu_factor, multiplier = np.array(cost_inputs).T
            opts.cost = (
                self._serving_costs([r[2] for r in rows], efficiency, gpu_factor) * multiplier
            )
        assign_firms(opts, len(self.labs))
        return opts

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

    def _groups(self, opts: Options, everyone: bool = False) -> dict[str, np.ndarray]:
        """Group developers by (segment, current option, current lab, fine-tuned).

        Groups of identical developers share utilities, so pricing and choice
        probabilities are computed per group (G of them, a few hundred), not per developer.
        The group code space is small, so grouping is a counting pass, O(N), compiled
        (:func:`openweight_sim._kernels.group_developers`).

        Args:
            opts: this quarter's options.
            everyone: group the whole population (prospective demand, used for pricing
                before anyone has adopted) instead of the adopters.

        Returns:
            rows (developer indices), inverse (group of each row), cur_col (each row's
            current option column, −1 if none), and per group: seg, cur, lab, ft, tokens.
        """
        dev = self.developers
        idx = np.arange(dev.count) if everyone else np.flatnonzero(dev.adopted)
        J = opts.size
        L = len(self.labs)
        col_of_key = np.full(len(self._offer_keys) + 2, -1, dtype=np.int64)
        col_of_key[opts.key] = np.arange(J)
        # one compiled counting pass; NO_CHOICE/OUTSIDE (−1/−2) hit the trailing −1 slots
        cur_col, inverse, uniq, tokens = _kernels.group_developers(
            idx,
            dev.choice,
            col_of_key,
            dev.segment,
            dev.lab,
            dev.finetuned,
            J,
            L,
            self.segments.alpha.size * (J + 1) * (L + 1) * 2,
            dev.base_tokens,
            self._token_factor(),
        )
        g_ft = (uniq % 2).astype(bool)
        rest = uniq // 2
        g_lab = rest % (L + 1) - 1
        rest //= L + 1
        g_cur = rest % (J + 1) - 1
        g_seg = rest // (J + 1)
        return {
            "rows": idx,
            "inverse": inverse,
            "cur_col": cur_col,
            "seg": g_seg,
            "cur": g_cur,
            "lab": g_lab,
            "ft": g_ft,
            "tokens": tokens,
        }

    def _token_factor(self) -> float:
        """Growth of expected tokens per developer since the start of the run."""
        years = (self.q - self.q0) / 4.0
        return (1.0 + self.config.developers.token_growth) ** years

    def _demand_system(self, opts: Options, groups: dict[str, np.ndarray]) -> dict[str, Any]:
        """Mean utilities, availability and weights of the developer groups (G×J)."""
        dev_sc = self.config.developers
        seg = self.segments
        median = np.array([s.tokens_m for s in dev_sc.segments.values()]) * (
            1.0 + dev_sc.token_growth
        ) ** ((self.q - self.q0) / 4.0)
        self_price = self_host_price(opts, seg, opts.cost, median)
        u_seg = segment_utility(opts, seg, self._ecosystem(), self_price, dev_sc.self_host_overhead)
        avail_seg = availability(opts, seg)
        switch = switching_cost(
            opts,
            groups["cur"],
            groups["lab"],
            groups["ft"],
            dev_sc.switching_cost,
            dev_sc.host_switching_cost,
            dev_sc.finetune_lock_in,
        )
        g = groups["seg"]
        return {
            "delta": u_seg[g] - switch,
            "available": avail_seg[g],
            "alpha": seg.alpha[g],
            "weight": groups["tokens"] * self.developers.scale,
            "self_price": self_price,
        }

    def _solve(
        self, opts: Options, demand: dict[str, Any], tol: float = 1e-10, max_iter: int = 2_000
    ) -> market.Equilibrium:
        """Bertrand–Nash (or adaptive) prices of this quarter's options.

        Args:
            opts: the options.
            demand: utilities, availability and weights from :meth:`_demand_system`.
            tol: stopping tolerance of the zeta-markup fixed point.
            max_iter: iteration budget; a market without a pure-strategy equilibrium stops
                here and is flagged (``pricing_converged``).
        """
        pr = self.config.pricing
        cost = np.where(opts.fixed, 1.0, opts.cost)  # self-host price is folded into utility
        ownership = None
        if pr.closed_conduct > 0:
            closed = opts.kind == CLOSED_API
            ownership = (opts.firm[:, None] == opts.firm[None, :]).astype(float)
            rivals = closed[:, None] & closed[None, :] & (ownership == 0)
            ownership[rivals] = pr.closed_conduct
        # Warm start from last quarter's prices (new options start at cost): the fixed point
        # is the same, it is just reached in fewer iterations.
        initial = np.array(
            [self._last_prices.get(int(k), c) for k, c in zip(opts.key, cost, strict=True)]
        )
        initial = np.clip(initial, cost, pr.price_cap)
        eq = market.solve_equilibrium(
            demand["delta"],
            cost,
            demand["alpha"],
            weight=demand["weight"],
            firm=opts.firm,
            nest=opts.rid,
            sigma=pr.nest_sigma,
            log_price=True,
            available=demand["available"],
            fixed=opts.fixed,
            ownership=ownership,
            tol=tol,
            max_iter=max_iter,
            price_cap=pr.price_cap,
            initial_prices=initial,
        )
        if pr.method == "adaptive":
            target = eq.prices
            prices = np.where(
                np.isin(opts.key, list(self._last_prices)),
                initial + pr.adjustment * (target - initial),
                target,
            )
            prices = np.where(opts.fixed, cost, prices)
            shares = market.logit_shares(
                demand["delta"],
                prices,
                demand["alpha"],
                nest=opts.rid,
                sigma=pr.nest_sigma,
                log_price=True,
                available=demand["available"] & ~eq.withdrawn,
            )
            eq = market.Equilibrium(
                prices=prices,
                shares=shares,
                markups=prices - cost,
                converged=True,
                iterations=eq.iterations,
                price_at_cap=~opts.fixed & ~eq.withdrawn & (prices >= pr.price_cap),
                below_cost=~opts.fixed & (prices < cost) & (shares.sum(axis=0) > 0),
                withdrawn=eq.withdrawn,
                no_best_response=eq.no_best_response,
            )
        return eq

    def _hosts_enter_exit(self) -> None:
        hosts = list(self.hosts.values())
        candidates = []
        # Hosts consider newly released open models (docs/ODD.md 7.10): those released this
        # quarter or within the entry window before it.
        window = self.config.pricing.entry_window
        recent = [
            rid
            for rid in sorted(set(self.active.values()))
            if self.q - self.releases[rid].quarter < window
        ]
        for hi, host in enumerate(hosts):
            for rid in recent:
                if rid not in host.serving and host.may_serve(self.releases[rid]):
                    candidates.append((hi, rid))
        if not candidates:
            return
        opts = self._options(set(candidates))
        groups = self._groups(opts)
        if groups["rows"].size == 0:
            groups = self._groups(opts, everyone=True)
        demand = self._demand_system(opts, groups)
        # Entry only needs expected profits to rank candidates: a looser tolerance suffices.
        eq = self._solve(opts, demand, tol=1e-6, max_iter=500)
        volume = (demand["weight"][:, None] * eq.shares).sum(axis=0)
        profit = (eq.prices - np.where(opts.fixed, 1.0, opts.cost)) * volume
        cand = set(candidates)
        # Most profitable candidates first, so a host's capacity goes to its best models.
        order = np.argsort(-profit, kind="stable")
        for j in order:
            if opts.kind[j] == HOSTED and (int(opts.host[j]), int(opts.rid[j])) in cand:
                hosts[int(opts.host[j])].decide_entry(int(opts.rid[j]), float(profit[j]))

    def _retire(self) -> None:
        """Drop hosts' offers of releases that are no longer active."""
        active = set(self.active.values())
        for host in self.hosts.values():
            for rid in list(host.serving):
                if rid not in active:
                    host.serving.discard(rid)
                    host.losses.pop(rid, None)

    def _choose(
        self,
        opts: Options,
        demand: dict[str, Any],
        groups: dict[str, np.ndarray],
        eq: market.Equilibrium,
    ) -> None:
        """Developers re-optimise, draw their options, fine-tune, and pay for their tokens.

        Per developer the work is a few scalar steps, done in the compiled loops of
        :mod:`openweight_sim._kernels` with the same uniform draws, in the same order, as
        the array version (``market.sample_choices`` for the categorical draw).
        """
        dev = self.developers
        sc = self.config.developers
        rows, inverse = groups["rows"], groups["inverse"]
        J = opts.size
        draw = self.rng.random(rows.size)
        u = self.rng.random(rows.size)
        prob = np.concatenate([eq.shares, 1.0 - eq.shares.sum(axis=1, keepdims=True)], axis=1)
        cum = market.offset_cumulative(prob)  # the draws of market.sample_choices
        choosers = groups.get("choosers")
        col = np.empty(rows.size, dtype=np.int64)
        cur_col = groups["cur_col"]
        if eq.withdrawn.any():  # a seller refused to serve: its customers must choose again
            cur_col = np.where((cur_col >= 0) & eq.withdrawn[cur_col], -1, cur_col)
        _kernels.choose_options(
            rows,
            inverse,
            cur_col,
            draw,
            u,
            float(sc.reoptimize_rate),
            np.ones(rows.size, dtype=bool) if choosers is None else choosers,
            cum,
            J + 1,
            opts.lab,
            opts.key,
            NO_CHOICE,
            OUTSIDE,
            dev.choice,
            dev.lab,
            dev.finetuned,
            col,
        )
        # Fine-tuning: some developers on a model tune it, which locks them in.
        tune = self.rng.random(int(np.count_nonzero(col >= 0)))
        # Price paid and this quarter's tokens (small price elasticity, F45), looked up in a
        # segment × option table; column J (no option) holds NaN price and zero tokens.
        S = self.segments.alpha.size
        table = np.full((S, J + 1), np.nan)
        table[:, :J] = np.where(opts.fixed[None, :], demand["self_price"], eq.prices[None, :])
        response = np.zeros((S, J + 1))
        response[:, :J] = np.power(table[:, :J], sc.token_price_elasticity)
        # prospective-demand rows (not adopted) buy nothing: settle_quarter sets their col -1
        _kernels.settle_quarter(
            rows,
            col,
            tune,
            float(sc.finetune_rate),
            dev.adopted,
            dev.segment,
            table,
            response,
            dev.base_tokens,
            self._token_factor(),
            dev.finetuned,
            dev.price_paid,
            dev.tokens,
        )
        self._last_choice_cols = (rows, col)

    def _grow_demand(self) -> None:
        sc = self.config.developers
        dev = self.developers
        f = dev.adoption_fraction()
        p = sc.bass_p
        if sc.adoption_price_effect > 0 and np.isfinite(self.book.price_gpt4_level):
            ref = self.book.first_price_gpt4 or self.book.price_gpt4_level
            p = p * (self.book.price_gpt4_level / ref) ** (-sc.adoption_price_effect)
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
        self._retire()
        self._hosts_enter_exit()
        opts = self._options()
        groups = self._groups(opts)
        if groups["rows"].size == 0:  # nobody has adopted yet: price for prospective demand
            groups = self._groups(opts, everyone=True)
            groups["choosers"] = np.zeros(groups["rows"].size, dtype=bool)
        demand = self._demand_system(opts, groups)
        eq = self._solve(opts, demand)
        self._last_prices = {int(k): float(p) for k, p in zip(opts.key, eq.prices, strict=True)}
        self._choose(opts, demand, groups, eq)
        self.book = QuarterBook.account(self, opts, demand, groups, eq)
        self.book.pricing_converged = bool(eq.converged)
        self.book.pricing_iterations = int(eq.iterations)
        for flag, value in market.quarter_flags(eq).items():  # impossible-market flags
            setattr(self.book, flag, value)
        for host in self.hosts.values():
            host.review(self.book.host_profit_by_release.get(host.key, {}))
        self._meta_trailing.append(self.book.meta_net_payoff)
        self.cumulative["meta_net_payoff"] += self.book.meta_net_payoff
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


def run(
    scenario: str | Path | Scenario = "baseline",
    rng: Any = None,
    overrides: Mapping[str, Any] | None = None,
) -> OpenWeightMarket:
    """Build and run a model to its horizon."""
    return OpenWeightMarket(scenario, rng=rng, **dict(overrides or {})).run_model()

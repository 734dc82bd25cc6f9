"""The developer choice rule written the naive way: one Mesa agent per developer.

This is the comparison point for the vectorised model (issue 6). Every
:class:`NaiveDeveloper` does, for itself alone, the per-developer work that
``OpenWeightMarket._choose`` does in bulk for groups of identical developers:

1. decide whether to re-optimise this quarter (forced if it has no option);
2. build its own utility row: the segment's utility of every option net of price,
   minus its own switching costs (same lab's family, another lab, fine-tune lock-in);
3. nested-logit probabilities over the options (nests = releases) and the outside option;
4. one categorical draw, then the state update (option, lab, fine-tune lock);
5. the fine-tuning draw, the price it pays and its tokens this quarter.

The inputs are taken from a real quarter of the vectorised model (:func:`capture_quarter`):
the same options, segment utilities, availability and equilibrium prices, and the
developers' state just before that quarter's choice. Each naive quarter reuses those
inputs (prices are not re-solved: the naive loop times the choice rule only). The
per-segment part (utility net of price, S × J, a few hundred numbers) is computed once per
quarter, as the vectorised code does per group; everything per developer is done per
agent. Scalar draws use the Mesa model's ``random`` (Python's ``random.Random``).

:func:`vectorised_choice_quarters` runs the vectorised rule (``_groups``,
``_demand_system``, logit shares at the captured prices, ``_choose``) on exactly the same
inputs, for a like-for-like kernel comparison.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np

from openweight_sim import market
from openweight_sim.agents import NO_CHOICE, OUTSIDE
from openweight_sim.model import OpenWeightMarket
from openweight_sim.demand_classes import availability, class_utility
from openweight_sim.options import Options
from openweight_sim.scenario import quarter_label


class _Captured(Exception):
    """Raised by the spy on ``_choose`` to stop the model right before the choice."""


@dataclass
class QuarterInputs:
    """One quarter of the vectorised model, frozen just before developers choose.

    Attributes:
        label: the quarter, e.g. ``2025Q2``.
        opts: the quarter's options (J of them).
        u_seg: mean utility per segment and option before price (S × J).
        available: which options each segment may use (S × J).
        alpha: price sensitivity per segment (S,).
        prices: equilibrium prices (J,); 1.0 for self-hosting (its cost is in ``u_seg``).
        price_table: price each segment pays per option (S × J): the firm's price, or the
            segment's own self-hosting cost.
        response: token response to price, ``price ** elasticity`` (S × J).
        token_factor: growth factor of expected tokens this quarter.
        sigma: nesting parameter.
        state: developer arrays (segment, adopted, choice, lab, finetuned, base_tokens)
            just before the choice.
        col_of_key: option column of each stable option key (−1 if not offered).
        shares: the vectorised model's choice probabilities per group (G × J).
        group_rows: developer rows grouped (adopters) and their group index.
        params: reoptimize / fine-tune rates and switching costs.
    """

    label: str
    opts: Options
    u_seg: np.ndarray
    available: np.ndarray
    alpha: np.ndarray
    prices: np.ndarray
    price_table: np.ndarray
    response: np.ndarray
    token_factor: float
    sigma: float
    state: dict[str, np.ndarray]
    col_of_key: np.ndarray
    shares: np.ndarray
    group_rows: tuple[np.ndarray, np.ndarray]
    params: dict[str, float]


def capture_quarter(
    n_developers: int, quarter: int = 10, seed: int = 1
) -> tuple[QuarterInputs, OpenWeightMarket]:
    """Run the baseline to ``quarter`` (1-based step) and freeze it before the choice.

    Args:
        n_developers: ``developers.count``.
        quarter: the step whose inputs are captured (10 = 2025Q2, mid-run: adoption there
            is close to its average over the 20-quarter baseline).
        seed: model seed.

    Returns:
        The quarter's inputs, and the model stopped right before ``_choose`` of that
        quarter (its developer arrays are the captured state).
    """
    model = OpenWeightMarket(
        "baseline", rng=seed, developer_agents=False, **{"developers.count": n_developers}
    )
    model.run_model(max_steps=quarter - 1)
    box: dict[str, Any] = {}

    def spy(opts, demand, groups, eq):
        box.update(opts=opts, demand=demand, groups=groups, eq=eq)
        raise _Captured

    model._choose = spy  # instance attribute: only this model object is affected
    with contextlib.suppress(_Captured):
        model.step()
    del model._choose
    opts, demand, groups, eq = box["opts"], box["demand"], box["groups"], box["eq"]
    sc = model.config.developers
    seg = model.classes  # demand classes (segment × workload × taste × volume band)
    self_price = demand.self_price
    u_seg = class_utility(opts, seg, model._ecosystem(), self_price, sc.self_host_overhead)
    J = opts.size
    price_table = np.where(opts.self_hosted[None, :], self_price, eq.prices[None, :])
    col_of_key = np.full(len(model.offers) + 2, -1, dtype=np.int64)
    col_of_key[opts.key] = np.arange(J)
    dev = model.developers
    state = {
        "segment": dev.klass.copy(),  # the demand class indexes the per-class tables
        "adopted": dev.adopted.copy(),
        "choice": dev.choice.copy(),
        "lab": dev.lab.copy(),
        "finetuned": dev.finetuned.copy(),
        "base_tokens": dev.base_tokens.copy(),
    }
    inputs = QuarterInputs(
        label=quarter_label(model.q),
        opts=opts,
        u_seg=u_seg,
        available=availability(opts, seg),
        alpha=seg.alpha.copy(),
        prices=eq.prices.copy(),
        price_table=price_table,
        response=np.power(price_table, sc.token_price_elasticity),
        token_factor=(1.0 + sc.token_growth) ** ((model.q - model.q0) / 4.0),
        sigma=model.config.pricing.nest_sigma,
        state=state,
        col_of_key=col_of_key,
        shares=eq.shares.copy(),
        group_rows=(groups.rows.copy(), groups.inverse.copy()),
        params={
            "reoptimize_rate": sc.reoptimize_rate,
            "finetune_rate": sc.finetune_rate,
            "switching": sc.switching_cost,
            "host_switching": sc.host_switching_cost,
            "lock_in": sc.finetune_lock_in,
        },
    )
    return inputs, model


class NaiveDeveloper(mesa.Agent):
    """One developer that computes its own choice with per-agent numpy.

    Attributes:
        segment: segment index.
        adopted: uses LLMs (adoption is not part of the choice rule: fixed here).
        choice: stable key of the current option, or NO_CHOICE / OUTSIDE.
        col: column of the current option in this quarter's options (−1 if none).
        lab: lab of the current (or last) family, −1 if none.
        finetuned: has fine-tuned on its current family.
        base_tokens: tokens per quarter at 2023Q1 demand, millions.
        tokens: this quarter's tokens, millions.
        price_paid: price of its current option, USD per M tokens.
    """

    def __init__(self, model: NaiveMarket, row: int):
        super().__init__(model)
        st = model.inputs.state
        self.segment = int(st["segment"][row])
        self.adopted = bool(st["adopted"][row])
        self.choice = int(st["choice"][row])
        self.col = int(model.inputs.col_of_key[self.choice]) if self.choice >= 0 else -1
        self.lab = int(st["lab"][row])
        self.finetuned = bool(st["finetuned"][row])
        self.base_tokens = float(st["base_tokens"][row])
        self.tokens = 0.0
        self.price_paid = math.nan

    def probabilities(self) -> np.ndarray:
        """Nested-logit probabilities of every option and, last, the outside option."""
        m = self.model
        v = m.net_utility[self.segment]
        if self.lab >= 0:  # switching costs: free to stay, cheap within the family
            p = m.params
            other = p["switching"] + (p["lock_in"] if self.finetuned else 0.0)
            cost = np.where(m.option_lab == self.lab, p["host_switching"], other)
            if self.col >= 0:
                cost[self.col] = 0.0
            v = v - cost
        w = v * m.inv_one_minus_sigma  # -inf where the segment may not use the option
        nest_max = np.maximum.reduceat(w, m.nest_starts)
        nest_max[nest_max == -np.inf] = 0.0  # nests with nothing available
        e = np.exp(w - nest_max[m.nest_of])
        nest_sum = np.add.reduceat(e, m.nest_starts)
        has = nest_sum > 0
        inclusive = np.full(nest_sum.size, -np.inf)
        inclusive[has] = (1.0 - m.sigma) * (nest_max[has] + np.log(nest_sum[has]))
        top = max(float(inclusive.max()), 0.0)  # outside option has utility 0
        en = np.exp(inclusive - top)
        denom = math.exp(-top) + float(en.sum())
        nest_sum[~has] = 1.0
        prob = np.empty(v.size + 1)
        prob[:-1] = e / nest_sum[m.nest_of] * (en / denom)[m.nest_of]
        prob[-1] = 1.0 - prob[:-1].sum()
        return prob

    def step(self) -> None:
        """One quarter of the choice rule for this developer."""
        m = self.model
        if not self.adopted:
            self.tokens = 0.0
            self.price_paid = math.nan
            return
        rng = m.random
        forced = self.choice == NO_CHOICE or (self.choice >= 0 and self.col < 0)
        if forced or rng.random() < m.params["reoptimize_rate"]:
            cum = np.cumsum(self.probabilities()[:-1])
            pick = int(np.searchsorted(cum, rng.random(), side="right"))
            if pick < m.n_options:
                new_lab = int(m.option_lab[pick])
                if new_lab != self.lab:
                    self.finetuned = False  # a new family loses the tune
                self.lab = new_lab
                self.col = pick
                self.choice = int(m.option_key[pick])
            else:
                self.col = -1
                self.choice = OUTSIDE
        if self.col >= 0:
            if rng.random() < m.params["finetune_rate"]:
                self.finetuned = True
            self.price_paid = float(m.price_table[self.segment, self.col])
            resp = float(m.response[self.segment, self.col])
            self.tokens = self.base_tokens * m.token_factor * resp
        else:
            self.price_paid = math.nan
            self.tokens = 0.0


class NaiveMarket(mesa.Model):
    """A Mesa model of N naive developers facing one captured quarter's options.

    Args:
        inputs: the captured quarter (:func:`capture_quarter`).
        rng: seed of Mesa's ``random`` and ``rng``.
    """

    def __init__(self, inputs: QuarterInputs, rng: Any = 0):
        super().__init__(rng=rng)
        self.inputs = inputs
        opts = inputs.opts
        self.n_options = opts.size
        self.option_lab = opts.lab
        self.option_key = opts.key
        self.price_table = inputs.price_table
        self.response = inputs.response
        self.token_factor = inputs.token_factor
        self.sigma = inputs.sigma
        self.inv_one_minus_sigma = 1.0 / (1.0 - inputs.sigma)
        self.params = inputs.params
        # Options of a release are contiguous (built release by release): nests by run.
        rid = opts.rid
        if np.any(rid[1:] < rid[:-1]):
            raise ValueError("options are expected to be sorted by release")
        starts = np.flatnonzero(np.r_[True, rid[1:] != rid[:-1]])
        self.nest_starts = starts
        self.nest_of = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, rid.size]))
        self.net_utility = self._segment_utility()
        self.by_row = [NaiveDeveloper(self, row) for row in range(inputs.state["segment"].size)]

    def _segment_utility(self) -> np.ndarray:
        """Utility of every option net of price per segment (S × J), −inf if unavailable."""
        q = self.inputs
        u = q.u_seg - q.alpha[:, None] * np.log(q.prices)[None, :]
        return np.where(q.available, u, -np.inf)

    def step(self) -> None:
        """One quarter: the per-segment table, then every developer in random order."""
        self.net_utility = self._segment_utility()
        self.agents.shuffle_do("step")


def check_probabilities(inputs: QuarterInputs, sample: int = 500) -> float:
    """Largest gap between naive per-agent probabilities and the model's group shares.

    Builds a naive model on the captured state and compares, for up to ``sample``
    adopters, the agent's own probabilities with its group's row of the vectorised
    equilibrium shares (outside option included).
    """
    naive = NaiveMarket(inputs, rng=0)
    agents = naive.by_row
    rows, inverse = inputs.group_rows
    shares = np.concatenate([inputs.shares, 1.0 - inputs.shares.sum(axis=1, keepdims=True)], axis=1)
    pick = np.linspace(0, rows.size - 1, min(sample, rows.size)).astype(int)
    gap = 0.0
    for i in pick:
        p = agents[rows[i]].probabilities()
        gap = max(gap, float(np.max(np.abs(p - shares[inverse[i]]))))
    return gap


def time_naive(inputs: QuarterInputs, quarters: int, seed: int = 0) -> tuple[float, float]:
    """Set-up and run time of ``quarters`` naive quarters (seconds)."""
    t0 = time.perf_counter()
    naive = NaiveMarket(inputs, rng=seed)
    t1 = time.perf_counter()
    for _ in range(quarters):
        naive.step()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def vectorised_choice_quarters(
    inputs: QuarterInputs, model: OpenWeightMarket, quarters: int
) -> float:
    """Run time of the vectorised choice rule for ``quarters`` quarters on the same inputs.

    Each quarter: group the adopters, their utilities (``_demand_system``), nested-logit
    shares at the captured prices, then ``_choose`` (draws and state updates). The
    model's developer arrays are reset to the captured state first.
    """
    dev = model.developers
    for k in ("adopted", "choice", "lab", "finetuned", "base_tokens"):
        getattr(dev, k)[:] = inputs.state[k]
    dev.klass[:] = inputs.state["segment"]  # the demand class (see capture_quarter)
    opts = inputs.opts
    eq = market.Equilibrium(
        prices=inputs.prices,
        shares=inputs.shares,
        markups=np.zeros_like(inputs.prices),
        converged=True,
        iterations=0,
    )
    t0 = time.perf_counter()
    for _ in range(quarters):
        groups = model._groups(opts)
        demand = model._demand_system(opts, groups)
        shares = market.logit_shares(
            demand.delta,
            inputs.prices,
            demand.alpha,
            nest=opts.nest,
            sigma=inputs.sigma,
            log_price=True,
            available=demand.available,
        )
        model._choose(opts, demand, groups, dataclasses.replace(eq, shares=shares))
    return time.perf_counter() - t0

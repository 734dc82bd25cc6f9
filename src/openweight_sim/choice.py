"""Developer choice: grouping developers, their demand system, and the choice itself.

Per developer the work is a few scalar steps, done in compiled loops
(:mod:`openweight_sim._kernels`); per group (identical developers) the utilities,
availability and weights that pricing and choice share are computed once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from openweight_sim import _kernels, market
from openweight_sim.demand_classes import ClassArrays, availability, class_utility
from openweight_sim.options import NO_CHOICE, OUTSIDE, Options, switching_cost
from openweight_sim.records import Choices, DemandSystem, DeveloperGroups
from openweight_sim.serving import self_host_price, self_host_variable_cost

if TYPE_CHECKING:
    from openweight_sim.agents import DeveloperPopulation
    from openweight_sim.market import Equilibrium
    from openweight_sim.scenario import Developers


def group_developers(
    dev: DeveloperPopulation,
    opts: Options,
    n_labs: int,
    n_classes: int,
    n_keys: int,
    token_factor: float,
    everyone: bool = False,
) -> DeveloperGroups:
    """Group workload rows by (demand class, current option, current lab, fine-tuned).

    The group code space is small, so grouping is a counting pass, O(N), compiled
    (:func:`openweight_sim._kernels.group_developers`).

    Args:
        dev: the developer population.
        opts: this quarter's options.
        n_labs: number of labs.
        n_classes: number of demand classes.
        n_keys: number of option ids issued so far.
        token_factor: growth of tokens per developer since the start of the run.
        everyone: group the whole population (prospective demand, used for pricing
            before anyone has adopted) instead of the adopters; its rows do not choose.
    """
    idx = np.arange(dev.rows) if everyone else np.flatnonzero(dev.adopted)
    J = opts.size
    L = n_labs
    col_of_key = np.full(n_keys + 2, -1, dtype=np.int64)
    col_of_key[opts.key] = np.arange(J)
    # one compiled counting pass; NO_CHOICE/OUTSIDE (−1/−2) hit the trailing −1 slots
    cur_col, inverse, uniq, tokens = _kernels.group_developers(
        idx,
        dev.choice,
        col_of_key,
        dev.klass,
        dev.lab,
        dev.finetuned,
        J,
        L,
        n_classes * (J + 1) * (L + 1) * 2,
        dev.base_tokens,
        token_factor,
    )
    rest = uniq // 2
    g_lab = rest % (L + 1) - 1
    rest //= L + 1
    return DeveloperGroups(
        rows=idx,
        inverse=inverse,
        cur_col=cur_col,
        klass=rest // (J + 1),
        cur=rest % (J + 1) - 1,
        lab=g_lab,
        ft=(uniq % 2).astype(bool),
        tokens=tokens,
        # prospective demand prices the market but nobody in it chooses yet
        choosers=np.zeros(idx.size, dtype=bool) if everyone else None,
    )


def demand_system(
    opts: Options,
    groups: DeveloperGroups,
    cls: ClassArrays,
    params: Developers,
    ecosystem: np.ndarray,
    token_factor: float,
    scale: float,
) -> DemandSystem:
    """Mean utilities, availability and weights of the developer groups (G×J).

    Args:
        opts: this quarter's options.
        groups: the developer groups.
        cls: the demand classes' parameters.
        params: the scenario's developer parameters.
        ecosystem: ecosystem utility per lab.
        token_factor: growth of tokens per developer since the start of the run.
        scale: real developer firms per simulated developer.
    """
    self_price = self_host_price(opts, cls, opts.cost, cls.band_tokens * token_factor)
    u_cls = class_utility(opts, cls, ecosystem, self_price, params.self_host_overhead)
    avail_cls = availability(opts, cls)
    switch = switching_cost(
        opts,
        groups.cur,
        groups.lab,
        groups.ft,
        params.switching_cost,
        params.host_switching_cost,
        params.finetune_lock_in,
    )
    g = groups.klass
    return DemandSystem(
        delta=u_cls[g] - switch,
        available=avail_cls[g],
        alpha=cls.alpha[g],
        weight=groups.tokens * scale,
        self_price=self_price,
        self_variable=self_host_variable_cost(opts, cls, opts.cost),
        self_fixed=cls.self_host_fixed,
    )


def choose(
    dev: DeveloperPopulation,
    opts: Options,
    demand: DemandSystem,
    groups: DeveloperGroups,
    eq: Equilibrium,
    params: Developers,
    rng: np.random.Generator,
    token_factor: float,
) -> Choices:
    """Developers re-optimise, draw their options, fine-tune, and pay for their tokens.

    A share ``reoptimize_rate`` of the rows re-chooses; a chooser draws an option from its
    group's nested-logit probabilities (or the outside option); some developers on a model
    fine-tune it, which locks them in. Each pays its option's price (self-hosting: its
    own cost) for this quarter's tokens, which respond slightly to price (F45).
    The draws are made here, in this order, so that runs are reproducible; the per-row
    work is compiled (the categorical draw as in ``market.sample_choices``).

    Args:
        dev: the developer population (updated in place).
        opts: this quarter's options.
        demand: the groups' demand system (for the self-hosting cost).
        groups: the developer groups.
        eq: this quarter's prices and choice probabilities per group.
        params: the scenario's developer parameters.
        rng: the model's random generator.
        token_factor: growth of tokens per developer since the start of the run.
    """
    rows, inverse = groups.rows, groups.inverse
    J = opts.size
    draw = rng.random(rows.size)
    u = rng.random(rows.size)
    prob = np.concatenate([eq.shares, 1.0 - eq.shares.sum(axis=1, keepdims=True)], axis=1)
    cum = market.offset_cumulative(prob)  # the draws of market.sample_choices
    col = np.empty(rows.size, dtype=np.int64)
    cur_col = groups.cur_col
    if eq.withdrawn is not None and eq.withdrawn.any():
        # a seller refused to serve (cost at or above the cap): its customers choose again
        cur_col = np.where((cur_col >= 0) & eq.withdrawn[np.maximum(cur_col, 0)], -1, cur_col)
    _kernels.choose_options(
        rows,
        inverse,
        cur_col,
        draw,
        u,
        float(params.reoptimize_rate),
        np.ones(rows.size, dtype=bool) if groups.choosers is None else groups.choosers,
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
    tune = rng.random(int(np.count_nonzero(col >= 0)))
    table, fixed, response = _price_table(opts, demand, eq, params.token_price_elasticity)
    # prospective-demand rows (not adopted) buy nothing: settle_quarter sets their col -1
    _kernels.settle_quarter(
        rows,
        col,
        tune,
        float(params.finetune_rate),
        dev.adopted,
        dev.klass,
        table,
        fixed,
        response,
        dev.base_tokens,
        token_factor,
        dev.finetuned,
        dev.price_paid,
        dev.tokens,
    )
    return Choices(rows=rows, col=col)


def _price_table(
    opts: Options, demand: DemandSystem, eq: Equilibrium, elasticity: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Price, fixed cost and token response per class and option column (C×(J+1)).

    Everyone on a firm's option pays the market price; a self-hosting developer pays its
    class's GPU cost per token plus its fixed engineering cost spread over its *own*
    tokens (the kernel adds ``fixed / tokens``). Tokens respond to the price a class
    expected with a small elasticity (F45) and scale with the model's tokens per task
    (reasoning models emit more). Column J (no option) holds NaN price, zero fixed cost and
    zero response.
    """
    C, J = demand.self_price.shape[0], opts.size
    selfh = opts.self_hosted[None, :]
    table = np.full((C, J + 1), np.nan)
    table[:, :J] = np.where(selfh, demand.self_variable, eq.prices[None, :])
    fixed = np.zeros((C, J + 1))
    fixed[:, :J] = np.where(selfh, demand.self_fixed[:, None], 0.0)
    expected = np.where(selfh, demand.self_price, eq.prices[None, :])
    response = np.zeros((C, J + 1))
    response[:, :J] = np.power(expected, elasticity) * opts.tokens_per_task[None, :]
    return table, fixed, response

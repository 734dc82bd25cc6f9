"""The economics of the AI model market: demand, pricing, costs, diffusion, choice draws.

Pure numpy/scipy functions, free of any agent or framework code (importing this package loads
neither Mesa nor pydantic), so that each can be unit-tested against closed forms and against
an independent implementation (pyblp). One idea per module:

* :mod:`~openweight_sim.market.demand`: nested-logit shares and consumer surplus;
* :mod:`~openweight_sim.market.pricing`: Bertrand-Nash prices (``solve_equilibrium``,
  ``nash_prices``) and the no-best-response condition;
* :mod:`~openweight_sim.market.equilibrium`: the result object and its flags;
* :mod:`~openweight_sim.market.solver_options`: the solver's tuning settings;
* :mod:`~openweight_sim.market.costs`: serving cost per token, with the MoE penalty;
* :mod:`~openweight_sim.market.diffusion`: Bass adoption;
* :mod:`~openweight_sim.market.choice`: categorical draws of individual choices;
* :mod:`~openweight_sim.market.report`: one-line warnings about impossible markets in a run.

Conventions used throughout:

* A consumer of segment ``g`` choosing product ``j`` gets utility
  ``u_gj = delta_gj - alpha_g * p_j`` (or ``- alpha_g * ln(p_j)`` with ``log_price=True``) plus a
  nested-logit error; the outside option (not using any product) has utility 0.
* ``sigma`` in [0, 1) is the nesting parameter: 0 is plain logit, values near 1 make products of
  the same nest near-perfect substitutes. ``nest=None`` puts every product in its own nest,
  which is plain logit whatever ``sigma`` is.
* ``available`` masks products a segment cannot buy: they get probability 0 and do not enter
  the nest sums.
* Prices and costs are in USD per million tokens; ``alpha`` is utility per USD (linear) or the
  price elasticity scale (log price).
"""

from __future__ import annotations

from openweight_sim.market.choice import offset_cumulative, sample_choices
from openweight_sim.market.costs import serving_cost
from openweight_sim.market.demand import consumer_surplus, logit_shares
from openweight_sim.market.diffusion import bass_fraction, bass_step
from openweight_sim.market.equilibrium import Equilibrium
from openweight_sim.market.pricing import (
    nash_prices,
    no_finite_best_response,
    solve_equilibrium,
    warm_up,
)
from openweight_sim.market.report import impossible_market_warning, offer_flags, quarter_flags
from openweight_sim.market.solver_options import DEFAULT_SOLVER, SolverOptions

__all__ = [
    "DEFAULT_SOLVER",
    "Equilibrium",
    "SolverOptions",
    "bass_fraction",
    "bass_step",
    "consumer_surplus",
    "impossible_market_warning",
    "logit_shares",
    "nash_prices",
    "no_finite_best_response",
    "offer_flags",
    "offset_cumulative",
    "quarter_flags",
    "sample_choices",
    "serving_cost",
    "solve_equilibrium",
    "warm_up",
]

"""Bertrand-Nash prices of differentiated products: the solver and its entry points.

Why: hosts and labs set per-token prices strategically every quarter; this module validates
a pricing problem, withdraws sellers that cannot cover cost under the cap, runs the solver's
phases (:mod:`openweight_sim.market._phases`) on the zeta-markup map
(:mod:`openweight_sim.market._zeta`), and returns an
:class:`~openweight_sim.market.equilibrium.Equilibrium` that says whether it is one.

Method: the zeta-markup fixed point of Morrow & Skerlos (2011), as in pyblp. With
``a_gj = du_gj/dp_j`` (``-alpha_g``, or ``-alpha_g / p_j`` for log price), the Jacobian of
demand is ``Lambda - Gamma`` with ``Lambda = diag(sum_g w_g a_gj s_gj / (1 - sigma))`` and
``Gamma_jk = sum_g w_g s_gj a_gk [sigma/(1-sigma) s_{gk|n} 1{same nest} + s_gk]``; the map
``p <- c + zeta(p)``, ``zeta = Lambda^-1 [(Omega o Gamma^T)(p - c) - Q]``, is iterated until
the max-norm of the FOC residual ``Lambda (p - c - zeta)`` divided by the weight sum is
below ``tol`` (pyblp's stopping rule). ``Omega_jk`` is the weight the owner of product j puts
on product k's profit (pyblp's convention), so for a symmetric ``Omega`` this is
``(Omega o Gamma)^T``. Gamma is never formed: each evaluation is O(G*J) with firm ids
(a dense ``ownership`` adds two (G,J)x(J,J) products).

Convergence: the plain map contracts at a rate close to ``sigma`` when a firm owns most of
a nest (~30/(1 - sigma) iterations); SQUAREM extrapolation (``options.accelerate``, pyblp's
``Iteration('squarem')``) removes that slow mode. With several segments and strong nesting
the map can cycle instead of converging; if it has not converged after
``options.phase_one_budget`` evaluations (500) or stops improving, the FOCs are solved by a
Newton-type method (MINPACK hybrid, finite difference Jacobian: J + 1 evaluations, several
starts), then by damped iteration. The
stopping rule is the same in every phase, ``iterations`` counts all evaluations, and
points where a sellable product's demand underflowed to zero (a price running away to
infinity makes its Lambda-weighted residual vanish) are never accepted. A point that
satisfies the FOCs is a Nash equilibrium when profits are quasi-concave in own prices
(always with one segment); with very heterogeneous segments and strong nesting, where
best responses can cycle and no pure-strategy equilibrium exists, it is only a
stationary point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from openweight_sim.market._groups import _Groups
from openweight_sim.market._phases import _damped_iteration, _newton_fallback, _zeta_iteration
from openweight_sim.market._validate import (
    _alpha_vector,
    _as_2d,
    _availability,
    _check_sigma,
    _dense_ownership,
    _vector,
)
from openweight_sim.market._zeta import _ZetaMap
from openweight_sim.market.equilibrium import Equilibrium
from openweight_sim.market.solver_options import DEFAULT_SOLVER, SolverOptions

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["nash_prices", "no_finite_best_response", "solve_equilibrium", "warm_up"]


def solve_equilibrium(
    delta: ArrayLike,
    cost: ArrayLike,
    alpha: ArrayLike,
    weight: ArrayLike | None = None,
    firm: ArrayLike | None = None,
    nest: ArrayLike | None = None,
    sigma: float = 0.0,
    log_price: bool = False,
    available: ArrayLike | None = None,
    fixed: ArrayLike | None = None,
    ownership: ArrayLike | None = None,
    tol: float = 1e-12,
    max_iter: int = 10_000,
    price_cap: ArrayLike | None = None,
    initial_prices: ArrayLike | None = None,
    *,
    options: SolverOptions = DEFAULT_SOLVER,
) -> Equilibrium:
    """Bertrand-Nash prices of differentiated products sold to G consumer segments.

    Why: hosts and labs set per-token prices strategically; the simulation needs their static
    pricing equilibrium every period, for demand that aggregates heterogeneous segments (a
    discrete-type mixed logit). Firm f maximises ``sum_{j in f} (p_j - c_j) Q_j(p)`` with
    ``Q_j = sum_g weight_g s_gj(p)``. Method and convergence: see the module docstring.

    Impossible markets (with a cap): a seller whose marginal cost is at or above the cap
    cannot sell a unit without losing money, so it does what a real firm does and refuses to
    serve: the product is withdrawn (unavailable to every segment, demand 0, quoted at cost,
    flag ``withdrawn``) and the others are priced without it. With log price a product whose
    owner has no finite best response (:func:`no_finite_best_response`), or that sits at the
    cap where its demand is still inelastic (the first-order conditions ask for a markup at
    least equal to the price, i.e. ``alpha (1 - s) <= 1`` for one product in plain logit:
    with rivals in its nest the owner may have a finite best response to each rival price
    and yet prices spiral up to the cap), is priced at the cap and flagged
    (``no_best_response``, ``price_at_cap``); the result then reports ``no_equilibrium``: the
    cap, not the market, sets that price. Any strategic product sold
    below cost is flagged ``below_cost``.

    Args:
        delta: mean utilities (J,) or (G, J).
        cost: marginal costs (J,).
        alpha: price sensitivity, scalar or (G,), > 0. With log price every segment that can
            buy needs alpha_g > 1 (otherwise profit grows without bound as prices rise) unless
            ``price_cap`` is given.
        weight: segment masses (G,), default ones.
        firm: owner id per product (J,); default: every product is its own firm.
        nest: nest id per product (J,); default: each product in its own nest.
        sigma: nesting parameter in [0, 1).
        log_price: utility ``-alpha ln p`` instead of ``-alpha p`` (costs must then be > 0).
        available: bool mask broadcastable to (G, J) of what each segment can buy.
        fixed: bool mask (J,) of products priced at marginal cost that never re-price (a
            competitive fringe such as self-hosting of open weights).
        ownership: optional (J, J) matrix overriding the one built from ``firm`` (unit diagonal;
            off-diagonal conduct parameters theta in [0, 1] between rivals).
        tol: tolerance on the FOC residual relative to the weight sum.
        max_iter: maximum number of evaluations of the zeta map (all phases together).
        price_cap: optional scalar or (J,) upper bound on strategic prices (a regulated or
            reference price); a capped product counts as converged when it would like to
            price above the cap.
        initial_prices: starting prices (J,); default marginal costs.
        options: the search's tuning settings (SQUAREM on or off, phase budgets, patience,
            damping); see :class:`~openweight_sim.market.solver_options.SolverOptions`.

    Returns:
        An :class:`Equilibrium` at the point with the smallest residual found, with its flags;
        it does not raise on non-convergence, check ``converged`` and ``no_equilibrium``.
        Strategic products nobody can buy (zero demand everywhere) are priced at cost.

    Raises:
        ValueError: on inconsistent shapes or invalid parameters.
    """
    d, _ = _as_2d(delta)
    n_seg, n_prod = d.shape
    a = _alpha_vector(alpha, n_seg)
    s = _check_sigma(sigma)
    c = _vector(cost, n_prod, "cost")
    w = _weights(weight, n_seg)
    avail = _availability(available, d.shape)
    fix = _fixed(fixed, n_prod)
    _check_problem(d, avail, c, log_price, tol, max_iter)
    cap = _cap(price_cap, n_prod, log_price)
    p_init = _initial(initial_prices, c, n_prod, log_price)
    nests = _Groups.from_ids(nest, n_prod)
    firms = _Groups.from_ids(firm, n_prod)
    sigma_eff = s if not nests.all_singletons else 0.0
    omega = None if ownership is None else _dense_ownership(ownership, n_prod)

    # sellers that cannot cover marginal cost under the cap refuse to serve
    withdrawn = np.zeros(n_prod, bool)
    if cap is not None:
        withdrawn = _reachable(w, avail, d.shape, fix) & (c >= cap)
    if withdrawn.any():
        avail = np.broadcast_to(~withdrawn, d.shape) if avail is None else avail & ~withdrawn
    # products that somebody with positive weight can buy; the rest are priced at cost
    strategic = _reachable(w, avail, d.shape, fix)
    if log_price and cap is None and np.any(strategic):
        _require_elastic(a, _reach(w, avail, d.shape)[:, strategic].any(axis=1))

    zm = _ZetaMap(
        d if avail is None else np.where(avail, d, -np.inf),
        c,
        a,
        w,
        strategic,
        cap,
        nests.code,
        firms.code,
        omega,
        sigma_eff,
        log_price,
    )
    _run_phases(zm, p_init, tol, max_iter, options)
    unbounded = np.zeros(n_prod, bool)
    if log_price and np.any(a <= 1.0):  # alpha > 1 everywhere: every tail is elastic
        unbounded = no_finite_best_response(
            a, w, avail, firms.code, nests.code, sigma_eff, zm.strategic[zm.inv]
        )
    return _result(zm, w, tol, cap, withdrawn, unbounded)


def _fixed(fixed: ArrayLike | None, n_prod: int) -> NDArray[np.bool_]:
    """Validate the mask of products priced at cost (a competitive fringe)."""
    fix = np.zeros(n_prod, bool) if fixed is None else np.asarray(fixed, dtype=bool)
    if fix.shape != (n_prod,):
        raise ValueError(f"fixed must have shape ({n_prod},), got {fix.shape}")
    return fix


def _check_problem(
    d: NDArray[np.float64],
    avail: NDArray[np.bool_] | None,
    c: NDArray[np.float64],
    log_price: bool,
    tol: float,
    max_iter: int,
) -> None:
    """Reject utilities, costs and stopping settings the solver cannot work with."""
    if not np.all(np.isfinite(d if avail is None else d[avail])):
        raise ValueError("delta must be finite for available products")
    if log_price and np.any(c <= 0):
        raise ValueError("log_price=True requires strictly positive marginal costs")
    if max_iter < 1 or not tol > 0:
        raise ValueError("max_iter must be >= 1 and tol > 0")


def _cap(price_cap: ArrayLike | None, n_prod: int, log_price: bool) -> NDArray[np.float64] | None:
    """Validate the price cap: ``None``, or finite (J,) (and positive with log price)."""
    cap = None if price_cap is None else _vector(price_cap, n_prod, "price_cap")
    if log_price and cap is not None and np.any(cap <= 0):
        raise ValueError("price_cap must be positive with log price")
    return cap


def _require_elastic(alpha: NDArray[np.float64], buyers: NDArray[np.bool_]) -> None:
    """Without a cap, log price needs alpha > 1 for every buying segment (elastic demand)."""
    if np.any(alpha[buyers] <= 1.0):
        raise ValueError(
            "with log_price every segment that can buy needs alpha > 1 (elastic demand); "
            "otherwise profit grows without bound as prices rise: pass price_cap"
        )


def _weights(weight: ArrayLike | None, n_seg: int) -> NDArray[np.float64]:
    """Validate segment masses (G,): finite, non-negative, with a positive sum."""
    w = np.ones(n_seg) if weight is None else np.asarray(weight, dtype=float)
    if w.shape != (n_seg,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weight must have shape ({n_seg},), be finite, >= 0, sum > 0")
    return w


def _initial(
    initial_prices: ArrayLike | None, c: NDArray[np.float64], n_prod: int, log_price: bool
) -> NDArray[np.float64]:
    """Starting prices: the given ones (validated) or marginal costs."""
    if initial_prices is None:
        return c.copy()
    p_init = _vector(initial_prices, n_prod, "initial_prices")
    if log_price and np.any(p_init <= 0):
        raise ValueError("initial_prices must be positive with log price")
    return p_init


def _reach(
    w: NDArray[np.float64], avail: NDArray[np.bool_] | None, shape: tuple[int, int]
) -> NDArray[np.bool_]:
    """(G, J) mask of who can buy what among segments with positive weight."""
    return np.broadcast_to((w > 0)[:, None] if avail is None else avail & (w > 0)[:, None], shape)


def _reachable(
    w: NDArray[np.float64],
    avail: NDArray[np.bool_] | None,
    shape: tuple[int, int],
    fix: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Products that are priced strategically: not fixed, and buyable by some segment."""
    return ~fix & _reach(w, avail, shape).any(axis=0)


def _run_phases(
    zm: _ZetaMap, p_init: NDArray[np.float64], tol: float, max_iter: int, opts: SolverOptions
) -> None:
    """Run the solver's phases on ``zm`` until one meets the tolerance or the budget is spent."""
    phase_one = min(max_iter, opts.phase_one_budget) if opts.accelerate else max_iter
    _zeta_iteration(zm, zm.clip(p_init[zm.perm]), tol, phase_one, opts)
    if zm.best_res >= tol and zm.evaluations < max_iter:
        _newton_fallback(zm, tol, max_iter)
    if zm.best_res >= tol and zm.evaluations < max_iter:
        _damped_iteration(zm, tol, max_iter, opts.damping)


_NEAR_CAP = 1.0 - 1e-3
"""Prices above this fraction of the cap are checked for being at it (one more evaluation)."""


def _result(
    zm: _ZetaMap,
    w: NDArray[np.float64],
    tol: float,
    cap: NDArray[np.float64] | None,
    withdrawn: NDArray[np.bool_],
    unbounded: NDArray[np.bool_],
) -> Equilibrium:
    """The :class:`Equilibrium` at the map's best point, in the caller's product order."""
    p = zm.best_p
    shares, _ = zm.shares(p, np.empty(zm.d.shape))
    inv = zm.inv
    prices = p[inv]
    demand = (shares @ w)[inv]
    strategic = zm.strategic[inv]
    at_cap = np.zeros(prices.size, bool)
    near = np.zeros(prices.size, bool) if cap is None else strategic & (prices >= cap * _NEAR_CAP)
    if near.any():
        # the search can stop a hair below the cap (the FOC residual there is under tol): a
        # product is at the cap when its first-order conditions ask for the cap or more
        desired = zm.desired_markups(p)[inv]
        at_cap = near & ((prices >= cap) | (zm.c[inv] + desired >= cap))
        if zm.log_price:  # a capped product whose demand is inelastic there
            unbounded = unbounded | (at_cap & (desired >= prices))
    return Equilibrium(
        prices=prices,
        shares=shares.T[:, inv].copy(),
        markups=np.where(zm.strategic, p - zm.c, 0.0)[inv],
        converged=bool(zm.best_res < tol),
        iterations=zm.evaluations,
        residual=zm.best_res,
        demand=demand,
        price_at_cap=at_cap,
        below_cost=strategic & (prices < zm.c[inv]) & (demand > 0),
        withdrawn=withdrawn,
        no_best_response=unbounded & strategic,
    )


def no_finite_best_response(
    alpha: NDArray[np.float64],
    weight: NDArray[np.float64],
    available: NDArray[np.bool_] | None,
    firm_code: NDArray[np.intp],
    nest_code: NDArray[np.intp],
    sigma: float,
    strategic: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Products whose owner's profit grows without bound as prices rise (log price).

    Why: with utility ``-alpha ln p`` demand falls only as a power of price, so a seller
    facing inelastic buyers gains by raising its price for ever; then no finite best
    response, and no Nash equilibrium, exists, and a solver with a price cap returns the cap.

    Derivation. One product, one segment, plain logit: profit ``(p - c) s(p)`` has
    ``d ln s / d ln p = -alpha (1 - s)``, so the first-order condition is the Lerner rule
    ``(p - c)/p = 1/(alpha (1 - s))``, which has a solution only where ``alpha (1 - s) > 1``;
    as ``p`` rises ``s`` falls to 0 and ``p s(p) ~ p^(1 - alpha)``, so profit is unbounded
    (``alpha < 1``) or increases towards its supremum without reaching it (``alpha = 1``)
    exactly when ``alpha <= 1``. Several segments: segment g's demand for product j falls
    like ``p^(-e_gj)`` in the tail, and the least elastic segment decides, so one segment
    with ``alpha_g e_gj <= 1`` that can buy j suffices. Nested logit with parameter sigma,
    multi-product firms: if rivals sell in j's nest (for that segment), raising j's price
    alone moves demand within the nest, ``s_{j|n} ~ p^(-alpha/(1 - sigma))``, and the owner's
    tail elasticity is ``alpha_g/(1 - sigma)``; if the owner sells every product of the nest
    that the segment can buy (a singleton nest, plain logit), it raises them together and the
    nest's share falls like ``p^(-alpha_g)``. So product j's owner has no finite best
    response iff some segment g with positive weight that can buy j has
    ``alpha_g <= 1 - sigma`` (a rival in j's nest) or ``alpha_g <= 1`` (no rival there).
    Ownership is read from firm ids (a conduct matrix is not taken into account).

    Args:
        alpha: price sensitivity per segment (G,).
        weight: segment masses (G,).
        available: (G, J) mask of what each segment can buy, or ``None`` (everything).
        firm_code: owner index per product (J,).
        nest_code: nest index per product (J,).
        sigma: the effective nesting parameter (0 for plain logit).
        strategic: (J,) products priced strategically; only these are flagged.

    Returns:
        (J,) bool: the products whose owner has no finite best response.
    """
    n_seg, n_prod = alpha.size, firm_code.size
    reach = _reach(weight, available, (n_seg, n_prod)).astype(float)
    same_nest = nest_code[:, None] == nest_code[None, :]
    same_cell = same_nest & (firm_code[:, None] == firm_code[None, :])
    # for segment g and product j: available products of j's nest owned by a rival
    rivals = reach @ (same_nest & ~same_cell).astype(float)
    threshold = np.where(rivals > 0, 1.0 - sigma, 1.0)
    inelastic = (reach > 0) & (alpha[:, None] <= threshold)
    return strategic & inelastic.any(axis=0)


def warm_up() -> None:
    """Load the solver's compiled kernels (:mod:`openweight_sim.market._kernels`) now.

    Why: the first call of a numba kernel in a process loads it from the on-disk cache (or
    compiles it, once per installation), about 0.2 s; a model calls this in its set-up so
    that the first simulated quarter does not pay it. Solves two tiny problems (nested with
    a price cap, and plain logit) that go through every kernel.
    """
    solve_equilibrium(
        np.zeros((1, 2)),
        [1.0, 1.0],
        2.0,
        firm=[0, 1],
        nest=[0, 0],
        sigma=0.5,
        log_price=True,
        price_cap=10.0,
    )
    solve_equilibrium(np.zeros((1, 2)), [1.0, 1.0], 2.0)


def nash_prices(
    mean_utility: ArrayLike,
    marginal_cost: ArrayLike,
    alpha: float,
    firm: ArrayLike | None = None,
    nest: ArrayLike | None = None,
    sigma: float = 0.0,
    log_price: bool = False,
    tol: float = 1e-12,
    *,
    fixed: ArrayLike | None = None,
    max_iter: int = 10_000,
) -> NDArray[np.float64]:
    """Bertrand-Nash prices for a single consumer segment (convenience wrapper).

    Why: most analytic checks and many callers have one representative consumer; this wraps
    :func:`solve_equilibrium` and turns non-convergence into an exception instead of a flag.

    Args:
        mean_utility: mean utilities delta (J,).
        marginal_cost: marginal costs (J,).
        alpha: price sensitivity (> 0; > 1 with log price).
        firm: owner id per product (J,); default: single-product firms.
        nest: nest id per product (J,); default: each product in its own nest.
        sigma: nesting parameter in [0, 1).
        log_price: utility ``-alpha ln p`` instead of ``-alpha p``.
        tol: tolerance on the relative FOC residual.
        fixed: bool mask (J,) of products priced at cost (competitive fringe).
        max_iter: maximum number of iterations.

    Returns:
        Equilibrium prices (J,).

    Raises:
        ValueError: for bad shapes, alpha <= 0 or sigma outside [0, 1).
        RuntimeError: if the fixed point does not converge within ``max_iter``.
    """
    d = np.asarray(mean_utility, dtype=float)
    if d.ndim != 1:
        raise ValueError(f"mean_utility must have shape (J,), got {d.shape}")
    if np.ndim(alpha) != 0:
        raise ValueError("alpha must be a scalar for nash_prices")
    eq = solve_equilibrium(
        d,
        marginal_cost,
        alpha,
        firm=firm,
        nest=nest,
        sigma=sigma,
        log_price=log_price,
        fixed=fixed,
        tol=tol,
        max_iter=max_iter,
    )
    if not eq.converged:
        raise RuntimeError(
            f"Bertrand-Nash price iteration did not converge in {eq.iterations} iterations "
            f"(FOC residual {eq.residual:.3g} > tol {tol:.3g}); try a larger max_iter or tol"
        )
    return eq.prices

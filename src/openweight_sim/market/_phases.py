"""The solver's three phases, each driving a :class:`~openweight_sim.market._zeta._ZetaMap`.

Phase 1 iterates the zeta map with safeguarded SQUAREM acceleration; phase 2 solves the FOCs
with a Newton-type method when the map cycles; phase 3 is damped iteration, the last resort.
Every phase stops on the same rule (the map remembers its best point); their tuning settings
come from a :class:`~openweight_sim.market.solver_options.SolverOptions`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from openweight_sim.market._zeta import _ZetaMap
    from openweight_sim.market.solver_options import SolverOptions


def _squarem_step(
    p0: NDArray[np.float64],
    p1: NDArray[np.float64],
    p2: NDArray[np.float64],
    step_max: float,
) -> tuple[NDArray[np.float64], float]:
    """SQUAREM extrapolation (Varadhan & Roland 2008, scheme 3) from two map evaluations.

    Returns the extrapolated point and the updated bound on the step length; the step is
    bounded between the plain double step (1) and ``step_max``, which grows by 4 each time it
    binds, as in pyblp's ``Iteration('squarem')``.
    """
    r = p1 - p0
    v = (p2 - p1) - r
    nv = float(np.sqrt(v @ v))
    if nv == 0.0:
        return p2, step_max
    step = min(max(float(np.sqrt(r @ r)) / nv, 1.0), step_max)
    if step == step_max:
        step_max *= 4.0
    return p0 + 2.0 * step * r + step * step * v, step_max


def _zeta_iteration(
    zm: _ZetaMap, p: NDArray[np.float64], tol: float, budget: int, opts: SolverOptions
) -> None:
    """Phase 1: iterate the zeta map, with safeguarded SQUAREM acceleration.

    Stops when the residual is below ``tol``, after ``budget`` evaluations, or when plain
    iteration stops improving. Safeguards: an extrapolated point whose residual is far worse
    than the plain iterate's is dropped (resume from the plain iterate with the cautious
    step); SQUAREM is switched off after 3 such failures in a row or when it has not improved
    the best residual for a while (it can cycle where the plain map still converges).
    """
    step_max, use_squarem, rejections = 1.0, opts.accelerate, 0
    pending: tuple[NDArray[np.float64], float] | None = None  # (plain iterate, its residual)
    while zm.evaluations < budget:
        p1, foc = zm(p)
        res = float(np.abs(foc).max()) if foc.size else 0.0
        if zm.best_res < tol:
            return
        if pending is not None:
            p_plain, res_plain = pending
            pending = None
            if zm.evaluations - zm.best_at > opts.squarem_patience:
                use_squarem, p = False, zm.best_p
                continue
            if not (zm.valid(p1) and np.isfinite(res)) or res > opts.squarem_slack * res_plain:
                rejections += 1
                step_max, use_squarem, p = 1.0, rejections < 3, p_plain
                continue
            rejections = 0
        if not (zm.valid(p1) and np.isfinite(res)):
            return
        if not use_squarem:
            if zm.evaluations - zm.best_at > opts.plain_patience:
                return
            p = p1
            continue
        if zm.evaluations >= budget:
            return
        p2, foc1 = zm(p1)
        res1 = float(np.abs(foc1).max()) if foc1.size else 0.0
        if zm.best_res < tol or not (zm.valid(p2) and np.isfinite(res1)):
            return
        p_acc, step_max = _squarem_step(p, p1, p2, step_max)
        p_acc = zm.clip(np.maximum(p_acc, zm.c))  # equilibrium markups are positive
        if zm.valid(p_acc):
            p, pending = p_acc, (p1, res1)
        else:
            p = p2


class _BudgetExhausted(Exception):
    """Raised inside the Newton fallback to stop MINPACK at the evaluation budget."""


def _newton_fallback(zm: _ZetaMap, tol: float, budget: int) -> None:
    """Phase 2: solve the FOCs with MINPACK's hybrid Powell method (multi-start).

    Why: with several segments and strong nesting the zeta map need not be a contraction and
    can cycle (typically where best responses cycle too, i.e. there is no pure-strategy
    equilibrium and only a stationary point of the FOCs exists); a Newton-type solver finds
    the stationary point anyway. The unknowns are the log markups of strategic products,
    which keeps prices above cost (and positive for log price), and the equations are the
    markup mismatches ``(m - zeta) / m``. The Jacobian is approximated by finite differences
    (J + 1 evaluations), so this only runs when phase 1 failed. Starts: the best point so far,
    then the single-product logit markup ``1/alpha`` (linear) or ``c/(alpha - 1)`` (log
    price) at the weighted mean alpha, then twice that.
    """
    from scipy import optimize  # only when phase 1 failed: not on import

    idx = np.flatnonzero(zm.strategic)
    if idx.size == 0:
        return
    c = zm.c[idx]
    alpha_bar = float(zm.wa.sum() / zm.w_total)
    if zm.log_price:
        heuristic = c / max(alpha_bar - 1.0, 0.05)
    else:
        heuristic = np.full(idx.size, 1.0 / alpha_bar)
    floor = 1e-6 * (1.0 + np.abs(c))  # start strictly above cost
    starts = [np.maximum(zm.best_p[idx] - c, floor), heuristic, 2.0 * heuristic]
    base = zm.clip(zm.c.copy())

    def residual(x: NDArray[np.float64], stop: int) -> NDArray[np.float64]:
        # markup mismatch relative to the markup: unlike the Lambda-weighted FOC it does not
        # vanish as a price runs away to infinity, so MINPACK cannot converge to that
        # spurious root
        if zm.evaluations >= stop:
            raise _BudgetExhausted
        markup = np.exp(np.clip(x, -700.0, 700.0))
        p = base.copy()
        p[idx] = c + markup
        p = zm.clip(p)
        if not zm.valid(p):
            return np.full(idx.size, 1e10)
        new_p, _ = zm(p)
        r = (p[idx] - new_p[idx]) / markup
        return np.where(np.isfinite(r), r, 1e10)

    for k, m0 in enumerate(starts):
        remaining = budget - zm.evaluations
        if zm.best_res < tol or remaining <= idx.size + 1:
            return
        stop = zm.evaluations + remaining // (len(starts) - k)
        options = {"xtol": 1e-15, "maxfev": stop - zm.evaluations}
        with np.errstate(all="ignore"), contextlib.suppress(_BudgetExhausted):
            optimize.root(residual, np.log(m0), args=(stop,), method="hybr", options=options)


def _damped_iteration(zm: _ZetaMap, tol: float, budget: int, damping: float = 0.5) -> None:
    """Phase 3: damped zeta iteration ``p <- p + damping (c + zeta(p) - p)`` from the best point.

    Damping turns the oscillating modes of the map (eigenvalues below -1) into contracting
    ones; it is the last resort when phases 1 and 2 failed.
    """
    p = zm.best_p
    while zm.evaluations < budget and zm.best_res >= tol:
        p1, foc = zm(p)
        if not (zm.valid(p1) and np.all(np.isfinite(foc))):
            return
        p = zm.clip(p + damping * (p1 - p))

"""Closed forms that check the market primitives (used by the tests only).

They live beside the tests, not in the package: nothing in the simulation calls them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import lambertw

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray


def monopoly_markup(A: ArrayLike, alpha: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Markup of one firm owning every product under plain logit: ``(1 + W(A/e)) / alpha``.

    Why: a closed form for the fully monopolised market, used to check the solver and as the
    upper benchmark of pricing power. The monopolist sets one common markup m solving
    ``alpha m = 1 + A exp(-alpha m)``, whose solution is the principal branch of Lambert W.

    Args:
        A: ``sum_j exp(delta_j - alpha c_j)`` (>= 0), scalar or array.
        alpha: price sensitivity (> 0), broadcastable with ``A``.

    Returns:
        The common markup, with the broadcast shape of the inputs.
    """
    a_val = np.asarray(A, dtype=float)
    al = np.asarray(alpha, dtype=float)
    if np.any(a_val < 0) or np.any(al <= 0):
        raise ValueError("A must be >= 0 and alpha > 0")
    return (1.0 + lambertw(a_val / np.e).real) / al


def markov_long_run_share(p_ab: ArrayLike, p_ba: ArrayLike) -> NDArray[np.float64] | float:
    """Long-run (stationary) share of state A in a two-state switching chain.

    Why: customers switch between, e.g., a closed API and open weights with per-period
    probabilities ``p_ab`` (A to B) and ``p_ba`` (B to A); the stationary distribution gives
    where the market settles, ``p_ba / (p_ab + p_ba)``. It is NaN when both are 0 (the chain
    never moves, so the long run depends on where it starts).

    Args:
        p_ab: probability per period of switching from A to B.
        p_ba: probability per period of switching from B to A.

    Returns:
        Share of A in the long run.
    """
    ab = np.asarray(p_ab, dtype=float)
    ba = np.asarray(p_ba, dtype=float)
    total = ab + ba
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total > 0, ba / np.where(total > 0, total, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def mixed_logit_shares(
    xi: ArrayLike,
    characteristics: ArrayLike,
    beta: ArrayLike,
    alpha: ArrayLike,
    prices: ArrayLike,
    nest: ArrayLike | None = None,
    sigma: float = 0.0,
    log_price: bool = False,
    available: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Choice probabilities of a discrete-type random-coefficient (nested) logit, type by type.

    Why: an independent, deliberately plain reference for the demand the pricing solver works
    with when consumer types differ in their price and quality coefficients (BLP with discrete
    agent types): type ``g`` gets ``u_gj = xi_j + x_j' beta_g - alpha_g f(p_j)`` (``f(p) = p``
    or ``ln p``) plus a nested-logit error, the outside option 0. It loops over types and nests
    and writes the textbook formula ``s_gj = s_{j|n} exp(I_n) / (1 + sum_m exp(I_m))`` with
    ``I_n = (1 - sigma) ln sum_{k in n} exp(u_gk / (1 - sigma))``, with no log-sum-exp
    shifts, so it is meant for moderate utilities only.

    Args:
        xi: product-specific utility (J,).
        characteristics: product characteristics x (J, K), e.g. general and coding quality.
        beta: quality coefficients per type (G, K).
        alpha: price sensitivity per type (G,).
        prices: prices (J,), positive with log price.
        nest: nest id per product (J,); ``None`` puts each product in its own nest.
        sigma: nesting parameter in [0, 1).
        log_price: whether price enters as ``ln p``.
        available: (G, J) bool, what each type can buy (``None``: everything); a product a
            type cannot buy has share 0 and leaves that type's nest sums.

    Returns:
        ``(shares, outside)``: inside shares (G, J) and the outside option's share (G,).
    """
    x = np.asarray(characteristics, dtype=float)
    b = np.atleast_2d(np.asarray(beta, dtype=float))
    a = np.asarray(alpha, dtype=float)
    p = np.asarray(prices, dtype=float)
    fp = np.log(p) if log_price else p
    nests = np.arange(p.size) if nest is None else np.asarray(nest)
    can_buy = np.ones((a.size, p.size), bool) if available is None else np.asarray(available)
    shares = np.zeros((a.size, p.size))
    outside = np.zeros(a.size)
    for g in range(a.size):
        u = np.asarray(xi, dtype=float) + x @ b[g] - a[g] * fp
        inclusive = {}
        for n in np.unique(nests):
            inside = (nests == n) & can_buy[g]
            if not inside.any():
                continue
            scaled = np.exp(u[inside] / (1.0 - sigma))
            inclusive[n] = (1.0 - sigma) * np.log(scaled.sum())
            shares[g, inside] = scaled / scaled.sum()  # s_{j|n} for now
        denom = 1.0 + sum(np.exp(v) for v in inclusive.values())
        for n, value in inclusive.items():
            shares[g, nests == n] *= np.exp(value) / denom  # 0 where it cannot buy
        outside[g] = 1.0 / denom
    return shares, outside

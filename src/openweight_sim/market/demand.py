"""Nested-logit demand: choice probabilities and consumer surplus, in log-sum-exp form.

A consumer of segment ``g`` choosing product ``j`` gets ``u_gj = delta_gj - alpha_g f(p_j)``
(``f(p) = p``, or ``ln p`` with ``log_price=True``) plus a nested-logit error; the outside
option has utility 0. ``sigma`` in [0, 1) is the nesting parameter (0: plain logit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from openweight_sim.market._groups import _Groups
from openweight_sim.market._validate import (
    _alpha_vector,
    _as_2d,
    _availability,
    _check_sigma,
    _vector,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["consumer_surplus", "logit_shares"]


def _price_term(
    prices: NDArray[np.float64], log_price: bool, avail: NDArray[np.bool_] | None
) -> NDArray[np.float64]:
    """Return f(p) = p or ln p; log price needs positive prices wherever a product is buyable."""
    if not log_price:
        return prices
    used = np.ones(prices.shape, dtype=bool) if avail is None else avail.any(axis=0)
    if np.any(prices[used] <= 0):
        raise ValueError("log_price=True requires strictly positive prices")
    return np.log(np.where(prices > 0, prices, 1.0))


def _choice(
    u: NDArray[np.float64], nests: _Groups, sigma: float
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64]]:
    """Nested-logit choice probabilities with an outside option of utility 0.

    Args:
        u: product-major utilities (J, G), ``-inf`` for products a segment cannot buy.
            Overwritten: it is reused as a work buffer so that the solver's inner loop does
            not allocate.
        nests: partition of the products into nests.
        sigma: nesting parameter in [0, 1).

    Returns:
        ``(shares, conditionals, log_sum)``: shares (J, G); within-nest probabilities
        s_{j|n} (J, G), or ``None`` for plain logit; and the log of the denominator
        ``ln(1 + sum_n exp(I_n))`` (G,), the expected maximum utility. Every exponential is
        taken after subtracting the relevant maximum (per segment, per nest), so none can
        overflow.
    """
    if u.shape[0] == 0:  # no products: everybody takes the outside option
        return u, None, np.zeros(u.shape[1])
    if sigma == 0.0 or nests.all_singletons:
        top = np.maximum(u.max(axis=0), 0.0)  # the outside option has utility 0
        u -= top
        np.exp(u, out=u)
        denom = np.exp(-top) + u.sum(axis=0)
        u /= denom
        return u, None, top + np.log(denom)

    u *= 1.0 / (1.0 - sigma)
    nest_max = nests.max(u)  # (N, G)
    nest_max[~np.isfinite(nest_max)] = 0.0  # nests with nothing available
    u -= nests.expand(nest_max)
    np.exp(u, out=u)
    nest_sum = nests.sum(u)  # (N, G)
    with np.errstate(divide="ignore"):
        inclusive = (1.0 - sigma) * (nest_max + np.log(nest_sum))  # -inf for empty nests
    u /= nests.expand(np.where(nest_sum > 0, nest_sum, 1.0))  # now s_{j|n}
    top = np.maximum(inclusive.max(axis=0), 0.0)
    en = np.exp(inclusive - top)
    denom = np.exp(-top) + en.sum(axis=0)
    shares = u * nests.expand(en / denom)
    return shares, u, top + np.log(denom)


def _utilities(
    d: NDArray[np.float64],
    alpha: NDArray[np.float64],
    fp: NDArray[np.float64],
    avail: NDArray[np.bool_] | None,
) -> NDArray[np.float64]:
    """Return product-major utilities (J, G): delta - alpha_g f(p_j), -inf where unavailable."""
    u = d.T - fp[:, None] * alpha[None, :]
    if avail is not None:
        u[~avail.T] = -np.inf
    return u


# --------------------------------------------------------------------------------------------
# Demand
# --------------------------------------------------------------------------------------------


def logit_shares(
    delta: ArrayLike,
    prices: ArrayLike,
    alpha: ArrayLike,
    nest: ArrayLike | None = None,
    sigma: float = 0.0,
    log_price: bool = False,
    available: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Nested-logit choice probabilities of the inside products.

    Why: this is the demand system every pricing and adoption decision in the model rests on;
    it is computed in log-sum-exp form so that large mean utilities (delta of several hundred)
    or prices near zero with log price cannot overflow.

    Args:
        delta: mean utilities, shape (J,) or (G, J) for G consumer segments.
        prices: prices, shape (J,).
        alpha: price sensitivity, a scalar or one per segment (G,); must be > 0.
        nest: nest id of every product (J,); ``None`` puts each product in its own nest.
        sigma: nesting parameter in [0, 1); 0 is plain logit.
        log_price: use ``-alpha * ln(p)`` instead of ``-alpha * p``.
        available: optional bool mask broadcastable to delta's shape; unavailable products get
            probability 0 and do not enter the nest sums.

    Returns:
        Choice probabilities with delta's shape. Each row sums to less than 1; the outside
        option takes the remainder.

    Raises:
        ValueError: on inconsistent shapes, alpha <= 0, sigma outside [0, 1), or non-positive
            prices with log price.
    """
    d, one_d = _as_2d(delta)
    n_seg, n_prod = d.shape
    a = _alpha_vector(alpha, n_seg)
    s = _check_sigma(sigma)
    p = _vector(prices, n_prod, "prices")
    avail = _availability(available, d.shape)
    nests = _Groups.from_ids(nest, n_prod)
    shares, _, _ = _choice(_utilities(d, a, _price_term(p, log_price, avail), avail), nests, s)
    return shares[:, 0].copy() if one_d else shares.T.copy()


def consumer_surplus(
    delta: ArrayLike,
    prices: ArrayLike,
    alpha: ArrayLike,
    nest: ArrayLike | None = None,
    sigma: float = 0.0,
    log_price: bool = False,
    available: ArrayLike | None = None,
) -> NDArray[np.float64] | np.float64:
    """Expected consumer surplus per consumer: the nested-logit log-sum divided by alpha.

    Why: welfare comparisons between scenarios (open vs closed weights, mergers) need a money
    measure of what consumers gain from the product set. ``ln(1 + sum_n exp(I_n)) / alpha_g``
    is the expected maximum utility (outside option normalised to 0, Euler constant dropped,
    so only differences are meaningful). With linear price it is in USD per consumer (per unit
    of demand); with ``log_price=True`` utility is not linear in money, so the value is only a
    utility index scaled by 1/alpha and must not be read as dollars.

    Args:
        delta: mean utilities (J,) or (G, J).
        prices: prices (J,).
        alpha: price sensitivity, scalar or (G,).
        nest: nest ids (J,) or ``None``.
        sigma: nesting parameter in [0, 1).
        log_price: whether utility uses ``ln(p)``.
        available: optional availability mask broadcastable to delta's shape.

    Returns:
        Surplus per segment, shape (G,); a scalar when delta is one-dimensional.
    """
    d, one_d = _as_2d(delta)
    n_seg, n_prod = d.shape
    a = _alpha_vector(alpha, n_seg)
    s = _check_sigma(sigma)
    p = _vector(prices, n_prod, "prices")
    avail = _availability(available, d.shape)
    nests = _Groups.from_ids(nest, n_prod)
    _, _, log_sum = _choice(_utilities(d, a, _price_term(p, log_price, avail), avail), nests, s)
    cs = log_sum / a
    return cs[0] if one_d else cs

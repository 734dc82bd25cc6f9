"""Demand, pricing and diffusion primitives of the AI model market.

This module is the economic engine of the simulation and is deliberately free of any agent or
framework code: every function is a pure numpy/scipy computation (the pricing solver's inner
evaluation runs in the compiled loops of :mod:`openweight_sim._kernels`) so that it can be
unit-tested against closed forms and against an independent implementation (pyblp).

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

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import optimize
from scipy.special import lambertw

from openweight_sim import _kernels

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Equilibrium",
    "bass_fraction",
    "bass_step",
    "consumer_surplus",
    "logit_shares",
    "markov_long_run_share",
    "monopoly_markup",
    "nash_prices",
    "sample_choices",
    "serving_cost",
    "solve_equilibrium",
]


# --------------------------------------------------------------------------------------------
# Internal helpers: validation, grouping, choice probabilities
# --------------------------------------------------------------------------------------------


_DENSE_LIMIT = 8192  # largest K*J for which group sums use a dense (K, J) indicator matmul


@dataclass(frozen=True, eq=False)
class _Groups:
    """A partition of the J products into groups (nests, firms, firm-nest cells).

    Internally arrays are product-major, shape (J, G), so that every reduction over products
    runs over whole rows of length G. ``ufunc.reduceat`` along the product axis is slow for
    these shapes (numpy loops over the few rows of each group once per column), so for the
    small problems of the simulation group sums are a product with a dense (K, J) 0/1
    indicator and group maxima a maximum over a (K, largest group, G) gather in which short
    groups repeat their first product; larger problems fall back to ``reduceat`` over the rows
    sorted by group, O(G*J) whatever the number of groups. Expansion back to products is a
    cheap ``np.repeat`` when the products are already sorted by group (the solver arranges
    this), a gather otherwise.
    """

    code: NDArray[np.intp]  # (J,) group index 0..K-1 of every product
    order: NDArray[np.intp]  # (J,) permutation sorting products by group
    starts: NDArray[np.intp]  # (K,) first position of each group in the sorted order
    counts: NDArray[np.intp]  # (K,) group sizes
    contiguous: bool  # products already sorted by group (order is the identity)
    indicator: NDArray[np.float64] | None  # (K, J) membership, if K*J <= _DENSE_LIMIT
    padded: NDArray[np.intp] | None  # (K, largest group) member rows, if not much padding

    @classmethod
    def from_ids(cls, ids: ArrayLike | None, n_products: int) -> _Groups:
        """Build the partition from arbitrary ids (``None``: every product on its own)."""
        new_group = np.ones(n_products, dtype=bool)
        if ids is None:
            code = np.arange(n_products, dtype=np.intp)
            contiguous = True
        else:
            arr = np.asarray(ids)
            if arr.shape != (n_products,):
                raise ValueError(f"group ids must have shape ({n_products},), got {arr.shape}")
            contiguous = arr.dtype.kind in "iub" and bool(np.all(arr[1:] >= arr[:-1]))
            if contiguous:  # sorted integer ids (the common case): number the runs
                np.not_equal(arr[1:], arr[:-1], out=new_group[1:])
                code = np.cumsum(new_group, dtype=np.intp) - 1
            else:
                _, code = np.unique(arr, return_inverse=True)
                code = code.astype(np.intp).reshape(n_products)
                contiguous = bool(np.all(code[1:] >= code[:-1]))
        order = (
            np.arange(n_products, dtype=np.intp)
            if contiguous
            else np.argsort(code, kind="stable").astype(np.intp)
        )
        sorted_code = code[order]
        if ids is not None:
            np.not_equal(sorted_code[1:], sorted_code[:-1], out=new_group[1:])
        starts = np.flatnonzero(new_group).astype(np.intp)
        counts = np.diff(starts, append=n_products).astype(np.intp)
        n_groups = starts.size
        indicator = None
        if 1 < n_groups < n_products and n_groups * n_products <= _DENSE_LIMIT:
            indicator = np.zeros((n_groups, n_products))
            indicator[code, np.arange(n_products)] = 1.0
        padded = None
        widest = int(counts.max()) if n_groups else 0
        if 1 < n_groups < n_products and n_groups * widest <= 4 * n_products:
            # position of every product within its group, then short groups repeat member 0
            rank = np.arange(n_products) - np.repeat(starts, counts)
            padded = np.repeat(order[starts][:, None], widest, axis=1)
            padded[sorted_code, rank] = order
        return cls(
            code=code,
            order=order,
            starts=starts,
            counts=counts,
            contiguous=contiguous,
            indicator=indicator,
            padded=padded,
        )

    @property
    def n_groups(self) -> int:
        """Number of distinct groups."""
        return int(self.starts.size)

    @property
    def all_singletons(self) -> bool:
        """True if every product is alone in its group."""
        return self.n_groups == self.code.size

    def max(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Maximum of ``x`` (J, G) over the products of each group; returns (K, G)."""
        if self.padded is not None:
            return x[self.padded].max(axis=1)
        xs = x if self.contiguous else x[self.order]
        return np.maximum.reduceat(xs, self.starts, axis=0)

    def sum(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum of ``x`` (J, G), which must be finite, over the products of each group: (K, G)."""
        if self.indicator is not None:
            return self.indicator @ x
        xs = x if self.contiguous else x[self.order]
        return np.add.reduceat(xs, self.starts, axis=0)

    def expand(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map a per-group array (K, G) back to products (J, G)."""
        if self.contiguous:
            return np.repeat(y, self.counts, axis=0)
        return y[self.code]

    def sum_back(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """For every product, the sum of ``x`` over the products of its group; (J, G)."""
        if self.all_singletons:
            return x
        return self.expand(self.sum(x))


def _as_2d(delta: ArrayLike) -> tuple[NDArray[np.float64], bool]:
    """Return delta as a (G, J) float array and whether the input was one-dimensional."""
    d = np.asarray(delta, dtype=float)
    if d.ndim == 1:
        return d[None, :], True
    if d.ndim == 2:
        return d, False
    raise ValueError(f"delta must have shape (J,) or (G, J), got {d.shape}")


def _check_sigma(sigma: float) -> float:
    """Validate the nesting parameter, which must lie in [0, 1) for a consistent nested logit."""
    s = float(sigma)
    if not 0.0 <= s < 1.0:
        raise ValueError(f"sigma must be in [0, 1), got {sigma}")
    return s


def _alpha_vector(alpha: ArrayLike, n_segments: int) -> NDArray[np.float64]:
    """Broadcast alpha to one positive price sensitivity per segment."""
    a = np.asarray(alpha, dtype=float)
    if a.ndim == 0:
        a = np.full(n_segments, float(a))
    if a.shape != (n_segments,):
        raise ValueError(f"alpha must be a scalar or have shape ({n_segments},), got {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError("alpha must be finite and > 0 (utility must fall with price)")
    return a


def _vector(x: ArrayLike, n: int, name: str) -> NDArray[np.float64]:
    """Validate a finite (J,) float vector (prices, costs)."""
    v = np.asarray(x, dtype=float)
    if v.ndim == 0:
        v = np.full(n, float(v))
    if v.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite")
    return v


def _availability(available: ArrayLike | None, shape: tuple[int, int]) -> NDArray[np.bool_] | None:
    """Broadcast an availability mask to (G, J); ``None`` means everything is available."""
    if available is None:
        return None
    a = np.asarray(available, dtype=bool)
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise ValueError(
            f"available must be broadcastable to {shape}, got shape {a.shape}"
        ) from None


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


# --------------------------------------------------------------------------------------------
# Bertrand-Nash pricing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Equilibrium:
    """Result of :func:`solve_equilibrium`.

    Attributes:
        prices: equilibrium prices (J,).
        shares: choice probabilities per segment at those prices (G, J).
        markups: prices minus marginal costs (J,); 0 for fixed (fringe) products.
        converged: whether the FOC residual fell below the tolerance within ``max_iter``.
        iterations: number of evaluations of the zeta-markup map.
        residual: final max-norm of the FOC residual relative to the weight sum.
        demand: aggregate demand ``Q_j = sum_g weight_g * s_gj`` (J,), if known.
    """

    prices: NDArray[np.float64]
    shares: NDArray[np.float64]
    markups: NDArray[np.float64]
    converged: bool
    iterations: int
    residual: float = float("nan")
    demand: NDArray[np.float64] | None = None

    @property
    def costs(self) -> NDArray[np.float64]:
        """Marginal costs implied by prices and markups (J,)."""
        return self.prices - self.markups

    @property
    def lerner(self) -> NDArray[np.float64]:
        """Lerner index (p - c) / p per product (NaN where the price is 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.prices != 0, self.markups / self.prices, np.nan)

    def explain(self) -> str:
        """Human-readable summary: convergence facts and a per-product price table."""
        status = "converged" if self.converged else "NOT converged"
        lines = [
            f"Bertrand-Nash equilibrium {status} after {self.iterations} iterations "
            f"(FOC residual {self.residual:.3g}, relative to total weight)",
            f"{'product':>7} {'price':>12} {'cost':>12} {'markup':>12} {'Lerner':>8}"
            + (f" {'demand':>12}" if self.demand is not None else ""),
        ]
        costs, lerner = self.costs, self.lerner
        for j in range(self.prices.size):
            row = (
                f"{j:>7d} {self.prices[j]:>12.6g} {costs[j]:>12.6g} {self.markups[j]:>12.6g} "
                f"{lerner[j]:>8.4f}"
            )
            if self.demand is not None:
                row += f" {self.demand[j]:>12.6g}"
            lines.append(row)
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Per-product table (price, cost, markup, Lerner, mean share, demand) as a DataFrame."""
        import pandas as pd

        data: dict[str, NDArray[np.float64]] = {
            "price": self.prices,
            "cost": self.costs,
            "markup": self.markups,
            "lerner": self.lerner,
            "mean_share": self.shares.mean(axis=0),
        }
        if self.demand is not None:
            data["demand"] = self.demand
        frame = pd.DataFrame(data)
        frame.index.name = "product"
        return frame


def _dense_ownership(ownership: ArrayLike, n_prod: int) -> NDArray[np.float64]:
    """Validate a (J, J) ownership (conduct) matrix with a unit diagonal."""
    omega = np.asarray(ownership, dtype=float)
    if omega.shape != (n_prod, n_prod):
        raise ValueError(f"ownership must have shape ({n_prod}, {n_prod}), got {omega.shape}")
    if not np.all(np.isfinite(omega)) or not np.allclose(np.diag(omega), 1.0):
        raise ValueError("ownership must be finite with a unit diagonal (Omega_jj = 1)")
    return omega


class _ZetaMap:
    """The zeta-markup map ``p -> c + zeta(p)`` of one pricing problem.

    Products are held in an order where nests and firm-nest cells are contiguous, so the group
    sums of the inner loop need no gathers; arrays are product-major (J, G). An evaluation runs
    through the compiled kernels of :mod:`openweight_sim._kernels` (a few fused passes over
    the (J, G) arrays plus numpy's vectorised exp/log) instead of some 60 small numpy
    operations; with a dense ownership matrix the firm and cell aggregates stay two (J, J)
    matrix products. Every evaluation is counted and the point with the smallest FOC residual
    seen so far is remembered, so the solver phases can hand over to each other and the best
    point is what gets returned.
    """

    def __init__(
        self,
        d: NDArray[np.float64],
        c: NDArray[np.float64],
        a: NDArray[np.float64],
        w: NDArray[np.float64],
        strategic: NDArray[np.bool_],
        cap: NDArray[np.float64] | None,
        nest_code: NDArray[np.intp],
        firm_code: NDArray[np.intp],
        omega: NDArray[np.float64] | None,
        sigma: float,
        log_price: bool,
    ) -> None:
        n_seg, n_prod = d.shape
        self.nested = sigma > 0.0
        if self.nested:
            perm = np.lexsort((firm_code, nest_code))
        else:
            perm = np.argsort(firm_code if omega is None else nest_code, kind="stable")
        self.perm, self.inv = perm, np.argsort(perm)
        self.nests = _Groups.from_ids(nest_code[perm], n_prod)
        firms = _Groups.from_ids(firm_code[perm], n_prod)
        cells = _Groups.from_ids(nest_code[perm] * (n_prod + 1) + firm_code[perm], n_prod)
        self.d = np.ascontiguousarray(d.T[perm])  # (J, G), -inf where unavailable
        self.c, self.strategic = c[perm], strategic[perm]
        self.cap = None if cap is None else cap[perm]
        self.omega = omega
        if omega is None:
            self.agg_firm, self.agg_cell = firms.sum_back, cells.sum_back
        else:
            omega_p = omega[np.ix_(perm, perm)]
            omega_nest_p = omega_p * (self.nests.code[:, None] == self.nests.code[None, :])
            self.agg_firm = lambda x: omega_p @ x
            self.agg_cell = lambda x: omega_nest_p @ x
        self.a, self.w, self.sigma, self.log_price = a, w, sigma, log_price
        self.wa = w * a
        self.wq = np.stack([self.wa, w], axis=1)
        self.w_total = float(w.sum())
        self.u_buf = np.empty((n_prod, n_seg))
        self.x_buf = np.empty((n_prod, n_seg))
        # compiled path (openweight_sim._kernels): utilities pre-divided by 1 - sigma, nests
        # as contiguous runs, work arrays allocated once per problem
        self.compiled = n_prod > 0
        if self.compiled:
            scale = 1.0 / (1.0 - sigma) if self.nested else 1.0
            self.d_scaled = self.d * scale
            self.a_scaled = a * scale
            n_nests = self.nests.n_groups if self.nested else 1
            self.nest_bounds = (
                np.append(self.nests.starts, n_prod) if self.nested else np.array([0, n_prod])
            ).astype(np.intp)
            self.firm_of, self.n_firms = firms.code, firms.n_groups
            self.cell_of, self.n_cells = cells.code, cells.n_groups
            self.cond_buf = np.empty((n_prod, n_seg))
            self.big_t, self.big_l, self.q = np.empty(n_prod), np.empty(n_prod), np.empty(n_prod)
            self.nest_top = np.empty((n_nests, n_seg))
            self.nest_total = np.empty((n_nests, n_seg))
            self.nest_log = np.zeros((n_nests, n_seg))
            self.nest_term = np.empty((n_nests, n_seg))
            self.top = np.empty(n_seg)
        # products without demand even when everything sells at cost (demand underflows) can
        # never earn anything: price them at cost like products nobody can buy
        at_cost, _ = self.shares(self.c, self.x_buf)
        self.strategic = self.strategic & (at_cost @ self.wa > 0)
        self.evaluations = 0
        self.best_res = np.inf
        self.best_p = self.clip(self.c.copy())
        self.best_at = 0

    def clip(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """Put non-strategic products at cost and strategic ones at or below the cap."""
        p = np.where(self.strategic, p, self.c)
        if self.cap is not None:
            p = np.where(self.strategic, np.minimum(p, self.cap), p)
        return p

    def valid(self, p: NDArray[np.float64]) -> bool:
        """Whether demand can be evaluated at ``p``."""
        if self.compiled:
            return _kernels.valid_prices(np.ascontiguousarray(p, dtype=float), self.log_price)
        return bool(np.all(np.isfinite(p)) and (not self.log_price or np.all(p > 0)))

    def shares(self, p: NDArray[np.float64], out: NDArray[np.float64]) -> Any:
        """Choice probabilities (J, G) and within-nest probabilities at prices ``p``.

        The shares are written to ``out``; the within-nest probabilities (``None`` for plain
        logit) live in a work buffer that the next evaluation overwrites.
        """
        fp = np.log(p) if self.log_price else np.ascontiguousarray(p, dtype=float)
        if not self.compiled:
            np.multiply(fp[:, None], self.a[None, :], out=out)
            np.subtract(self.d, out, out=out)
            shares, cond, _ = _choice(out, self.nests, self.sigma)
            return shares, cond
        e = self.u_buf
        _kernels.shifted_utilities(
            self.d_scaled, self.a_scaled, fp, self.nest_bounds, self.nested, e, self.nest_top
        )
        np.exp(e, out=e)
        if not self.nested:
            _kernels.plain_shares(e, np.exp(-self.nest_top[0]), out)
            return out, None
        total, log_total, term = self.nest_total, self.nest_log, self.nest_term
        _kernels.nest_sums(e, self.nest_bounds, total, log_total)
        np.log(log_total, out=log_total)
        _kernels.nest_logits(self.nest_top, total, log_total, self.sigma, term, self.top)
        np.exp(term, out=term)
        outside = np.exp(-self.top)
        _kernels.nested_shares(e, total, term, outside, self.nest_bounds, out, self.cond_buf)
        return out, self.cond_buf

    def _aggregate_terms(
        self,
        shares: NDArray[np.float64],
        cond: NDArray[np.float64] | None,
        p: NDArray[np.float64],
        kappa: float,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Demand terms ``big_t``, ``big_l``, ``q`` in numpy, via ``agg_firm`` and ``agg_cell``.

        Used with a dense ownership matrix (two (J, J) products) and by the numpy reference
        path; :func:`openweight_sim._kernels.demand_terms` computes the same for firm ids.
        """
        x = np.multiply(shares, np.where(self.strategic, p - self.c, 0.0)[:, None])
        big_t = np.einsum("jg,jg,g->j", self.agg_firm(x), shares, self.wa)
        if self.nested:
            big_t += kappa * np.einsum("jg,jg,g->j", self.agg_cell(x), cond, self.wa)
        big_l, q = (shares @ self.wq).T
        return big_t, big_l, q

    def __call__(self, p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Evaluate at ``p``: return ``c + zeta(p)`` (clipped) and the signed FOC residual.

        The residual ``Lambda (p - c - zeta) / sum(w)`` is ``-dProfit_j/dp_j`` of the owner,
        per unit of weight; it is 0 for non-strategic products and for capped products that
        would like to price above the cap.
        """
        shares, cond = self.shares(p, self.x_buf)
        kappa = self.sigma / (1.0 - self.sigma) if self.nested else 0.0
        # big_t = -(Omega o Gamma^T)(p - c) / b_j and big_l = -(1 - sigma) Lambda / b_j, where
        # a_gj = -alpha_g b_j with b_j = 1 (linear) or 1 / p_j (log price)
        if self.compiled:
            p = np.ascontiguousarray(p, dtype=float)
            big_t, big_l, q = self.big_t, self.big_l, self.q
            if self.omega is None:
                _kernels.demand_terms(
                    shares,
                    shares if cond is None else cond,
                    p,
                    self.c,
                    self.strategic,
                    self.w,
                    self.wa,
                    self.firm_of,
                    self.n_firms,
                    self.cell_of,
                    self.n_cells,
                    kappa,
                    big_t,
                    big_l,
                    q,
                )
            else:
                big_t[:], big_l[:], q[:] = self._aggregate_terms(shares, cond, p, kappa)
            new_p, foc = np.empty_like(p), np.empty_like(p)
            res, runaway = _kernels.zeta_step(
                p,
                self.c,
                self.strategic,
                self.c if self.cap is None else self.cap,
                self.cap is not None,
                big_t,
                big_l,
                q,
                self.sigma,
                self.log_price,
                self.w_total,
                new_p,
                foc,
            )
        else:
            big_t, big_l, q = self._aggregate_terms(shares, cond, p, kappa)
            own = q * p if self.log_price else q  # Q_j / b_j
            zeta = np.zeros_like(p)
            ok = self.strategic & (big_l > 0)  # zero demand everywhere: price at cost
            np.divide((1.0 - self.sigma) * (big_t + own), big_l, out=zeta, where=ok)
            new_p = self.clip(self.c + zeta)
            lam = big_l / (1.0 - self.sigma)
            if self.log_price:
                lam = lam / p
            foc = np.where(self.strategic, lam * (p - new_p), 0.0) / self.w_total
            res = float(np.abs(foc).max()) if foc.size else 0.0
            runaway = bool(np.any(self.strategic & (big_l <= 0)))
        self.evaluations += 1
        # A strategic product whose demand has underflowed to zero has a zero FOC residual at
        # any price (Lambda_j = 0), so "prices ran away to infinity" would pass the stopping
        # rule (runaway); such points are never recorded as the solution.
        if not runaway and np.isfinite(res) and res < self.best_res:
            self.best_res, self.best_p = res, p.copy()
            self.best_at = self.evaluations
        return new_p, foc


_SQUAREM_SLACK = 10.0  # an extrapolated point may be this much worse than the plain iterate
_SQUAREM_PATIENCE = 100  # evaluations without a new best residual before SQUAREM is dropped
_PLAIN_PATIENCE = 100  # evaluations without a new best before plain iteration hands over
_PHASE_ONE_BUDGET = 500  # zeta-map evaluations before the Newton-type fallback


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
    zm: _ZetaMap, p: NDArray[np.float64], tol: float, budget: int, accelerate: bool
) -> None:
    """Phase 1: iterate the zeta map, with safeguarded SQUAREM acceleration.

    Stops when the residual is below ``tol``, after ``budget`` evaluations, or when plain
    iteration stops improving. Safeguards: an extrapolated point whose residual is far worse
    than the plain iterate's is dropped (resume from the plain iterate with the cautious
    step); SQUAREM is switched off after 3 such failures in a row or when it has not improved
    the best residual for a while (it can cycle where the plain map still converges).
    """
    step_max, use_squarem, rejections = 1.0, accelerate, 0
    pending: tuple[NDArray[np.float64], float] | None = None  # (plain iterate, its residual)
    while zm.evaluations < budget:
        p1, foc = zm(p)
        res = float(np.abs(foc).max()) if foc.size else 0.0
        if zm.best_res < tol:
            return
        if pending is not None:
            p_plain, res_plain = pending
            pending = None
            if zm.evaluations - zm.best_at > _SQUAREM_PATIENCE:
                use_squarem, p = False, zm.best_p
                continue
            if not (zm.valid(p1) and np.isfinite(res)) or res > _SQUAREM_SLACK * res_plain:
                rejections += 1
                step_max, use_squarem, p = 1.0, rejections < 3, p_plain
                continue
            rejections = 0
        if not (zm.valid(p1) and np.isfinite(res)):
            return
        if not use_squarem:
            if zm.evaluations - zm.best_at > _PLAIN_PATIENCE:
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
    accelerate: bool = True,
) -> Equilibrium:
    """Bertrand-Nash prices of differentiated products sold to G consumer segments.

    Why: hosts and labs set per-token prices strategically; the simulation needs their static
    pricing equilibrium every period, for demand that aggregates heterogeneous segments (a
    discrete-type mixed logit). Firm f maximises ``sum_{j in f} (p_j - c_j) Q_j(p)`` with
    ``Q_j = sum_g weight_g s_gj(p)``.

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
    a nest (~30/(1 - sigma) iterations); SQUAREM extrapolation (``accelerate=True``, pyblp's
    ``Iteration('squarem')``) removes that slow mode. With several segments and strong nesting
    the map can cycle instead of converging; if it has not converged after 500 evaluations
    (or stops improving) the FOCs are solved by a Newton-type method (MINPACK hybrid, finite
    difference Jacobian: J + 1 evaluations, several starts), then by damped iteration. The
    stopping rule is the same in every phase, ``iterations`` counts all evaluations, and
    points where a sellable product's demand underflowed to zero (a price running away to
    infinity makes its Lambda-weighted residual vanish) are never accepted. A point that
    satisfies the FOCs is a Nash equilibrium when profits are quasi-concave in own prices
    (always with one segment); with very heterogeneous segments and strong nesting, where
    best responses can cycle and no pure-strategy equilibrium exists, it is only a
    stationary point.

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
        accelerate: use SQUAREM extrapolation between plain zeta-map steps; ``False`` runs
            plain zeta iteration (pyblp's default ``'simple'``) until it stops improving.

    Returns:
        An :class:`Equilibrium` at the point with the smallest residual found; it does not
        raise on non-convergence, check ``converged``. Strategic products nobody can buy
        (zero demand everywhere) are priced at cost.

    Raises:
        ValueError: on inconsistent shapes or invalid parameters.
    """
    d, _ = _as_2d(delta)
    n_seg, n_prod = d.shape
    a = _alpha_vector(alpha, n_seg)
    s = _check_sigma(sigma)
    c = _vector(cost, n_prod, "cost")
    w = np.ones(n_seg) if weight is None else np.asarray(weight, dtype=float)
    if w.shape != (n_seg,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weight must have shape ({n_seg},), be finite, >= 0, sum > 0")
    avail = _availability(available, d.shape)
    fix = np.zeros(n_prod, bool) if fixed is None else np.asarray(fixed, dtype=bool)
    if fix.shape != (n_prod,):
        raise ValueError(f"fixed must have shape ({n_prod},), got {fix.shape}")
    if not np.all(np.isfinite(d if avail is None else d[avail])):
        raise ValueError("delta must be finite for available products")
    if log_price and np.any(c <= 0):
        raise ValueError("log_price=True requires strictly positive marginal costs")
    if max_iter < 1 or not tol > 0:
        raise ValueError("max_iter must be >= 1 and tol > 0")
    cap = None if price_cap is None else _vector(price_cap, n_prod, "price_cap")
    if log_price and cap is not None and np.any(cap <= 0):
        raise ValueError("price_cap must be positive with log price")
    if initial_prices is None:
        p_init = c.copy()
    else:
        p_init = _vector(initial_prices, n_prod, "initial_prices")
        if log_price and np.any(p_init <= 0):
            raise ValueError("initial_prices must be positive with log price")
    nests = _Groups.from_ids(nest, n_prod)
    sigma_eff = s if not nests.all_singletons else 0.0
    omega = None if ownership is None else _dense_ownership(ownership, n_prod)

    # products that somebody with positive weight can buy; the rest are priced at cost
    reach = np.broadcast_to(
        (w > 0)[:, None] if avail is None else avail & (w > 0)[:, None], d.shape
    )
    strategic = ~fix & reach.any(axis=0)
    if log_price and cap is None and np.any(strategic):
        buyers = reach[:, strategic].any(axis=1)
        if np.any(a[buyers] <= 1.0):
            raise ValueError(
                "with log_price every segment that can buy needs alpha > 1 (elastic demand); "
                "otherwise profit grows without bound as prices rise: pass price_cap"
            )

    zm = _ZetaMap(
        d if avail is None else np.where(avail, d, -np.inf),
        c,
        a,
        w,
        strategic,
        cap,
        nests.code,
        _Groups.from_ids(firm, n_prod).code,
        omega,
        sigma_eff,
        log_price,
    )
    phase_one = min(max_iter, _PHASE_ONE_BUDGET) if accelerate else max_iter
    _zeta_iteration(zm, zm.clip(p_init[zm.perm]), tol, phase_one, accelerate)
    if zm.best_res >= tol and zm.evaluations < max_iter:
        _newton_fallback(zm, tol, max_iter)
    if zm.best_res >= tol and zm.evaluations < max_iter:
        _damped_iteration(zm, tol, max_iter)

    p = zm.best_p
    shares, _ = zm.shares(p, np.empty((n_prod, n_seg)))
    inv = zm.inv
    return Equilibrium(
        prices=p[inv],
        shares=shares.T[:, inv].copy(),
        markups=np.where(zm.strategic, p - zm.c, 0.0)[inv],
        converged=bool(zm.best_res < tol),
        iterations=zm.evaluations,
        residual=zm.best_res,
        demand=(shares @ w)[inv],
    )


def warm_up() -> None:
    """Load the solver's compiled kernels (:mod:`openweight_sim._kernels`) now.

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


# --------------------------------------------------------------------------------------------
# Costs
# --------------------------------------------------------------------------------------------


def serving_cost(
    gpu_price_per_hour: ArrayLike,
    active_params: ArrayLike,
    total_params: ArrayLike | None = None,
    *,
    efficiency: ArrayLike = 1.0,
    utilization: ArrayLike = 0.4,
    ref_throughput: float = 1600.0,
    ref_active_params: float = 70e9,
    size_exponent: float = 1.0,
    moe_penalty: float = 0.17,
) -> float | NDArray[np.float64]:
    """Marginal cost of serving a model, in USD per million output tokens.

    Why: hosts compete on price down to this cost, so it anchors every open-weight price.
    Throughput per GPU is
    ``ref_throughput * efficiency * (ref_active_params / active)**size_exponent
    * leverage**(-moe_penalty)`` tokens/s, with ``leverage = total / active`` (1 for a dense
    model), and cost is ``gpu_price / (throughput * 3600) * 1e6 / utilization``.

    Calibration: ``ref_throughput = 1600`` tok/s is a dense 70B model on one H100 in 2024
    (NVIDIA reports 3014 tok/s for Llama-2-70B on H200 with TensorRT-LLM; H200 is about 1.9x
    an H100 on this workload, 3014 / 1.9 ~ 1600). ``moe_penalty = 0.17 = ln(3027/1850) /
    ln(671/37)`` comes from DeepSeek-V3 (37B active, 671B total) serving about 1850 tok/s per
    GPU against the ``1600 * 70/37 = 3027`` a dense 37B model would get: a mixture-of-experts
    model pays for the memory traffic of its total parameters, not only its active ones.

    Args:
        gpu_price_per_hour: rental price of one GPU (USD/hour).
        active_params: parameters active per token.
        total_params: total parameters (mixture of experts); ``None`` for a dense model.
        efficiency: software/hardware efficiency multiplier relative to the 2024 reference.
        utilization: fraction of GPU time that is billed (idle capacity raises unit cost).
        ref_throughput: reference throughput (tokens/s per GPU).
        ref_active_params: parameter count of the reference model.
        size_exponent: elasticity of throughput with respect to model size.
        moe_penalty: elasticity of throughput with respect to total/active leverage.

    Returns:
        USD per million tokens; a float for scalar inputs, else an array.
    """
    price = np.asarray(gpu_price_per_hour, dtype=float)
    active = np.asarray(active_params, dtype=float)
    if np.any(active <= 0):
        raise ValueError("active_params must be > 0")
    leverage = 1.0 if total_params is None else np.asarray(total_params, dtype=float) / active
    if np.any(np.asarray(leverage) < 1.0):
        raise ValueError("total_params must be >= active_params")
    if np.any(np.asarray(utilization) <= 0) or np.any(np.asarray(efficiency) <= 0):
        raise ValueError("utilization and efficiency must be > 0")
    throughput = (
        ref_throughput
        * np.asarray(efficiency, dtype=float)
        * (ref_active_params / active) ** size_exponent
        * np.power(leverage, -moe_penalty)
    )
    cost = price / (throughput * 3600.0) * 1e6 / np.asarray(utilization, dtype=float)
    return float(cost) if np.ndim(cost) == 0 else cost


# --------------------------------------------------------------------------------------------
# Diffusion and switching
# --------------------------------------------------------------------------------------------


def bass_fraction(t: ArrayLike, p: ArrayLike, q: ArrayLike) -> NDArray[np.float64] | float:
    """Bass (1969) cumulative adoption fraction ``(1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t})``.

    Why: adoption of a new capability (or of open weights by enterprises) follows innovation
    (p) plus imitation (q); the closed form gives the share adopted after t years from zero.
    Written as ``p (1 - E) / (p + q E)`` so that p = 0 (no innovators: nobody ever starts)
    is well defined.

    Args:
        t: time since launch in years (>= 0).
        p: coefficient of innovation per year (>= 0).
        q: coefficient of imitation per year (>= 0).

    Returns:
        Fraction adopted in [0, 1], broadcast over the inputs.
    """
    t_, p_, q_ = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (t, p, q)))
    e = np.exp(-(p_ + q_) * t_)
    num = p_ * (1.0 - e)
    den = p_ + q_ * e
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


def bass_step(
    F: ArrayLike, p: ArrayLike, q: ArrayLike, dt: float = 0.25
) -> NDArray[np.float64] | float:
    """Advance a Bass adoption fraction exactly by ``dt`` years.

    Why: agents adopt period by period (a quarter is dt = 0.25) and the market may change p and
    q between periods, so the model needs the exact one-step flow of the Bass ODE
    ``dF/dt = (p + qF)(1 - F)``, not an Euler step. With ``K = (p + qF)/(1 - F)`` and
    ``E = K e^{(p+q)dt}``, the new fraction is ``(E - p)/(E + q) = 1 - (p + q)/(E + q)``;
    iterating from 0 reproduces :func:`bass_fraction` to rounding error.

    Args:
        F: current adoption fraction(s) in [0, 1].
        p: coefficient of innovation per year.
        q: coefficient of imitation per year.
        dt: step length in years.

    Returns:
        The fraction after ``dt``, broadcast over the inputs.
    """
    f_, p_, q_ = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (F, p, q)))
    b = p_ + q_
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = (p_ + q_ * f_) / (1.0 - f_)
        e = k * np.exp(b * dt)
        out = 1.0 - b / (e + q_)
    out = np.where(f_ >= 1.0, 1.0, out)
    out = np.where(b > 0, out, f_)
    return float(out) if out.ndim == 0 else out


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


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


def sample_choices(prob: ArrayLike, group: ArrayLike, uniforms: ArrayLike) -> NDArray[np.intp]:
    """Vectorised categorical draws for N individuals in G groups.

    Why: the agent-based layer draws thousands of individual choices per period from a few
    segment-level probability rows; a per-individual loop would dominate the run time. The
    row cumulative sums are offset by the row index (row g lives in [g, g + 1]) and flattened,
    so one ``searchsorted`` of ``u_i + group_i`` finds every draw; memory is O(G*K + N).

    Args:
        prob: (G, K) probabilities; rows sum to at most 1 up to rounding. Any remainder
            ``1 - sum`` goes to the last category.
        group: (N,) group index of every individual.
        uniforms: (N,) uniform draws in [0, 1).

    Returns:
        (N,) category index k with ``cumsum(prob[g])[k-1] <= u < cumsum(prob[g])[k]``,
        clipped to K - 1.
    """
    pr = np.asarray(prob, dtype=float)
    if pr.ndim != 2 or pr.shape[1] == 0:
        raise ValueError(f"prob must have shape (G, K) with K >= 1, got {pr.shape}")
    g = np.asarray(group)
    u = np.asarray(uniforms, dtype=float)
    if g.shape != u.shape or g.ndim != 1:
        raise ValueError("group and uniforms must be one-dimensional with the same length")
    n_groups, n_cat = pr.shape
    if g.size and (g.min() < 0 or g.max() >= n_groups):
        raise ValueError("group indices out of range")
    # clipping keeps the flattened array sorted even when a row sums to 1 + rounding
    cum = np.clip(np.cumsum(np.maximum(pr, 0.0), axis=1), 0.0, 1.0)
    cum += np.arange(n_groups, dtype=float)[:, None]
    idx = np.searchsorted(cum.ravel(), u + g, side="right")
    return np.minimum(idx - g.astype(np.intp) * n_cat, n_cat - 1).astype(np.intp)

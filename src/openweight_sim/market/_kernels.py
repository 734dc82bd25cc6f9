"""Compiled (numba) loops of the pricing solver's inner evaluation and of categorical draws.

Why: every quarter the model solves two pricing equilibria of J ~ 5-100 products and
G ~ 5-250 developer groups, with 25-100 evaluations of the zeta-markup map each. Written with
numpy, one evaluation was some 60 operations on (J, G) and (nests, G) arrays: too small for
numpy's per-call overhead to vanish, and group sums and maxima over a few rows at a time
(``reduceat``) are slow. The solver kernels fuse the cheap arithmetic into a few passes over
the (J, G) product-major arrays, vectorised over groups; the exponentials and logarithms stay
in numpy, whose vectorised ``exp``/``log`` are several times faster than the scalar ones a
compiled loop calls. The formulas are those of :func:`openweight_sim.market.demand._choice`
and ``_ZetaMap.__call__``; only the order of floating-point operations differs (round-off).

:func:`draw_category` is the one implementation of a categorical draw from offset cumulative
shares, used by :func:`openweight_sim.market.sample_choices` and by the developers' choice
kernel of the model.

The kernels are compiled on first use and cached on disk (see :mod:`._jit`).
"""

from __future__ import annotations

import numpy as np

from openweight_sim.market._jit import njit


@njit(cache=True, nogil=True)
def shifted_utilities(
    d: np.ndarray,
    a: np.ndarray,
    fp: np.ndarray,
    nest_bounds: np.ndarray,
    nested: bool,
    v: np.ndarray,
    top: np.ndarray,
) -> None:
    """Utilities ``d_jg - a_g fp_j`` minus their maximum, the argument of every exponential.

    Nested: the maximum is per nest and group (0 for a nest with nothing available), written
    to ``top[n, g]``. Plain logit: the maximum is per group over all products and the outside
    option (utility 0), written to ``top[0, g]``.

    Args:
        d: mean utilities (J, G), ``-inf`` where unavailable (divided by 1 - sigma if nested).
        a: price coefficient per group (G,) (divided by 1 - sigma if nested).
        fp: price term per product (J,).
        nest_bounds: (N + 1,) first product of every nest, then J (ignored if not nested).
        nested: nested logit (True) or plain logit.
        v: output (J, G).
        top: output (N, G) if nested, else (1, G).
    """
    n_prod, n_seg = d.shape
    if nested:
        for n in range(nest_bounds.size - 1):
            lo, hi = nest_bounds[n], nest_bounds[n + 1]
            for g in range(n_seg):
                top[n, g] = -np.inf
            for j in range(lo, hi):
                f = fp[j]
                for g in range(n_seg):
                    x = d[j, g] - f * a[g]
                    v[j, g] = x
                    t = top[n, g]
                    top[n, g] = x if x > t else t
            for g in range(n_seg):
                if top[n, g] == -np.inf:  # nothing available in this nest
                    top[n, g] = 0.0
            for j in range(lo, hi):
                for g in range(n_seg):
                    v[j, g] -= top[n, g]
    else:
        for g in range(n_seg):
            top[0, g] = 0.0  # the outside option
        for j in range(n_prod):
            f = fp[j]
            for g in range(n_seg):
                x = d[j, g] - f * a[g]
                v[j, g] = x
                t = top[0, g]
                top[0, g] = x if x > t else t
        for j in range(n_prod):
            for g in range(n_seg):
                v[j, g] -= top[0, g]


@njit(cache=True, nogil=True)
def nest_sums(e: np.ndarray, nest_bounds: np.ndarray, out: np.ndarray, log_arg: np.ndarray) -> None:
    """Sum of ``e`` (J, G) over the products of every nest (contiguous runs): ``out`` (N, G).

    ``log_arg`` receives the sums with 0 (empty nest) replaced by 1, ready for an unmasked
    ``np.log``.
    """
    n_seg = e.shape[1]
    for n in range(nest_bounds.size - 1):
        for g in range(n_seg):
            out[n, g] = 0.0
        for j in range(nest_bounds[n], nest_bounds[n + 1]):
            for g in range(n_seg):
                out[n, g] += e[j, g]
        for g in range(n_seg):
            t = out[n, g]
            log_arg[n, g] = t if t > 0.0 else 1.0


@njit(cache=True, nogil=True)
def nest_logits(
    top: np.ndarray,
    total: np.ndarray,
    log_total: np.ndarray,
    sigma: float,
    out: np.ndarray,
    top_all: np.ndarray,
) -> None:
    """Inclusive values ``I = (1 - sigma)(top + ln total)`` less their maximum over nests.

    ``out[n, g] = I_ng - T_g`` (``-inf`` for an empty nest, ``total == 0``) with
    ``T_g = max(0, max_n I_ng)`` written to ``top_all``; the 0 is the outside option.
    """
    n_nests, n_seg = top.shape
    for g in range(n_seg):
        top_all[g] = 0.0
    for n in range(n_nests):
        for g in range(n_seg):
            empty = total[n, g] <= 0.0
            x = -np.inf if empty else (1.0 - sigma) * (top[n, g] + log_total[n, g])
            out[n, g] = x
            t = top_all[g]
            top_all[g] = x if x > t else t
    for n in range(n_nests):
        for g in range(n_seg):
            out[n, g] -= top_all[g]


@njit(cache=True, nogil=True)
def nested_shares(
    e: np.ndarray,
    total: np.ndarray,
    en: np.ndarray,
    outside: np.ndarray,
    nest_bounds: np.ndarray,
    shares: np.ndarray,
    cond: np.ndarray,
) -> None:
    """Nested-logit shares from the exponentials (J, G), nest sums and nest terms (N, G).

    ``cond = e / total`` (within-nest probabilities; a nest with ``total == 0`` divides by 1)
    and ``shares = cond * en / (outside + sum_n en)``; ``outside`` is ``exp(-T_g)`` (G,).
    Divisions are multiplications by per-nest reciprocals, so that the (J, G) loops vectorise.
    """
    n_nests, n_seg = en.shape
    denom = outside.copy()
    for n in range(n_nests):
        for g in range(n_seg):
            denom[g] += en[n, g]
    inv_total = np.empty(n_seg)
    prob = np.empty(n_seg)
    for n in range(n_nests):
        for g in range(n_seg):
            t = total[n, g]
            inv_total[g] = 1.0 / t if t != 0.0 else 1.0
            prob[g] = en[n, g] / denom[g] * inv_total[g]
        for j in range(nest_bounds[n], nest_bounds[n + 1]):
            e_j, cond_j, shares_j = e[j], cond[j], shares[j]
            for g in range(n_seg):
                cond_j[g] = e_j[g] * inv_total[g]
                shares_j[g] = e_j[g] * prob[g]


@njit(cache=True, nogil=True)
def plain_shares(e: np.ndarray, outside: np.ndarray, shares: np.ndarray) -> None:
    """Plain-logit shares ``e / (outside + sum_j e)`` from the exponentials (J, G)."""
    n_prod, n_seg = e.shape
    denom = outside.copy()
    for j in range(n_prod):
        for g in range(n_seg):
            denom[g] += e[j, g]
    for j in range(n_prod):
        for g in range(n_seg):
            shares[j, g] = e[j, g] / denom[g]


@njit(cache=True, nogil=True)
def zeta_step(
    p: np.ndarray,
    c: np.ndarray,
    strategic: np.ndarray,
    cap: np.ndarray,
    has_cap: bool,
    big_t: np.ndarray,
    big_l: np.ndarray,
    q: np.ndarray,
    sigma: float,
    log_price: bool,
    w_total: float,
    new_p: np.ndarray,
    foc: np.ndarray,
) -> tuple[float, bool]:
    """The zeta-map update and FOC residual from the demand terms (all (J,) vectors).

    ``zeta = (1 - sigma)(big_t + Q/b) / big_l`` (0 where ``big_l <= 0``), ``new_p = c + zeta``
    capped at ``cap`` for strategic products and ``c`` for the others, and
    ``foc = Lambda (p - new_p) / w_total`` with ``Lambda = big_l / (1 - sigma)`` (divided by
    ``p`` with log price), 0 for non-strategic products.

    Returns:
        The max-norm of ``foc`` (NaN if any entry is NaN, as ``np.max``) and whether a
        strategic product has no demand (``big_l <= 0``).
    """
    res = 0.0
    has_nan = False
    runaway = False
    for j in range(p.size):
        if strategic[j]:
            bl = big_l[j]
            own = q[j] * p[j] if log_price else q[j]
            zeta = (1.0 - sigma) * (big_t[j] + own) / bl if bl > 0.0 else 0.0
            x = c[j] + zeta
            if has_cap and cap[j] < x:
                x = cap[j]
            lam = bl / (1.0 - sigma)
            if log_price:
                lam = lam / p[j]
            f = lam * (p[j] - x) / w_total
            if bl <= 0.0:
                runaway = True
        else:
            x = c[j]
            f = 0.0
        new_p[j] = x
        foc[j] = f
        size = abs(f)
        if size != size:
            has_nan = True
        elif size > res:
            res = size
    return (np.nan if has_nan else res), runaway


@njit(cache=True, nogil=True)
def valid_prices(p: np.ndarray, log_price: bool) -> bool:
    """Whether every price is finite (and positive with log price)."""
    ok = True
    for i in range(p.size):
        x = p[i]
        if not np.isfinite(x) or (log_price and not x > 0.0):
            ok = False
            break
    return ok


@njit(cache=True, nogil=True)
def demand_terms(
    shares: np.ndarray,
    cond: np.ndarray,
    p: np.ndarray,
    c: np.ndarray,
    strategic: np.ndarray,
    w: np.ndarray,
    wa: np.ndarray,
    firm_of: np.ndarray,
    n_firms: int,
    cell_of: np.ndarray,
    n_cells: int,
    kappa: float,
    big_t: np.ndarray,
    big_l: np.ndarray,
    q: np.ndarray,
) -> None:
    """The zeta map's demand terms for firm-id ownership, from the shares (J, G).

    With markups ``m_k = p_k - c_k`` (0 for non-strategic products), ``x_gk = s_gk m_k``, and
    ``F`` and ``C`` the sums of ``x`` over the firm and the firm-nest cell of product j:

    * ``big_t_j = sum_g wa_g (s_gj F + kappa s_{g,j|n} C)`` (``kappa = sigma/(1 - sigma)``, 0
      for plain logit, when ``cond`` is not read), i.e. ``-(Omega o Gamma^T)(p - c) / b_j``;
    * ``big_l_j = sum_g wa_g s_gj`` and ``q_j = sum_g w_g s_gj``.

    Sums run in a fixed order (no fast-math reassociation), so results do not depend on the
    CPU the kernel was compiled for.
    """
    n_prod, n_seg = shares.shape
    firm_sum = np.zeros((n_firms, n_seg))
    cell_sum = np.zeros((n_cells, n_seg))
    nested = kappa != 0.0
    for j in range(n_prod):
        if not strategic[j]:
            continue
        m = p[j] - c[j]
        f, cell = firm_of[j], cell_of[j]
        for g in range(n_seg):
            x = shares[j, g] * m
            firm_sum[f, g] += x
            if nested:
                cell_sum[cell, g] += x
    for j in range(n_prod):
        f, cell = firm_of[j], cell_of[j]
        t = 0.0
        lam = 0.0
        qj = 0.0
        for g in range(n_seg):
            s = shares[j, g]
            term = s * firm_sum[f, g]
            if nested:
                term += kappa * (cond[j, g] * cell_sum[cell, g])
            t += wa[g] * term
            lam += wa[g] * s
            qj += w[g] * s
        big_t[j] = t
        big_l[j] = lam
        q[j] = qj


@njit(cache=True, nogil=True)
def _search_right(flat: np.ndarray, key: float, lo: int, hi: int) -> int:
    """First index in ``[lo, hi)`` with ``flat[i] > key`` (``hi`` if none); ``flat`` sorted."""
    while lo < hi:
        mid = (lo + hi) // 2
        if flat[mid] > key:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True, nogil=True)
def draw_category(cum: np.ndarray, n_cat: int, g: int, u: float) -> int:
    """One categorical draw from row ``g`` of the flattened offset cumulative shares ``cum``.

    Row g of ``cum`` (positions ``g * n_cat`` to ``(g + 1) * n_cat``) holds the cumulative
    shares of group g plus g, so the pick is the first category whose entry exceeds
    ``u + g``, found by bisection within the row; if rounding puts the key past the row's end
    the pick is the last category.
    """
    lo = g * n_cat
    idx = _search_right(cum, u + g, lo, lo + n_cat)
    return min(idx - lo, n_cat - 1)


@njit(cache=True, nogil=True)
def draw_categories(
    cum: np.ndarray, n_cat: int, group: np.ndarray, uniforms: np.ndarray, out: np.ndarray
) -> None:
    """:func:`draw_category` for every individual: ``out[i]`` from row ``group[i]``."""
    for i in range(group.size):
        out[i] = draw_category(cum, n_cat, group[i], uniforms[i])

"""Compiled (numba) loops of the simulation's hot path: the pricing solver and the developers.

Why: every quarter the model solves two pricing equilibria of J ~ 5-100 products and
G ~ 5-250 developer groups, with 25-100 evaluations of the zeta-markup map each. Written with
numpy, one evaluation was some 60 operations on (J, G) and (nests, G) arrays: too small for
numpy's per-call overhead to vanish, and group sums and maxima over a few rows at a time
(``reduceat``) are slow. The solver kernels fuse the cheap arithmetic into a few passes over
the (J, G) product-major arrays, vectorised over groups; the exponentials and logarithms stay
in numpy, whose vectorised ``exp``/``log`` are several times faster than the scalar ones a
compiled loop calls. The formulas are those of :func:`openweight_sim.market._choice` and
``_ZetaMap.__call__``; only the order of floating-point operations differs (round-off).

The per-developer steps of a quarter (grouping, re-optimisation and draws, settlement,
accounting) were a few dozen array operations over up to a million rows each; their kernels
do the same arithmetic in one or two passes, in the same order, with the same random draws
(drawn by the model's numpy Generator), so their results are identical to the array code's.

The kernels are compiled on first use and cached on disk (``cache=True``): the first run after
installation (or after this file changes) compiles them, a few seconds; later processes load
them in about 0.2 s, which a model does in its set-up.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit as _numba_njit


def _cache_dirs() -> list[str | Path | None]:
    """Where numba may keep this module's cache: ``NUMBA_CACHE_DIR``, next to it, user-wide."""
    user = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "numba"
    return [os.environ.get("NUMBA_CACHE_DIR"), Path(__file__).parent / "__pycache__", user]


def _cache_writable(candidates: list[str | Path | None] | None = None) -> bool:
    """Whether numba can write its on-disk cache for this module.

    Why: with ``cache=True`` numba raises at decoration time ("no locator available") when
    neither ``__pycache__`` next to this file, nor ``NUMBA_CACHE_DIR``, nor the user's cache
    directory is writable (a read-only install in a container). The package must still
    import there; it then compiles the kernels once per process instead.

    Args:
        candidates: directories to try (default :func:`_cache_dirs`).
    """
    for cand in _cache_dirs() if candidates is None else candidates:
        if not cand:
            continue
        path = Path(cand)
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                return True
        except OSError:
            continue
    return False


_CACHE = _cache_writable()


def njit(**options: Any) -> Any:
    """Numba's ``njit`` with the on-disk cache when it can be written (see above)."""
    return _numba_njit(**{**options, "cache": options.get("cache", False) and _CACHE})


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
def choose_options(
    rows: np.ndarray,
    group: np.ndarray,
    cur_col: np.ndarray,
    draw: np.ndarray,
    uniforms: np.ndarray,
    reoptimize_rate: float,
    choosers: np.ndarray,
    cum: np.ndarray,
    n_cat: int,
    option_lab: np.ndarray,
    option_key: np.ndarray,
    no_choice: int,
    outside: int,
    choice: np.ndarray,
    lab: np.ndarray,
    finetuned: np.ndarray,
    col: np.ndarray,
) -> None:
    """Re-optimisation and categorical draws of the developers ``rows``; updates their state.

    A developer chooses if forced (no option yet, or its option vanished: ``choice >= 0`` and
    ``cur_col < 0``) or if ``draw < reoptimize_rate``, and only where ``choosers``. Its pick is
    exactly :func:`openweight_sim.market.sample_choices` on ``cum`` (the row cumulative sums
    offset by the group index, flattened): the first category whose offset cumulative share
    exceeds ``uniform + group``, found by bisection within the group's row; if rounding puts
    the key past the row's end the pick is the last category, as the clamp in
    ``sample_choices`` makes it. A pick below ``n_cat - 1`` is an
    option (column), the last category the outside option. ``col`` receives every
    developer's option column after the choice (-1 for none).
    """
    n_options = n_cat - 1
    for i in range(rows.size):
        r = rows[i]
        c = cur_col[i]
        old = choice[r]
        forced = old == no_choice or (old >= 0 and c < 0)
        if (forced or draw[i] < reoptimize_rate) and choosers[i]:
            g = group[i]
            lo = g * n_cat
            idx = _search_right(cum, uniforms[i] + g, lo, lo + n_cat)
            pick = min(idx - lo, n_cat - 1)  # a key past the row's end: the last category
            old_lab = lab[r]
            if pick < n_options:
                new_lab = option_lab[pick]
                choice[r] = option_key[pick]
                c = pick
            else:
                new_lab = old_lab
                choice[r] = outside
                c = -1
            finetuned[r] = finetuned[r] and new_lab == old_lab  # a new family loses the tune
            lab[r] = new_lab
        col[i] = c


@njit(cache=True, nogil=True)
def settle_quarter(
    rows: np.ndarray,
    col: np.ndarray,
    tune_draw: np.ndarray,
    finetune_rate: float,
    adopted: np.ndarray,
    segment: np.ndarray,
    price_table: np.ndarray,
    response: np.ndarray,
    base_tokens: np.ndarray,
    token_factor: float,
    finetuned: np.ndarray,
    price_paid: np.ndarray,
    tokens: np.ndarray,
) -> None:
    """Fine-tuning, price paid and tokens of the quarter after the developers' choice.

    The k-th developer on a model (``col >= 0``, in row order) fine-tunes if
    ``tune_draw[k] < finetune_rate``. Rows that have not adopted buy nothing (``col`` set to
    -1). Price paid and tokens (``base_tokens * token_factor * response``) come from the
    segment x option tables, whose last column (no option) holds NaN and 0; developers not
    in ``rows`` get NaN and 0.
    """
    price_paid[:] = np.nan
    tokens[:] = 0.0
    k = 0
    n_none = price_table.shape[1] - 1
    for i in range(rows.size):
        r = rows[i]
        c = col[i]
        if c >= 0:
            if tune_draw[k] < finetune_rate:
                finetuned[r] = True
            k += 1
        if not adopted[r]:
            c = -1
            col[i] = -1
        s = segment[r]
        j = c if c >= 0 else n_none
        price_paid[r] = price_table[s, j]
        tokens[r] = base_tokens[r] * token_factor * response[s, j]


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
def group_developers(
    rows: np.ndarray,
    choice: np.ndarray,
    col_of_key: np.ndarray,
    segment: np.ndarray,
    lab: np.ndarray,
    finetuned: np.ndarray,
    n_options: int,
    n_labs: int,
    n_codes: int,
    base_tokens: np.ndarray,
    token_factor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group the developers ``rows`` by (segment, current option column, lab, fine-tuned).

    The group code is ``((segment * (J + 1) + col + 1) * (L + 1) + lab + 1) * 2 + finetuned``
    (``col = col_of_key[choice]``, negative keys index the trailing -1 slots); groups are
    numbered in increasing code order. Expected tokens (``base_tokens * token_factor``) are
    summed per group in row order, as ``np.bincount`` does.

    Returns:
        ``(cur_col, inverse, codes, tokens)``: each row's option column and group, each
        group's code, and each group's expected tokens.
    """
    n = rows.size
    cur_col = np.empty(n, dtype=np.int64)
    code = np.empty(n, dtype=np.int64)
    counts = np.zeros(n_codes, dtype=np.int64)
    for i in range(n):
        r = rows[i]
        col = col_of_key[choice[r]]
        cur_col[i] = col
        k = np.int64(segment[r]) * (n_options + 1) + (col + 1)
        k = (k * (n_labs + 1) + (np.int64(lab[r]) + 1)) * 2 + (1 if finetuned[r] else 0)
        code[i] = k
        counts[k] += 1
    remap = np.full(n_codes, -1, dtype=np.int64)
    n_groups = 0
    for k in range(n_codes):
        if counts[k] > 0:
            remap[k] = n_groups
            n_groups += 1
    codes = np.empty(n_groups, dtype=np.int64)
    for k in range(n_codes):
        if remap[k] >= 0:
            codes[remap[k]] = k
    inverse = np.empty(n, dtype=np.int64)
    tokens = np.zeros(n_groups)
    for i in range(n):
        g = remap[code[i]]
        inverse[i] = g
        tokens[g] += base_tokens[rows[i]] * token_factor
    return cur_col, inverse, codes, tokens


@njit(cache=True, nogil=True)
def book_developers(
    rows: np.ndarray,
    col: np.ndarray,
    tokens: np.ndarray,
    price_paid: np.ndarray,
    scale: float,
    segment: np.ndarray,
    tracked_segment: int,
    lab: np.ndarray,
    tracked_lab: int,
    n_options: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Per-option token volumes and spend of the quarter, summed over developers in row order.

    With ``tok = tokens * scale`` and ``paid`` the price paid (``np.nan_to_num``: NaN is 0),
    for the rows on an option (``col >= 0``): ``Q`` sums ``tok`` and ``spend`` sums
    ``tok * paid`` per option, as ``np.bincount`` does; ``Q_seg`` and ``spend_seg`` do the
    same for the developers of ``tracked_segment`` (-1: none); the count is of developers on
    an option whose lab is ``tracked_lab``.

    Returns:
        ``(Q, spend, Q_seg, spend_seg, n_on_lab)``.
    """
    big = np.finfo(np.float64).max
    q = np.zeros(n_options)
    spend = np.zeros(n_options)
    q_seg = np.zeros(n_options)
    spend_seg = np.zeros(n_options)
    n_on_lab = 0
    for i in range(rows.size):
        c = col[i]
        if c < 0:
            continue
        r = rows[i]
        tok = tokens[r] * scale
        paid = price_paid[r]
        if paid != paid:
            paid = 0.0
        elif paid == np.inf:
            paid = big
        elif paid == -np.inf:
            paid = -big
        tok_paid = tok * paid
        q[c] += tok
        spend[c] += tok_paid
        if segment[r] == tracked_segment:
            q_seg[c] += tok
            spend_seg[c] += tok_paid
        if lab[r] == tracked_lab:
            n_on_lab += 1
    return q, spend, q_seg, spend_seg, n_on_lab


@njit(cache=True, nogil=True)
def count_by_lab(
    adopted: np.ndarray, choice: np.ndarray, lab: np.ndarray, n_labs: int
) -> tuple[np.ndarray, int]:
    """Adopters on an option per lab (``choice >= 0``), and the number of adopters.

    Returns:
        ``(counts, adopters)``: (n_labs,) integer counts and the total count of adopters.
    """
    counts = np.zeros(n_labs, dtype=np.int64)
    adopters = 0
    for i in range(adopted.size):
        if adopted[i]:
            adopters += 1
            if choice[i] >= 0:
                counts[lab[i]] += 1
    return counts, adopters


def warm_up_choice() -> None:
    """Load the developer grouping, choice and accounting kernels now (cached, or compile).

    Why: a model calls this in its set-up, so that the first simulated quarter does not pay
    the load. The argument types are those the model passes; one developer, one option.
    """
    row = np.zeros(1, dtype=np.int64)  # developer 0, in group 0, option key 0

    def state() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # choice (no choice yet), lab (none), fine-tuned, segment 0
        return (
            np.full(1, -1, dtype=np.int64),
            np.full(1, -1, dtype=np.int16),
            np.zeros(1, dtype=bool),
            np.zeros(1, dtype=np.int16),
        )

    choice, lab, finetuned, segment = state()
    col_of_key = np.full(3, -1, dtype=np.int64)
    group_developers(
        row, choice, col_of_key, segment, lab, finetuned, 1, 1, 8, np.ones(1), 1.0
    )  # fmt: skip
    count_by_lab(finetuned, choice, lab, 1)
    col = np.empty(1, dtype=np.int64)
    half = np.full(1, 0.5)
    choose_options(
        row, row, row - 1, half, half, 0.5, np.ones(1, dtype=bool), np.array([0.5, 1.0]), 2,
        row, row, -1, -2, choice, lab, finetuned, col,
    )  # fmt: skip
    table = np.ones((1, 2))
    settle_quarter(
        row, col, half, 0.5, np.ones(1, dtype=bool), segment, table, table, np.ones(1), 1.0,
        finetuned, np.empty(1), np.empty(1),
    )  # fmt: skip
    book_developers(row, col, np.ones(1), np.ones(1), 1.0, segment, 0, lab, 0, 1)

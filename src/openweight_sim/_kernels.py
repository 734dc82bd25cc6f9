"""Compiled (numba) loops of the developer population: grouping, choice, settlement, booking.

Why: the per-developer steps of a quarter (grouping, re-optimisation and draws, settlement,
accounting) were a few dozen array operations over up to a million rows each; these kernels
do the same arithmetic in one or two passes, in the same order, with the same random draws
(drawn by the model's numpy Generator), so their results are identical to the array code's.
The categorical draw itself is :func:`openweight_sim.market._kernels.draw_category`, the one
implementation shared with :func:`openweight_sim.market.sample_choices`.

The kernels are compiled on first use and cached on disk (``cache=True``, see
:mod:`openweight_sim.market._jit`): the first run after installation (or after this file
changes) compiles them, a few seconds; later processes load them in about 0.2 s, which a
model does in its set-up.
"""

from __future__ import annotations

import numpy as np

from openweight_sim.market._jit import njit
from openweight_sim.market._kernels import draw_category


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
    :func:`openweight_sim.market._kernels.draw_category` on ``cum`` (the flattened offset
    row cumulative sums of :func:`openweight_sim.market.choice.offset_cumulative`), the same
    draw as :func:`openweight_sim.market.sample_choices`. A pick below ``n_cat - 1`` is an
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
            pick = draw_category(cum, n_cat, group[i], uniforms[i])
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
    klass: np.ndarray,
    price_table: np.ndarray,
    fixed_table: np.ndarray,
    response: np.ndarray,
    base_tokens: np.ndarray,
    token_factor: float,
    finetuned: np.ndarray,
    price_paid: np.ndarray,
    tokens: np.ndarray,
) -> None:
    """Fine-tuning, price paid and tokens of the quarter after the developers' choice.

    The k-th workload on a model (``col >= 0``, in row order) fine-tunes if
    ``tune_draw[k] < finetune_rate``. Rows that have not adopted buy nothing (``col`` set to
    -1). Tokens are ``base_tokens * token_factor * response`` and the price paid is
    ``price + fixed / tokens`` (a self-hosting row spreads its fixed cost over its own
    tokens; ``fixed`` is 0 for every other option), from the class x option tables, whose
    last column (no option) holds NaN, 0 and 0; rows not in ``rows`` get NaN and 0.
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
        s = klass[r]
        j = c if c >= 0 else n_none
        tok = base_tokens[r] * token_factor * response[s, j]
        tokens[r] = tok
        fixed = fixed_table[s, j]
        price_paid[r] = price_table[s, j] + (fixed / tok if fixed > 0.0 and tok > 0.0 else 0.0)


@njit(cache=True, nogil=True)
def group_developers(
    rows: np.ndarray,
    choice: np.ndarray,
    col_of_key: np.ndarray,
    klass: np.ndarray,
    lab: np.ndarray,
    finetuned: np.ndarray,
    n_options: int,
    n_labs: int,
    n_codes: int,
    base_tokens: np.ndarray,
    token_factor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group the workload rows ``rows`` by (class, current option column, lab, fine-tuned).

    The group code is ``((klass * (J + 1) + col + 1) * (L + 1) + lab + 1) * 2 + finetuned``
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
        k = np.int64(klass[r]) * (n_options + 1) + (col + 1)
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
    firm: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Per-option token volumes and spend of the quarter, summed over developers in row order.

    With ``tok = tokens * scale`` and ``paid`` the price paid (``np.nan_to_num``: NaN is 0),
    for the rows on an option (``col >= 0``): ``Q`` sums ``tok`` and ``spend`` sums
    ``tok * paid`` per option, as ``np.bincount`` does; ``Q_seg`` and ``spend_seg`` do the
    same for the rows of ``tracked_segment`` (-1: none) and ``n_seg`` counts them; the last
    count is of *developers* (``firm``; rows in increasing order, a developer's rows
    contiguous) with at least one workload on an option whose lab is ``tracked_lab``.

    Returns:
        ``(Q, spend, Q_seg, spend_seg, n_seg, n_on_lab)``.
    """
    big = np.finfo(np.float64).max
    q = np.zeros(n_options)
    spend = np.zeros(n_options)
    q_seg = np.zeros(n_options)
    spend_seg = np.zeros(n_options)
    n_seg = np.zeros(n_options)
    n_on_lab = 0
    last_firm = -1
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
            n_seg[c] += 1.0
        if lab[r] == tracked_lab and firm[r] != last_firm:
            n_on_lab += 1
            last_firm = firm[r]
    return q, spend, q_seg, spend_seg, n_seg, n_on_lab


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
    klass = np.zeros(1, dtype=np.int64)
    col_of_key = np.full(3, -1, dtype=np.int64)
    group_developers(
        row, choice, col_of_key, klass, lab, finetuned, 1, 1, 8, np.ones(1), 1.0
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
        row, col, half, 0.5, np.ones(1, dtype=bool), klass, table, table, table, np.ones(1),
        1.0, finetuned, np.empty(1), np.empty(1),
    )  # fmt: skip
    book_developers(row, col, np.ones(1), np.ones(1), 1.0, segment, 0, lab, 0, 1, row)

"""The compiled per-developer kernels agree exactly with the array formulations they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from openweight_sim import _kernels
from openweight_sim.agents import NO_CHOICE, OUTSIDE
from openweight_sim.market import _jit, offset_cumulative, sample_choices


def _searchsorted_draws(prob: np.ndarray, group: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """The numpy formulation ``sample_choices`` had before its draws were compiled."""
    n_groups, n_cat = prob.shape
    cum = np.clip(np.cumsum(np.maximum(prob, 0.0), axis=1), 0.0, 1.0)
    cum += np.arange(n_groups, dtype=float)[:, None]
    idx = np.searchsorted(cum.ravel(), uniforms + group, side="right")
    return np.minimum(idx - group.astype(np.intp) * n_cat, n_cat - 1).astype(np.intp)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 9), st.integers(1, 8), st.integers(0, 400), st.integers(0, 2**32 - 1))
def test_sample_choices_draws_as_the_searchsorted_formulation(
    n_groups: int, n_cat: int, n: int, seed: int
) -> None:
    """Golden: the compiled draw picks exactly what the earlier numpy searchsorted picked."""
    rng = np.random.default_rng(seed)
    prob = rng.dirichlet(np.ones(n_cat), n_groups)
    prob[rng.random(prob.shape) < 0.2] = 0.0  # empty categories
    prob[0] *= 1.0 + 1e-15  # a row summing to 1 + rounding
    group = rng.integers(0, n_groups, n)
    uniforms = rng.random(n)
    uniforms[rng.random(n) < 0.1] = np.nextafter(1.0, 0.0)  # keys at the end of a row
    uniforms[rng.random(n) < 0.05] = 0.0
    np.testing.assert_array_equal(
        sample_choices(prob, group, uniforms), _searchsorted_draws(prob, group, uniforms)
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 7), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_choose_options_draws_as_sample_choices(
    n_groups: int, n_options: int, n: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.ones(n_options + 1), n_groups)[:, :n_options]
    shares[rng.random(shares.shape) < 0.2] = 0.0
    prob = np.concatenate([shares, 1.0 - shares.sum(axis=1, keepdims=True)], axis=1)
    group = rng.integers(0, n_groups, n).astype(np.int64)
    uniforms = rng.random(n)
    uniforms[rng.random(n) < 0.1] = np.nextafter(1.0, 0.0)  # keys at the end of a row
    expected = sample_choices(prob, group, uniforms)

    cum = offset_cumulative(prob)
    rows = np.arange(n, dtype=np.int64)
    option_key = np.arange(100, 100 + n_options, dtype=np.int64)
    option_lab = np.arange(n_options, dtype=np.int64) % 3
    choice = np.full(n, NO_CHOICE, dtype=np.int64)  # everybody is forced to choose
    lab = np.full(n, -1, dtype=np.int16)
    finetuned = np.zeros(n, dtype=bool)
    col = np.empty(n, dtype=np.int64)
    _kernels.choose_options(
        rows,
        group,
        np.full(n, -1, dtype=np.int64),
        rng.random(n),
        uniforms,
        0.5,
        np.ones(n, dtype=bool),
        cum,
        n_options + 1,
        option_lab,
        option_key,
        NO_CHOICE,
        OUTSIDE,
        choice,
        lab,
        finetuned,
        col,
    )
    inside = expected < n_options
    np.testing.assert_array_equal(col, np.where(inside, expected, -1))
    np.testing.assert_array_equal(
        choice, np.where(inside, option_key[np.minimum(expected, n_options - 1)], OUTSIDE)
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 500), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_group_developers_matches_bincount(n: int, n_options: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_seg, n_labs, n_keys = 3, 4, 10
    segment = rng.integers(0, n_seg, n).astype(np.int64)  # the demand class of each row
    choice = rng.integers(-2, n_keys, n).astype(np.int64)
    lab = rng.integers(-1, n_labs, n).astype(np.int16)
    finetuned = rng.random(n) < 0.3
    base = rng.lognormal(size=n)
    rows = np.flatnonzero(rng.random(n) < 0.7)
    col_of_key = np.full(n_keys + 2, -1, dtype=np.int64)
    col_of_key[rng.choice(n_keys, min(n_options, n_keys), replace=False)] = np.arange(
        min(n_options, n_keys)
    )
    n_codes = n_seg * (n_options + 1) * (n_labs + 1) * 2
    cur_col, inverse, codes, tokens = _kernels.group_developers(
        rows, choice, col_of_key, segment, lab, finetuned, n_options, n_labs, n_codes, base, 1.7
    )
    # the array formulation
    ref_col = col_of_key[choice[rows]]
    code = segment[rows].astype(np.int64) * (n_options + 1) + (ref_col + 1)
    code = (code * (n_labs + 1) + (lab[rows].astype(np.int64) + 1)) * 2 + finetuned[rows]
    uniq, ref_inverse = np.unique(code, return_inverse=True)
    np.testing.assert_array_equal(cur_col, ref_col)
    np.testing.assert_array_equal(codes, uniq)
    np.testing.assert_array_equal(inverse, ref_inverse)
    np.testing.assert_array_equal(
        tokens, np.bincount(ref_inverse, weights=base[rows] * 1.7, minlength=uniq.size)
    )


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Developers in the pass: everyone (``np.arange``) or a sorted subset (``flatnonzero``)."""
    if rng.random() < 0.3:
        return np.arange(n, dtype=np.int64)
    return np.flatnonzero(rng.random(n) < 0.6).astype(np.int64)


def _prices(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Positive prices with some NaN (no equilibrium price) and a few infinities."""
    p = rng.lognormal(size=shape)
    u = rng.random(shape)
    p[u < 0.15] = np.nan
    p[(u >= 0.15) & (u < 0.2)] = np.inf
    return p


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(0, 300), st.integers(0, 6), st.integers(1, 4), st.integers(0, 2**32 - 1))
@example(0, 3, 2, 0)  # no developers
@example(50, 0, 2, 1)  # no options: everybody on the outside option or without a choice
@example(50, 3, 2, 2)
def test_settle_quarter_matches_array_code(n: int, n_options: int, n_seg: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = _rows(rng, n)
    col = rng.integers(-1, n_options, rows.size).astype(np.int64)  # -1: outside or no option
    tune_draw = rng.random(int(np.count_nonzero(col >= 0)))
    finetune_rate = float(rng.choice([0.0, 0.3, 1.0]))
    adopted = rng.random(n) < 0.7
    segment = rng.integers(0, n_seg, n).astype(np.int64)  # the demand class of each row
    base_tokens = rng.lognormal(size=n)
    token_factor = float(rng.uniform(0.5, 3.0))
    finetuned = rng.random(n) < 0.2
    # the segment x option tables as the model builds them: column J holds NaN and 0
    table = np.full((n_seg, n_options + 1), np.nan)
    table[:, :n_options] = _prices(rng, (n_seg, n_options))
    response = np.zeros((n_seg, n_options + 1))
    response[:, :n_options] = np.power(table[:, :n_options], -0.1)
    # self-hosting columns carry a fixed cost that each row spreads over its own tokens
    fixed = np.zeros((n_seg, n_options + 1))
    fixed[:, : n_options // 2] = rng.uniform(0.0, 100.0, (n_seg, n_options // 2))
    price_paid = rng.random(n)  # stale values of the previous quarter, all overwritten
    tokens = rng.random(n)

    # the array formulation (Model._choose before the kernel)
    ref_finetuned = finetuned.copy()
    on_model = rows[col >= 0]
    ref_finetuned[on_model[tune_draw < finetune_rate]] = True
    ref_col = np.where(adopted[rows], col, -1)  # prospective-demand rows buy nothing
    col_or_none = np.where(ref_col >= 0, ref_col, n_options)
    seg_rows = segment[rows]
    ref_tokens = np.zeros(n)
    ref_tokens[rows] = base_tokens[rows] * token_factor * response[seg_rows, col_or_none]
    ref_paid = np.full(n, np.nan)
    own = fixed[seg_rows, col_or_none]
    tok = ref_tokens[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where((own > 0) & (tok > 0), own / tok, 0.0)
    ref_paid[rows] = table[seg_rows, col_or_none] + spread

    _kernels.settle_quarter(
        rows, col, tune_draw, finetune_rate, adopted, segment, table, fixed, response,
        base_tokens, token_factor, finetuned, price_paid, tokens,
    )  # fmt: skip
    np.testing.assert_array_equal(col, ref_col)
    np.testing.assert_array_equal(finetuned, ref_finetuned)
    np.testing.assert_array_equal(price_paid, ref_paid)  # NaN where the reference has NaN
    np.testing.assert_array_equal(tokens, ref_tokens)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    st.integers(0, 400),
    st.integers(0, 6),
    st.integers(-1, 2),
    st.integers(-1, 3),
    st.integers(0, 2**32 - 1),
)
@example(0, 3, 0, 0, 0)  # no developers
@example(40, 0, 0, 0, 1)  # no options
@example(40, 3, -1, 0, 2)  # no enterprise segment
def test_book_developers_matches_bincount(
    n: int, n_options: int, tracked_segment: int, tracked_lab: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n_seg, n_labs = 3, 4
    rows = _rows(rng, n)
    col = rng.integers(-1, n_options, rows.size).astype(np.int64)
    tokens = rng.lognormal(size=n) * (rng.random(n) < 0.9)
    price_paid = _prices(rng, (n,))
    price_paid[rng.random(n) < 0.03] = -np.inf
    scale = float(rng.uniform(0.1, 50.0))
    segment = rng.integers(0, n_seg, n).astype(np.int16)
    lab = rng.integers(-1, n_labs, n).astype(np.int16)

    firm = np.sort(rng.integers(0, max(1, n // 2), n))  # a developer's rows are contiguous
    q, spend, q_seg, spend_seg, n_seg_rows, n_on_lab = _kernels.book_developers(
        rows, col, tokens, price_paid, scale, segment, tracked_segment, lab, tracked_lab,
        n_options, firm,
    )  # fmt: skip

    # the array formulation (the accounting before the kernel)
    using = col >= 0
    tok = tokens[rows] * scale
    paid = np.nan_to_num(price_paid[rows])  # infinite prices become +-float max
    with np.errstate(over="ignore", invalid="ignore"):  # tok * float max overflows, as it did
        tok_paid = tok * paid
    m = (segment[rows] == tracked_segment) & using
    np.testing.assert_array_equal(
        q, np.bincount(col[using], weights=tok[using], minlength=n_options)
    )
    np.testing.assert_array_equal(
        spend, np.bincount(col[using], weights=tok_paid[using], minlength=n_options)
    )
    np.testing.assert_array_equal(q_seg, np.bincount(col[m], weights=tok[m], minlength=n_options))
    np.testing.assert_array_equal(
        spend_seg, np.bincount(col[m], weights=tok_paid[m], minlength=n_options)
    )
    np.testing.assert_array_equal(n_seg_rows, np.bincount(col[m], minlength=n_options))
    on_lab = (lab[rows] == tracked_lab) & using
    assert n_on_lab == np.unique(firm[rows][on_lab]).size  # developers, not workloads


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(0, 500), st.integers(1, 6), st.integers(0, 2**32 - 1))
@example(0, 3, 0)  # no developers
@example(30, 1, 1)
def test_count_by_lab_matches_bincount(n: int, n_labs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    adopted = rng.random(n) < rng.random()
    choice = rng.integers(-2, 12, n).astype(np.int64)
    choice[rng.random(n) < 0.2] = NO_CHOICE
    choice[rng.random(n) < 0.2] = OUTSIDE
    # a developer on an option has its lab; one without may keep an old lab or have none
    lab = rng.integers(0, n_labs, n).astype(np.int16)
    lab[(choice < 0) & (rng.random(n) < 0.5)] = -1

    counts, adopters = _kernels.count_by_lab(adopted, choice, lab, n_labs)

    # the array formulation (Model._ecosystem before the kernel)
    using = adopted & (choice >= 0)
    np.testing.assert_array_equal(counts, np.bincount(lab[using], minlength=n_labs))
    assert counts.dtype.kind == "i"
    assert adopters == int(adopted.sum())


def test_kernel_cache_falls_back_when_nothing_is_writable(tmp_path):
    """A read-only install still imports: caching is switched off, not an import error."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    unwritable = [None, blocker / "cache", blocker / "numba"]  # mkdir under a file fails
    assert _jit._cache_writable(unwritable) is False
    assert _jit._cache_writable([*unwritable, tmp_path / "ok"]) is True
    assert (tmp_path / "ok").is_dir()

"""The compiled per-developer kernels agree exactly with the array formulations they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from openweight_sim import _kernels
from openweight_sim.agents import NO_CHOICE, OUTSIDE
from openweight_sim.market import sample_choices


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

    cum = np.clip(np.cumsum(np.maximum(prob, 0.0), axis=1), 0.0, 1.0)
    cum += np.arange(n_groups, dtype=float)[:, None]
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
        cum.ravel(),
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
    segment = rng.integers(0, n_seg, n).astype(np.int16)
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

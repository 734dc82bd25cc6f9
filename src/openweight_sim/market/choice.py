"""Categorical draws of individual choices from group-level choice probabilities.

Why: the agent-based layer draws thousands of individual choices per period from a few
segment-level probability rows; :func:`offset_cumulative` builds the lookup table and
:func:`openweight_sim.market._kernels.draw_category` makes each draw. The model's compiled
choice step uses both, so its draws are exactly those of :func:`sample_choices`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["offset_cumulative", "sample_choices"]


def offset_cumulative(prob: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row cumulative sums of (G, K) probabilities, row g offset by g, flattened to (G*K,).

    Row g lives in [g, g + 1], so the flattened array is sorted and one search for
    ``u + g`` finds a draw of row g. Negative entries count as 0, and clipping to [0, 1]
    keeps the array sorted even when a row sums to 1 + rounding.

    Args:
        prob: (G, K) probabilities; rows sum to at most 1 up to rounding.

    Returns:
        The (G*K,) offset cumulative shares.
    """
    cum = np.clip(np.cumsum(np.maximum(prob, 0.0), axis=1), 0.0, 1.0)
    cum += np.arange(prob.shape[0], dtype=float)[:, None]
    return cum.ravel()


def sample_choices(prob: ArrayLike, group: ArrayLike, uniforms: ArrayLike) -> NDArray[np.intp]:
    """Vectorised categorical draws for N individuals in G groups.

    Why: the agent-based layer draws thousands of individual choices per period from a few
    segment-level probability rows. The row cumulative sums are offset by the row index (row
    g lives in [g, g + 1]) and flattened (:func:`offset_cumulative`), and every draw is a
    bisection of ``u_i + group_i`` within row ``group_i``, in compiled code; memory is
    O(G*K + N).

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
    u = np.ascontiguousarray(uniforms, dtype=float)
    if g.shape != u.shape or g.ndim != 1:
        raise ValueError("group and uniforms must be one-dimensional with the same length")
    n_groups, n_cat = pr.shape
    if g.size and (g.min() < 0 or g.max() >= n_groups):
        raise ValueError("group indices out of range")
    from openweight_sim.market import _kernels  # numba loads on first use, not on import

    out = np.empty(g.size, dtype=np.intp)
    cum = offset_cumulative(pr)
    _kernels.draw_categories(cum, n_cat, g.astype(np.int64), u, out)
    return out

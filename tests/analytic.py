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

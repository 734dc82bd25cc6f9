"""Validation and broadcasting of the market primitives' array arguments.

Why: every public function of the package takes the same kinds of arguments (mean utilities,
price sensitivities, prices, availability masks); checking them in one place gives one error
message per mistake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray


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


def _dense_ownership(ownership: ArrayLike, n_prod: int) -> NDArray[np.float64]:
    """Validate a (J, J) ownership (conduct) matrix with a unit diagonal."""
    omega = np.asarray(ownership, dtype=float)
    if omega.shape != (n_prod, n_prod):
        raise ValueError(f"ownership must have shape ({n_prod}, {n_prod}), got {omega.shape}")
    if not np.all(np.isfinite(omega)) or not np.allclose(np.diag(omega), 1.0):
        raise ValueError("ownership must be finite with a unit diagonal (Omega_jj = 1)")
    return omega

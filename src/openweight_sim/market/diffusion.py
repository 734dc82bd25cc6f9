"""Bass (1969) diffusion: the closed-form adoption curve and its exact one-quarter step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["bass_fraction", "bass_step"]


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

"""Tuning settings of the Bertrand-Nash solver, in one immutable object.

Why: the solver's phases (SQUAREM-accelerated zeta iteration, Newton-type fallback, damped
iteration) hand over to each other after budgets and patience counts that were module
constants; gathering them in a frozen dataclass, passed with a default, makes every setting
visible, documented and changeable per call without touching global state (as pyblp's
``Iteration`` object does for its fixed-point routines).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SOLVER", "SolverOptions"]


@dataclass(frozen=True)
class SolverOptions:
    """How :func:`openweight_sim.market.solve_equilibrium` searches for the fixed point.

    The stopping rule (``tol``) and the overall evaluation budget (``max_iter``) stay
    arguments of the solver itself, since they are part of the public ``nash_prices``
    signature; everything else that tunes the search lives here.

    Attributes:
        accelerate: use SQUAREM extrapolation between plain zeta-map steps; ``False`` runs plain
            zeta iteration (pyblp's default ``'simple'``) until it stops improving.
        phase_one_budget: zeta-map evaluations of phase 1 before the Newton-type fallback.
        squarem_slack: an extrapolated point may have a residual this many times the plain
            iterate's before it is rejected.
        squarem_patience: evaluations without a new best residual before SQUAREM is dropped.
        plain_patience: evaluations without a new best residual before plain iteration hands
            over to the next phase.
        damping: step fraction of the last-resort damped iteration, in (0, 1].
    """

    accelerate: bool = True
    phase_one_budget: int = 500
    squarem_slack: float = 10.0
    squarem_patience: int = 100
    plain_patience: int = 100
    damping: float = 0.5

    def __post_init__(self) -> None:
        """Reject settings the phases cannot work with."""
        if self.phase_one_budget < 1 or self.squarem_patience < 1 or self.plain_patience < 1:
            raise ValueError("phase_one_budget and the patience counts must be >= 1")
        if not self.squarem_slack >= 1.0:
            raise ValueError(f"squarem_slack must be >= 1, got {self.squarem_slack}")
        if not 0.0 < self.damping <= 1.0:
            raise ValueError(f"damping must be in (0, 1], got {self.damping}")


DEFAULT_SOLVER = SolverOptions()
"""The settings every solve uses unless told otherwise."""

"""The solver's tuning settings: one frozen options object, validated, passed per call."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from openweight_sim.market import DEFAULT_SOLVER, SolverOptions, nash_prices, solve_equilibrium

# a nested market with one multi-product firm: plain iteration converges slowly (rate ~ sigma)
DELTA = np.array([[2.0, 1.5, 1.0, 0.5], [1.0, 2.0, 0.0, 1.5]])
COST = np.array([1.0, 0.8, 0.6, 0.5])
KW = {"firm": [0, 0, 1, 2], "nest": [0, 0, 1, 1], "sigma": 0.8, "log_price": True}


def test_defaults_are_the_documented_settings() -> None:
    assert SolverOptions() == DEFAULT_SOLVER
    assert DEFAULT_SOLVER.accelerate and DEFAULT_SOLVER.phase_one_budget == 500
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_SOLVER.damping = 0.1  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        {"damping": 0.0},
        {"damping": 1.5},
        {"phase_one_budget": 0},
        {"squarem_patience": 0},
        {"plain_patience": 0},
        {"squarem_slack": 0.5},
    ],
)
def test_invalid_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        SolverOptions(**bad)


def test_every_setting_reaches_the_same_equilibrium() -> None:
    """The settings change the path, not the fixed point."""
    reference = solve_equilibrium(DELTA, COST, [2.5, 3.0], **KW)
    assert reference.converged
    for options in (
        SolverOptions(accelerate=False),
        SolverOptions(phase_one_budget=2),  # hands over to the Newton-type fallback at once
        SolverOptions(squarem_slack=1.0, squarem_patience=1, plain_patience=1, damping=0.9),
    ):
        eq = solve_equilibrium(DELTA, COST, [2.5, 3.0], **KW, options=options)
        assert eq.converged, options
        np.testing.assert_allclose(eq.prices, reference.prices, rtol=1e-9)


def test_settings_change_the_search() -> None:
    """Plain iteration needs more evaluations than SQUAREM here: the option is used."""
    fast = solve_equilibrium(DELTA, COST, [2.5, 3.0], **KW)
    slow = solve_equilibrium(DELTA, COST, [2.5, 3.0], **KW, options=SolverOptions(accelerate=False))
    assert slow.iterations > fast.iterations


def test_nash_prices_keeps_its_contract_signature() -> None:
    p = nash_prices(np.array([1.0, 2.0]), np.array([0.5, 0.5]), 1.5, None, None, 0.0, False, 1e-12)
    assert p.shape == (2,) and np.all(p > 0.5)

"""CMA-ES on the unit cube of the free parameters, one generation per parallel batch.

Why CMA-ES: the calibration objective is a step function of the parameters at fine
resolution (discrete choices under fixed random numbers) with interacting parameters (a
brand constant and a sensitivity move the same shares). Nelder–Mead stalls on such plateaus
and moves one vertex at a time; CMA-ES samples a whole population per generation, adapts
a full covariance (it learns which parameters move together) and needs no gradient. A
generation's candidates are independent, so they are evaluated together on the sweep
executors' workers.

The search is ask/tell with the ``cmaes`` package (the engine behind Optuna's
``CmaEsSampler``): every candidate of a generation is asked first, the whole batch is
evaluated, then told. The sequence of candidates depends only on the sampler seed and on
the losses, which are deterministic functions of the candidates (common random numbers),
so the trace is the same for every executor and worker count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

SIGMA0 = 0.2
"""Initial step size, in units of each parameter's range (the unit cube's side)."""

MAX_RESTARTS = 8
"""Restarts (from the best point, with half the step size) after CMA-ES has converged."""

MAX_STALE_GENERATIONS = 5
"""Stop when this many generations in a row asked only points already evaluated."""

BatchObjective = Callable[[Sequence[np.ndarray], str, int], list[float | None]]
"""``(unit points, phase, generation) -> losses`` (None: not evaluated, budget spent)."""


def default_population(dim: int) -> int:
    """CMA-ES's default population size ``4 + floor(3 ln n)``."""
    return 4 + math.floor(3 * math.log(dim))


def cma_search(
    objective: BatchObjective,
    x0: np.ndarray,
    seed: int,
    best_point: Callable[[], np.ndarray],
    evaluations: Callable[[], int],
    sigma0: float = SIGMA0,
    population: int | None = None,
) -> int:
    """Run CMA-ES from ``x0`` until the objective's budget is spent; return the generations.

    Args:
        objective: evaluates a generation's candidates together (see :data:`BatchObjective`);
            a None among the losses means the budget is spent and the search stops.
        x0: the starting mean in ``[0, 1]^n`` (the scenario's current values).
        seed: the sampler's seed (any integer; reduced to 32 bits).
        best_point: the best point so far in the unit cube (the restarts' mean).
        evaluations: the number of evaluations so far (a generation that adds none only
            asked points already evaluated).
        sigma0: initial step size.
        population: candidates per generation (default :func:`default_population`).

    Raises:
        ValueError: fewer than two free parameters (CMA-ES needs n >= 2).
    """
    from cmaes import CMA

    dim = int(x0.size)
    if dim < 2:
        raise ValueError(f"CMA-ES needs at least two free parameters (got {dim})")
    bounds = np.tile([0.0, 1.0], (dim, 1))
    popsize = population or default_population(dim)
    mean, sigma = np.clip(x0, 0.0, 1.0), sigma0
    generation = stale = 0
    for restart in range(MAX_RESTARTS + 1):
        cma = CMA(
            mean=mean,
            sigma=sigma,
            bounds=bounds,
            seed=(seed + restart) % 2**32,
            population_size=popsize,
        )
        while not cma.should_stop():
            xs = [cma.ask() for _ in range(cma.population_size)]
            before = evaluations()
            losses = objective(xs, f"cma-es r{restart}", generation)
            generation += 1
            if any(v is None for v in losses):
                return generation
            stale = stale + 1 if evaluations() == before else 0
            if stale >= MAX_STALE_GENERATIONS:
                return generation
            cma.tell([(x, float(v)) for x, v in zip(xs, losses, strict=True)])
        mean, sigma = np.clip(best_point(), 0.0, 1.0), sigma / 2
    return generation

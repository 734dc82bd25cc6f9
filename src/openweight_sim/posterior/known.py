"""A simulator with a closed-form posterior, to check the ABC-SMC path end to end.

Model: ``y ~ Normal(θ, σ²)`` with one observation ``y_obs`` and the conjugate prior
``θ ~ Normal(μ₀, τ₀²)``. The exact posterior is Normal with precision ``1/τ₀² + 1/σ²`` and
mean ``(μ₀/τ₀² + y_obs/σ²) / (1/τ₀² + 1/σ²)``. The simulator and distance are module-level
picklable objects, so they run on the process and Dask executors like the market model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from openweight_sim.posterior.priors import Prior


@dataclass(frozen=True)
class GaussianMean:
    """The known-answer problem.

    Attributes:
        prior_mean: ``μ₀``.
        prior_sd: ``τ₀``.
        noise_sd: ``σ``.
        observed: ``y_obs``.
    """

    prior_mean: float = 5.0
    prior_sd: float = 1.0
    noise_sd: float = 1.0
    observed: float = 7.0

    def __call__(self, values: Mapping[str, float], seed: int) -> dict:
        """Simulate one observation at ``θ = values['theta']`` with its own generator."""
        rng = np.random.default_rng(seed)
        return {"y": float(rng.normal(values["theta"], self.noise_sd))}

    @property
    def priors(self) -> list[Prior]:
        """The conjugate normal prior."""
        return [Prior("theta", "normal", self.prior_mean, self.prior_sd)]

    @property
    def x0(self) -> dict:
        """The observed summary statistics."""
        return {"y": self.observed}

    def exact(self) -> tuple[float, float]:
        """Exact posterior mean and standard deviation."""
        prec = 1 / self.prior_sd**2 + 1 / self.noise_sd**2
        mean = (self.prior_mean / self.prior_sd**2 + self.observed / self.noise_sd**2) / prec
        return mean, math.sqrt(1 / prec)


def absolute_distance(x: dict, x0: dict) -> float:
    """``|y − y_obs|``."""
    return abs(float(x["y"]) - float(x0["y"]))

"""Priors of the posterior calibration, and the coordinates ABC-SMC moves in.

Each parameter has a prior of one of three kinds:

* ``uniform`` on ``[low, high]``;
* ``loguniform`` on ``[low, high]`` (``0 < low``): uniform in ``ln θ``, the natural prior of a
  positive multiplicative parameter whose order of magnitude is unknown;
* ``normal`` with mean ``low`` and standard deviation ``high`` (used by the known-answer test).

ABC-SMC perturbs particles with a Gaussian kernel, so it works in *internal coordinates*:
``ln θ`` for a log-uniform prior (where that prior is flat and the kernel's steps are
multiplicative), ``θ`` otherwise. :func:`calibration_priors` builds the priors of
:data:`openweight_sim.calibration.fit.FREE_PARAMETERS` from their bounds, whatever they are
when the posterior runs: uniform, or log-uniform where ``log=True``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

KINDS = ("uniform", "loguniform", "normal")


@dataclass(frozen=True)
class Prior:
    """The prior of one parameter.

    Attributes:
        name: the parameter's name (a dotted scenario path for the model).
        kind: ``uniform``, ``loguniform`` or ``normal``.
        low: lower bound (``normal``: the mean).
        high: upper bound (``normal``: the standard deviation).
    """

    name: str
    kind: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown prior kind {self.kind!r} (expected {KINDS})")
        if self.kind == "normal":
            if not self.high > 0:
                raise ValueError(f"{self.name}: a normal prior needs sd > 0 (got {self.high})")
        elif not self.low < self.high:
            raise ValueError(f"{self.name}: needs low < high (got {self.low}, {self.high})")
        if self.kind == "loguniform" and not self.low > 0:
            raise ValueError(f"{self.name}: a log-uniform prior needs low > 0 (got {self.low})")

    @property
    def log(self) -> bool:
        """True if the internal coordinate is ``ln θ``."""
        return self.kind == "loguniform"

    def to_internal(self, value: float | np.ndarray) -> float | np.ndarray:
        """Internal coordinate of a value."""
        return np.log(value) if self.log else value

    def to_value(self, x: float | np.ndarray) -> float | np.ndarray:
        """Value of an internal coordinate."""
        return np.exp(x) if self.log else x

    def internal_moments(self) -> tuple[float, float]:
        """Mean and variance of the prior in internal coordinates."""
        if self.kind == "normal":
            return self.low, self.high**2
        a, b = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        return (a + b) / 2, (b - a) ** 2 / 12

    def rv(self):
        """The prior as a pyabc random variable over the internal coordinate."""
        import pyabc

        if self.kind == "normal":
            return pyabc.RV("norm", self.low, self.high)
        a, b = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        return pyabc.RV("uniform", a, b - a)

    def describe(self) -> str:
        """The prior in words, e.g. ``log-uniform on [0.3, 5]``."""
        if self.kind == "normal":
            return f"normal (mean {self.low:g}, sd {self.high:g})"
        word = "log-uniform" if self.log else "uniform"
        return f"{word} on [{self.low:g}, {self.high:g}]"


def key(i: int) -> str:
    """The pyabc name of parameter ``i`` (dotted paths are kept out of pyabc's database)."""
    return f"p{i:02d}"


def to_values(priors: Sequence[Prior], internal: Mapping[str, float]) -> dict[str, float]:
    """Parameter values by name from pyabc's internal coordinates by key."""
    return {p.name: float(p.to_value(internal[key(i)])) for i, p in enumerate(priors)}


def calibration_priors(params: Sequence | None = None) -> list[Prior]:
    """Priors of the free behavioural parameters: their fit bounds, log-uniform where ``log``.

    Args:
        params: :class:`~openweight_sim.calibration.fit.FreeParameter` objects (default: the
            ``FREE_PARAMETERS`` of :mod:`openweight_sim.calibration.fit` when this runs).
    """
    if params is None:
        from openweight_sim.calibration.fit import FREE_PARAMETERS

        params = FREE_PARAMETERS
    return [
        Prior(p.path, "loguniform" if p.log else "uniform", float(p.low), float(p.high))
        for p in params
    ]

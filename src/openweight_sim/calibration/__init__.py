"""Calibration and validation: the in-sample facts, the scorecard, the fit.

- :mod:`~openweight_sim.calibration.facts`: the observed market facts 2023Q1–2024Q4
  (``data/calibration_facts.csv``) and how each maps onto a simulated column.
- :mod:`~openweight_sim.calibration.scorecard`: simulated mean and band per fact, within
  tolerance or not (``openweight-sim validate``).
- :mod:`~openweight_sim.calibration.fit`: the free behavioural parameters, the loss and the
  optimiser (``openweight-sim calibrate``).
- :mod:`~openweight_sim.calibration.plots`: simulated against observed, one panel per metric.

Nothing here uses a market outcome after 2024: the facts end at 2024Q4 and the fit runs the
model only to 2024Q4.
"""

from openweight_sim.calibration.facts import IN_SAMPLE_END, IN_SAMPLE_START, load_facts
from openweight_sim.calibration.scorecard import scorecard, simulate

__all__ = ["IN_SAMPLE_END", "IN_SAMPLE_START", "load_facts", "scorecard", "simulate"]

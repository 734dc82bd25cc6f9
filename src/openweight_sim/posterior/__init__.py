"""How sure are we? A posterior over the calibrated parameters (ABC-SMC with pyabc).

* :mod:`~openweight_sim.posterior.priors`: the priors (the fit bounds of the free
  parameters) and the coordinates ABC moves in;
* :mod:`~openweight_sim.posterior.smc`: the generic ABC-SMC core, whose fixed-size batches
  run on the sweep executors with seeds spawned from one root (identical results for any
  executor and worker count), checkpointed and resumable;
* :mod:`~openweight_sim.posterior.known`: a simulator with a closed-form posterior (test);
* :mod:`~openweight_sim.posterior.facts`: the market model as simulator, the tolerance-band
  distance and per-fact hit rates;
* :mod:`~openweight_sim.posterior.calibrate`: the calibration problem, the fact check and
  the prior-to-posterior shrinkage;
* :mod:`~openweight_sim.posterior.predictive`: posterior-predictive runs and the
  law-of-total-variance split (``compare``, ``run`` and ``meta`` use it);
* :mod:`~openweight_sim.posterior.plots` and :mod:`~openweight_sim.posterior.report`: the
  figures and ``report.md``.
"""

from openweight_sim.posterior.predictive import (
    decompose,
    decomposition_table,
    load_posterior,
    posterior_predictive,
)
from openweight_sim.posterior.priors import Prior, calibration_priors
from openweight_sim.posterior.smc import AbcResult, AbcSettings, run_abc

__all__ = [
    "AbcResult",
    "AbcSettings",
    "Prior",
    "calibration_priors",
    "decompose",
    "decomposition_table",
    "load_posterior",
    "posterior_predictive",
    "run_abc",
]

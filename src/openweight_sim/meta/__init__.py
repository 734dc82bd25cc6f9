"""What openness pays Meta: its payoff by channel, its annual review, the paired value.

* :mod:`~openweight_sim.meta.payoff` — the payoff's channel terms (pure functions);
* :mod:`~openweight_sim.meta.observe` — what the payoff reads from a simulated quarter;
* :mod:`~openweight_sim.meta.decision` — the annual review and its proxy estimate;
* :mod:`~openweight_sim.meta.value` — the value of openness as a paired difference
  (``openweight_sim.meta_value``), by channel, with intervals. Not imported here: it runs
  the market model, which imports this package.
* :mod:`~openweight_sim.meta.predictive` — the same value over parameter sets drawn from a
  posterior, with the variance split into parameters and run-to-run noise
  (``openweight_sim.meta_value_posterior``). Its two public names are importable from here,
  loaded on first use (PEP 562) for the same reason.
"""

import importlib
from typing import Any

from openweight_sim.meta.decision import ReviewEstimate, estimate_openness, is_review
from openweight_sim.meta.observe import observe, review_estimate
from openweight_sim.meta.payoff import (
    CHANNELS,
    MetaObservation,
    PayoffHistory,
    PayoffTerms,
    amortised_training,
    payoff_terms,
)

__all__ = [
    "CHANNELS",
    "MetaObservation",
    "MetaValuePosterior",
    "PayoffHistory",
    "PayoffTerms",
    "ReviewEstimate",
    "amortised_training",
    "estimate_openness",
    "is_review",
    "meta_value_posterior",
    "observe",
    "payoff_terms",
    "review_estimate",
]

_LAZY = {
    "MetaValuePosterior": "openweight_sim.meta.predictive",
    "meta_value_posterior": "openweight_sim.meta.predictive",
}


def __getattr__(name: str) -> Any:
    """Import a public name that runs the market model on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'openweight_sim.meta' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

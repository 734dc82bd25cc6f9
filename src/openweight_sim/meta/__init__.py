"""What openness pays Meta: its payoff by channel, its annual review, the paired value.

* :mod:`~openweight_sim.meta.payoff` — the payoff's channel terms (pure functions);
* :mod:`~openweight_sim.meta.observe` — what the payoff reads from a simulated quarter;
* :mod:`~openweight_sim.meta.decision` — the annual review and its proxy estimate;
* :mod:`~openweight_sim.meta.value` — the value of openness as a paired difference
  (``openweight_sim.meta_value``), by channel, with intervals. Not imported here: it runs
  the market model, which imports this package.
"""

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
    "PayoffHistory",
    "PayoffTerms",
    "ReviewEstimate",
    "amortised_training",
    "estimate_openness",
    "is_review",
    "observe",
    "payoff_terms",
    "review_estimate",
]

"""Flags of impossible markets, per quarter and per offer, and the run summary's warning.

Why: a run whose prices are set by the cap, or whose sellers would sell below cost, must say
so where a user looks: in explicit boolean columns of its tables and in one line under the
summary that ``openweight-sim run`` prints. These helpers turn an
:class:`~openweight_sim.market.equilibrium.Equilibrium` into those columns and a quarters
table into that line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from openweight_sim.market.equilibrium import Equilibrium

__all__ = ["QUARTER_FLAGS", "impossible_market_warning", "offer_flags", "quarter_flags"]

QUARTER_FLAGS = ("no_equilibrium", "price_at_cap", "sold_below_cost", "withdrawn_offers")
"""Columns of the quarters table that mark an impossible market (see :func:`quarter_flags`)."""


def quarter_flags(eq: Equilibrium) -> dict[str, Any]:
    """The quarter's market-level flags from its pricing result.

    Returns:
        ``no_equilibrium`` (the prices are not a Nash equilibrium of the uncapped market:
        :attr:`Equilibrium.no_equilibrium`), ``price_at_cap`` (some offer is priced at the
        cap), ``sold_below_cost`` (some offer sells below marginal cost) and
        ``withdrawn_offers`` (how many sellers refused to serve: cost at or above the cap).
    """
    return {
        "no_equilibrium": bool(eq.no_equilibrium),
        "price_at_cap": bool(np.any(eq.price_at_cap)),
        "sold_below_cost": bool(np.any(eq.below_cost)),
        "withdrawn_offers": int(np.count_nonzero(eq.withdrawn)),
    }


def offer_flags(eq: Equilibrium) -> dict[str, list[bool]]:
    """Per-offer flags (lists of length J) for the offers table, in the products' order."""
    return {
        "price_at_cap": eq.price_at_cap.tolist(),
        "no_best_response": eq.no_best_response.tolist(),
        "sold_below_cost": eq.below_cost.tolist(),
        "withdrawn": eq.withdrawn.tolist(),
    }


def impossible_market_warning(quarters: Any) -> str | None:
    """One warning line for a run's quarters table, or ``None`` if every quarter was sound.

    Args:
        quarters: the quarters table (a DataFrame, or a mapping of column name to values);
            tables written before these columns existed give ``None``.

    Returns:
        E.g. ``"warning: no price equilibrium in 20 of 20 quarters (2023Q1-2027Q4): prices
        set by the cap, not by the market; ..."``.
    """
    n = len(quarters["quarter"])
    labels = list(quarters["quarter"])
    parts = []
    for col, text in (
        ("no_equilibrium", "no price equilibrium"),
        ("price_at_cap", "offers priced at the cap"),
        ("sold_below_cost", "offers sold below cost"),
    ):
        if col not in quarters:
            continue
        hit = np.asarray(quarters[col], dtype=bool)
        if hit.any():
            where = [q for q, h in zip(labels, hit, strict=True) if h]
            span = where[0] if len(where) == 1 else f"{where[0]}-{where[-1]}"
            parts.append(f"{text} in {int(hit.sum())} of {n} quarters ({span})")
    if "withdrawn_offers" in quarters:
        withdrawn = np.asarray(quarters["withdrawn_offers"], dtype=float)
        if np.nansum(withdrawn) > 0:
            k = int(np.count_nonzero(withdrawn > 0))
            parts.append(f"sellers refused to serve below cost in {k} of {n} quarters")
    if not parts:
        return None
    return "warning: " + "; ".join(parts) + " (flag columns in quarters and offers tables)"

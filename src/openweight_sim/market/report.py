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
        quarters: the quarters table (a DataFrame, or a mapping of column name to values),
            possibly stacking several replications (a quarter counts if any replication is
            flagged); tables written before these columns existed give ``None``.

    Returns:
        E.g. ``"warning: no price equilibrium in 20 of 20 quarters (first 2023Q1, last
        2027Q4): prices set by the cap or not converged; ..."``.
    """
    labels = [str(q) for q in quarters["quarter"]]
    order = list(dict.fromkeys(labels))  # distinct quarters, in order
    index = np.array([order.index(q) for q in labels], dtype=np.intp)

    def per_quarter(col: str) -> np.ndarray:
        values = np.nan_to_num(np.asarray(quarters[col], dtype=float)) > 0
        return np.bincount(index, weights=values, minlength=len(order)) > 0

    parts = []
    for col, text, why in (
        ("no_equilibrium", "no price equilibrium", "prices set by the cap or not converged"),
        ("price_at_cap", "offers priced at the cap", ""),
        ("sold_below_cost", "offers sold below cost", ""),
        ("withdrawn_offers", "sellers refusing to serve", "marginal cost above the cap"),
    ):
        if col not in quarters:
            continue
        hit = per_quarter(col)
        if hit.any():
            where = [q for q, h in zip(order, hit, strict=True) if h]
            span = where[0] if len(where) == 1 else f"first {where[0]}, last {where[-1]}"
            note = f": {why}" if why else ""
            parts.append(f"{text} in {len(where)} of {len(order)} quarters ({span}){note}")
    if not parts:
        return None
    return "warning: " + "; ".join(parts) + "; see the flag columns of quarters and offers"

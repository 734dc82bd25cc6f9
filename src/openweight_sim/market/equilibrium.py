"""The result of a pricing problem: prices, shares, and flags saying what kind of point it is.

Why: a solver output is only a market outcome if it is an equilibrium. The result object
carries, per product, whether the price sits at the cap, whether the seller refused to serve
(marginal cost at or above the cap) or sells below cost, and whether its owner has a finite
best response at all; :attr:`Equilibrium.no_equilibrium` sums this up for the market, so no
caller can mistake a capped runaway or a stalled iteration for an equilibrium.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["Equilibrium"]

_FLAGS = ("price_at_cap", "below_cost", "withdrawn", "no_best_response")


@dataclass(frozen=True, eq=False)
class Equilibrium:
    """Result of :func:`~openweight_sim.market.solve_equilibrium`.

    Attributes:
        prices: equilibrium prices (J,).
        shares: choice probabilities per segment at those prices (G, J).
        markups: prices minus marginal costs (J,); 0 for fixed (fringe) products.
        converged: whether the FOC residual fell below the tolerance within ``max_iter``.
        iterations: number of evaluations of the zeta-markup map.
        residual: final max-norm of the FOC residual relative to the weight sum.
        demand: aggregate demand ``Q_j = sum_g weight_g * s_gj`` (J,), if known.
        price_at_cap: (J,) strategic products priced at the price cap.
        below_cost: (J,) strategic products sold (positive demand) below marginal cost.
        withdrawn: (J,) strategic products whose marginal cost is at or above the cap: the
            seller refuses to serve, so the product is unavailable to every segment (demand
            0); it is quoted at its marginal cost with markup 0.
        no_best_response: (J,) products whose owner has no profit-maximising price the
            market could settle at (log price only): either no finite best response exists
            at all (demand too inelastic in the price tail, see
            :func:`openweight_sim.market.pricing.no_finite_best_response`), or the product
            sits at the cap where its demand is still inelastic (the first-order conditions
            ask for a markup at least as large as the price itself, so revenue, not just
            profit, still rises with price). Either way the cap, not the market, sets it.

    The four flags default to all False (a result built by hand, e.g. adaptive prices).
    """

    prices: NDArray[np.float64]
    shares: NDArray[np.float64]
    markups: NDArray[np.float64]
    converged: bool
    iterations: int
    residual: float = float("nan")
    demand: NDArray[np.float64] | None = None
    price_at_cap: NDArray[np.bool_] | None = None
    below_cost: NDArray[np.bool_] | None = None
    withdrawn: NDArray[np.bool_] | None = None
    no_best_response: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        """Fill flags that were not given with all-False arrays of the products' length."""
        for name in _FLAGS:
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros(np.shape(self.prices), dtype=bool))

    @property
    def no_equilibrium(self) -> bool:
        """True if these prices are not a Nash equilibrium of the uncapped market.

        Either the iteration did not converge (no point satisfying the first-order
        conditions was found), or some product is flagged ``no_best_response``: its price is
        set by the cap rather than by the market.
        """
        return (not self.converged) or bool(np.any(self.no_best_response))

    @property
    def costs(self) -> NDArray[np.float64]:
        """Marginal costs implied by prices and markups (J,)."""
        return self.prices - self.markups

    @property
    def lerner(self) -> NDArray[np.float64]:
        """Lerner index (p - c) / p per product (NaN where the price is 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.prices != 0, self.markups / self.prices, np.nan)

    def explain(self) -> str:
        """Human-readable summary: convergence facts and a per-product price table."""
        status = "converged" if self.converged else "NOT converged"
        lines = [
            f"Bertrand-Nash equilibrium {status} after {self.iterations} iterations "
            f"(FOC residual {self.residual:.3g}, relative to total weight)",
        ]
        if self.no_equilibrium:
            lines.append("NO EQUILIBRIUM: " + self._why_not())
        lines.append(
            f"{'product':>7} {'price':>12} {'cost':>12} {'markup':>12} {'Lerner':>8}"
            + (f" {'demand':>12}" if self.demand is not None else "")
            + "  flags"
        )
        costs, lerner = self.costs, self.lerner
        for j in range(self.prices.size):
            row = (
                f"{j:>7d} {self.prices[j]:>12.6g} {costs[j]:>12.6g} {self.markups[j]:>12.6g} "
                f"{lerner[j]:>8.4f}"
            )
            if self.demand is not None:
                row += f" {self.demand[j]:>12.6g}"
            lines.append(row + "  " + " ".join(f for f in _FLAGS if getattr(self, f)[j]))
        return "\n".join(lines)

    def _why_not(self) -> str:
        """One line on why the prices are not an equilibrium (see :attr:`no_equilibrium`)."""
        reasons = []
        if not self.converged:
            reasons.append("the first-order conditions were not solved")
        n = int(np.count_nonzero(self.no_best_response))
        if n:
            reasons.append(
                f"{n} product(s) have no best response below the cap (demand too "
                "inelastic): their prices are set by the cap"
            )
        return "; ".join(reasons)

    def to_frame(self) -> pd.DataFrame:
        """Per-product table (price, cost, markup, Lerner, mean share, demand) as a DataFrame."""
        import pandas as pd

        data: dict[str, NDArray[np.float64]] = {
            "price": self.prices,
            "cost": self.costs,
            "markup": self.markups,
            "lerner": self.lerner,
            "mean_share": self.shares.mean(axis=0),
        }
        if self.demand is not None:
            data["demand"] = self.demand
        for name in _FLAGS:
            data[name] = getattr(self, name)
        frame = pd.DataFrame(data)
        frame.index.name = "product"
        return frame

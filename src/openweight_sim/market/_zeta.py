"""The zeta-markup map of one pricing problem: the solver's inner evaluation.

Why: the Bertrand-Nash first-order conditions of multi-product firms facing nested-logit
demand are solved as the fixed point ``p = c + zeta(p)`` of Morrow & Skerlos (2011), as in
pyblp; this module holds one problem's arrays arranged for fast evaluation and remembers the
best point any solver phase has visited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from openweight_sim.market._groups import _Groups
from openweight_sim.market.demand import _choice

if TYPE_CHECKING:
    from types import ModuleType

    from numpy.typing import NDArray


def _compiled() -> ModuleType:
    """The compiled kernels, imported on first use (not on ``import openweight_sim.market``).

    Why: numba takes about 0.5 s to load; a user who only computes shares or costs, or
    imports the package, should not pay it.
    """
    from openweight_sim.market import _kernels

    return _kernels


class _ZetaMap:
    """The zeta-markup map ``p -> c + zeta(p)`` of one pricing problem.

    Products are held in an order where nests and firm-nest cells are contiguous, so the group
    sums of the inner loop need no gathers; arrays are product-major (J, G). An evaluation runs
    through the compiled kernels of :mod:`openweight_sim.market._kernels` (a few fused passes over
    the (J, G) arrays plus numpy's vectorised exp/log) instead of some 60 small numpy
    operations; with a dense ownership matrix the firm and cell aggregates stay two (J, J)
    matrix products. Every evaluation is counted and the point with the smallest FOC residual
    seen so far is remembered, so the solver phases can hand over to each other and the best
    point is what gets returned.
    """

    def __init__(
        self,
        d: NDArray[np.float64],
        c: NDArray[np.float64],
        a: NDArray[np.float64],
        w: NDArray[np.float64],
        strategic: NDArray[np.bool_],
        cap: NDArray[np.float64] | None,
        nest_code: NDArray[np.intp],
        firm_code: NDArray[np.intp],
        omega: NDArray[np.float64] | None,
        sigma: float,
        log_price: bool,
    ) -> None:
        n_seg, n_prod = d.shape
        self.nested = sigma > 0.0
        if self.nested:
            perm = np.lexsort((firm_code, nest_code))
        else:
            perm = np.argsort(firm_code if omega is None else nest_code, kind="stable")
        self.perm, self.inv = perm, np.argsort(perm)
        self.nests = _Groups.from_ids(nest_code[perm], n_prod)
        firms = _Groups.from_ids(firm_code[perm], n_prod)
        cells = _Groups.from_ids(nest_code[perm] * (n_prod + 1) + firm_code[perm], n_prod)
        self.d = np.ascontiguousarray(d.T[perm])  # (J, G), -inf where unavailable
        self.c, self.strategic = c[perm], strategic[perm]
        self.cap = None if cap is None else cap[perm]
        self.omega = omega
        if omega is None:
            self.agg_firm, self.agg_cell = firms.sum_back, cells.sum_back
        else:
            omega_p = omega[np.ix_(perm, perm)]
            omega_nest_p = omega_p * (self.nests.code[:, None] == self.nests.code[None, :])
            self.agg_firm = lambda x: omega_p @ x
            self.agg_cell = lambda x: omega_nest_p @ x
        self.a, self.w, self.sigma, self.log_price = a, w, sigma, log_price
        self.wa = w * a
        self.wq = np.stack([self.wa, w], axis=1)
        self.w_total = float(w.sum())
        self.u_buf = np.empty((n_prod, n_seg))
        self.x_buf = np.empty((n_prod, n_seg))
        # compiled path (openweight_sim.market._kernels): utilities pre-divided by 1 - sigma, nests
        # as contiguous runs, work arrays allocated once per problem
        self.compiled = n_prod > 0
        if self.compiled:
            self.kernels = _compiled()
            scale = 1.0 / (1.0 - sigma) if self.nested else 1.0
            self.d_scaled = self.d * scale
            self.a_scaled = a * scale
            n_nests = self.nests.n_groups if self.nested else 1
            self.nest_bounds = (
                np.append(self.nests.starts, n_prod) if self.nested else np.array([0, n_prod])
            ).astype(np.intp)
            self.firm_of, self.n_firms = firms.code, firms.n_groups
            self.cell_of, self.n_cells = cells.code, cells.n_groups
            self.cond_buf = np.empty((n_prod, n_seg))
            self.big_t, self.big_l, self.q = np.empty(n_prod), np.empty(n_prod), np.empty(n_prod)
            self.nest_top = np.empty((n_nests, n_seg))
            self.nest_total = np.empty((n_nests, n_seg))
            self.nest_log = np.zeros((n_nests, n_seg))
            self.nest_term = np.empty((n_nests, n_seg))
            self.top = np.empty(n_seg)
        # products without demand even when everything sells at cost (demand underflows) can
        # never earn anything: price them at cost like products nobody can buy
        at_cost, _ = self.shares(self.c, self.x_buf)
        self.strategic = self.strategic & (at_cost @ self.wa > 0)
        self.evaluations = 0
        self.best_res = np.inf
        self.best_p = self.clip(self.c.copy())
        self.best_at = 0

    def clip(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """Put non-strategic products at cost and strategic ones at or below the cap."""
        p = np.where(self.strategic, p, self.c)
        if self.cap is not None:
            p = np.where(self.strategic, np.minimum(p, self.cap), p)
        return p

    def valid(self, p: NDArray[np.float64]) -> bool:
        """Whether demand can be evaluated at ``p``."""
        if self.compiled:
            return self.kernels.valid_prices(np.ascontiguousarray(p, dtype=float), self.log_price)
        return bool(np.all(np.isfinite(p)) and (not self.log_price or np.all(p > 0)))

    def shares(self, p: NDArray[np.float64], out: NDArray[np.float64]) -> Any:
        """Choice probabilities (J, G) and within-nest probabilities at prices ``p``.

        The shares are written to ``out``; the within-nest probabilities (``None`` for plain
        logit) live in a work buffer that the next evaluation overwrites.
        """
        fp = np.log(p) if self.log_price else np.ascontiguousarray(p, dtype=float)
        if not self.compiled:
            np.multiply(fp[:, None], self.a[None, :], out=out)
            np.subtract(self.d, out, out=out)
            shares, cond, _ = _choice(out, self.nests, self.sigma)
            return shares, cond
        e = self.u_buf
        self.kernels.shifted_utilities(
            self.d_scaled, self.a_scaled, fp, self.nest_bounds, self.nested, e, self.nest_top
        )
        np.exp(e, out=e)
        if not self.nested:
            self.kernels.plain_shares(e, np.exp(-self.nest_top[0]), out)
            return out, None
        total, log_total, term = self.nest_total, self.nest_log, self.nest_term
        self.kernels.nest_sums(e, self.nest_bounds, total, log_total)
        np.log(log_total, out=log_total)
        self.kernels.nest_logits(self.nest_top, total, log_total, self.sigma, term, self.top)
        np.exp(term, out=term)
        outside = np.exp(-self.top)
        self.kernels.nested_shares(e, total, term, outside, self.nest_bounds, out, self.cond_buf)
        return out, self.cond_buf

    def _aggregate_terms(
        self,
        shares: NDArray[np.float64],
        cond: NDArray[np.float64] | None,
        p: NDArray[np.float64],
        kappa: float,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Demand terms ``big_t``, ``big_l``, ``q`` in numpy, via ``agg_firm`` and ``agg_cell``.

        Used with a dense ownership matrix (two (J, J) products) and by the numpy reference
        path; :func:`openweight_sim.market._kernels.demand_terms` computes the same for firm ids.
        """
        x = np.multiply(shares, np.where(self.strategic, p - self.c, 0.0)[:, None])
        big_t = np.einsum("jg,jg,g->j", self.agg_firm(x), shares, self.wa)
        if self.nested:
            big_t += kappa * np.einsum("jg,jg,g->j", self.agg_cell(x), cond, self.wa)
        big_l, q = (shares @ self.wq).T
        return big_t, big_l, q

    def desired_markups(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """The markups ``zeta(p)`` the first-order conditions ask for at ``p``, before any cap.

        Not counted as an evaluation; ``inf`` for a strategic product without demand. Used to
        read the result (is a capped product's demand inelastic there?), not to iterate.
        """
        shares, cond = self.shares(np.ascontiguousarray(p, dtype=float), self.x_buf)
        kappa = self.sigma / (1.0 - self.sigma) if self.nested else 0.0
        big_t, big_l, q = self._aggregate_terms(shares, cond, p, kappa)
        own = q * p if self.log_price else q
        with np.errstate(divide="ignore", invalid="ignore"):
            zeta = np.where(big_l > 0, (1.0 - self.sigma) * (big_t + own) / big_l, np.inf)
        return np.where(self.strategic, zeta, 0.0)

    def __call__(self, p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Evaluate at ``p``: return ``c + zeta(p)`` (clipped) and the signed FOC residual.

        The residual ``Lambda (p - c - zeta) / sum(w)`` is ``-dProfit_j/dp_j`` of the owner,
        per unit of weight; it is 0 for non-strategic products and for capped products that
        would like to price above the cap.
        """
        shares, cond = self.shares(p, self.x_buf)
        kappa = self.sigma / (1.0 - self.sigma) if self.nested else 0.0
        # big_t = -(Omega o Gamma^T)(p - c) / b_j and big_l = -(1 - sigma) Lambda / b_j, where
        # a_gj = -alpha_g b_j with b_j = 1 (linear) or 1 / p_j (log price)
        if self.compiled:
            p = np.ascontiguousarray(p, dtype=float)
            big_t, big_l, q = self.big_t, self.big_l, self.q
            if self.omega is None:
                self.kernels.demand_terms(
                    shares,
                    shares if cond is None else cond,
                    p,
                    self.c,
                    self.strategic,
                    self.w,
                    self.wa,
                    self.firm_of,
                    self.n_firms,
                    self.cell_of,
                    self.n_cells,
                    kappa,
                    big_t,
                    big_l,
                    q,
                )
            else:
                big_t[:], big_l[:], q[:] = self._aggregate_terms(shares, cond, p, kappa)
            new_p, foc = np.empty_like(p), np.empty_like(p)
            res, runaway = self.kernels.zeta_step(
                p,
                self.c,
                self.strategic,
                self.c if self.cap is None else self.cap,
                self.cap is not None,
                big_t,
                big_l,
                q,
                self.sigma,
                self.log_price,
                self.w_total,
                new_p,
                foc,
            )
        else:
            big_t, big_l, q = self._aggregate_terms(shares, cond, p, kappa)
            own = q * p if self.log_price else q  # Q_j / b_j
            zeta = np.zeros_like(p)
            ok = self.strategic & (big_l > 0)  # zero demand everywhere: price at cost
            np.divide((1.0 - self.sigma) * (big_t + own), big_l, out=zeta, where=ok)
            new_p = self.clip(self.c + zeta)
            lam = big_l / (1.0 - self.sigma)
            if self.log_price:
                lam = lam / p
            foc = np.where(self.strategic, lam * (p - new_p), 0.0) / self.w_total
            res = float(np.abs(foc).max()) if foc.size else 0.0
            runaway = bool(np.any(self.strategic & (big_l <= 0)))
        self.evaluations += 1
        # A strategic product whose demand has underflowed to zero has a zero FOC residual at
        # any price (Lambda_j = 0), so "prices ran away to infinity" would pass the stopping
        # rule (runaway); such points are never recorded as the solution.
        if not runaway and np.isfinite(res) and res < self.best_res:
            self.best_res, self.best_p = res, p.copy()
            self.best_at = self.evaluations
        return new_p, foc

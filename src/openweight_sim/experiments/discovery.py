"""Scenario discovery with PRIM (Friedman & Fisher's Patient Rule Induction Method).

Given the sweep's parameter points ``X`` and a yes/no outcome per point (e.g. "the closed
price in 2026Q4 is below 0.5× its counterfactual"), PRIM finds boxes of parameter ranges
where the outcome is concentrated, as EMA Workbench's ``analysis.prim`` does:

* **peeling**: repeatedly cut off the ``peel_alpha`` share of the box's points at the low
  or high end of one parameter, choosing the cut that raises the share of cases of
  interest (density) most per point removed, until the box holds ``mass_min`` of all
  points; every step is a box on the coverage/density trade-off ("peeling trajectory");
* **selection**: among the boxes whose density is at least ``min_density``, the one with
  the highest coverage × density (else the densest);
* **pasting**: widen the selected box again along any side while its density does not
  fall;
* **pruning**: drop restrictions whose quasi-p-value exceeds ``max_qp`` (limits that add
  nothing; EMA Workbench users do this by hand with ``drop_restriction``);
* **covering**: remove the points of the box and look for the next one.

Coverage is the share of all cases of interest inside the box; density the share of the
box's points that are cases of interest; mass the box's share of all points. Each limit
gets a quasi-p-value (a binomial test of the box's density against the same box without
that limit), as in EMA Workbench: a large value means the limit adds little.

Checked against EMA Workbench's ``Prim`` on the same data (``tests/test_prim_vs_ema.py``): on
outcomes with one region both restrict the same parameters, with limits within 0.02 and
coverage and density within 0.03. The difference: EMA Workbench stops peeling when no single
peel raises the density, while this implementation keeps peeling along the best available cut,
so on an outcome made of disjoint regions its first box reaches one region where EMA's stops
wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class PrimBox:
    """One box found by PRIM.

    Attributes:
        limits: one row per restricted parameter: parameter, low, high, restricted
            (``low``, ``high`` or ``both``), qp (quasi-p-value).
        coverage: share of all cases of interest inside the box.
        density: share of the box's points that are cases of interest.
        mass: the box's share of all points.
        n: points in the box.
        n_interest: cases of interest in the box.
        trajectory: the peeling trajectory (coverage, density, mass, n_restricted per step).
        selected: the trajectory step the box was selected at (before pasting).
    """

    limits: pd.DataFrame
    coverage: float
    density: float
    mass: float
    n: int
    n_interest: int
    trajectory: pd.DataFrame = field(repr=False)
    selected: int = 0

    def describe(self, digits: int = 3) -> str:
        """The box's restrictions as text, e.g. ``a ≥ 0.61 and b in [1, 3]``."""
        if self.limits.empty:
            return "(no restriction: the whole parameter space)"
        parts = []
        for row in self.limits.itertuples():
            lo, hi = f"{row.low:.{digits}g}", f"{row.high:.{digits}g}"
            if row.restricted == "low":
                parts.append(f"{row.parameter} ≥ {lo}")
            elif row.restricted == "high":
                parts.append(f"{row.parameter} ≤ {hi}")
            else:
                parts.append(f"{row.parameter} in [{lo}, {hi}]")
        return " and ".join(parts)


def _inside(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, skip: int = -1) -> np.ndarray:
    ok = (x >= lo) & (x <= hi)
    if skip >= 0:
        ok[:, skip] = True
    return ok.all(axis=1)


def _peel_candidates(x, y, inside, lo, hi, alpha, n_min):
    """Yield (objective, n_new, j, lo_j, hi_j) for every admissible one-sided peel."""
    n_in = int(inside.sum())
    dens = y[inside].mean()
    for j in range(x.shape[1]):
        xj = x[inside, j]
        values = np.unique(xj)
        if values.size < 2:
            continue
        for side in ("low", "high"):
            if side == "low":
                cut = np.quantile(xj, alpha, method="lower")
                if not (xj < cut).any():
                    cut = values[1]
                new_lo, new_hi = cut, hi[j]
            else:
                cut = np.quantile(xj, 1 - alpha, method="higher")
                if not (xj > cut).any():
                    cut = values[-2]
                new_lo, new_hi = lo[j], cut
            keep = inside & (x[:, j] >= new_lo) & (x[:, j] <= new_hi)
            n_new = int(keep.sum())
            if n_new < n_min or n_new == n_in:
                continue
            gain = (y[keep].mean() - dens) / (n_in - n_new)
            yield gain, n_new, j, new_lo, new_hi


def _stats(y: np.ndarray, inside: np.ndarray, n_all: int, interest_all: int) -> dict:
    n_in = int(inside.sum())
    k = int(y[inside].sum())
    return {
        "coverage": k / interest_all if interest_all else math.nan,
        "density": k / n_in if n_in else math.nan,
        "mass": n_in / n_all,
        "n": n_in,
        "n_interest": k,
    }


def _paste(x, y, lo, hi, alpha):
    """Widen the box along any side while its density does not fall."""
    lo, hi = lo.copy(), hi.copy()
    while True:
        inside = _inside(x, lo, hi)
        n_in, dens = int(inside.sum()), y[inside].mean()
        best = None
        for j in range(x.shape[1]):
            others = _inside(x, lo, hi, skip=j)
            for side in ("low", "high"):
                if side == "low":
                    cand = np.sort(x[others & (x[:, j] < lo[j]), j])[::-1]
                else:
                    cand = np.sort(x[others & (x[:, j] > hi[j]), j])
                if cand.size == 0:
                    continue
                step = cand[min(cand.size, max(1, math.ceil(alpha * n_in))) - 1]
                new_lo = step if side == "low" else lo[j]
                new_hi = step if side == "high" else hi[j]
                keep = others & (x[:, j] >= new_lo) & (x[:, j] <= new_hi)
                d_new = y[keep].mean()
                if d_new >= dens and (best is None or d_new > best[0]):
                    best = (d_new, j, new_lo, new_hi)
        if best is None:
            return lo, hi
        _, j, lo[j], hi[j] = best


def _qp_values(x, y, lo, hi, restricted: list[int]) -> list[float]:
    from scipy.stats import binom

    inside = _inside(x, lo, hi)
    n_b, k_b = int(inside.sum()), int(y[inside].sum())
    out = []
    for j in restricted:
        relaxed = _inside(x, lo, hi, skip=j)
        p = y[relaxed].mean()
        out.append(float(binom.sf(k_b - 1, n_b, p)))
    return out


def _find_box(x, y, names, full_lo, full_hi, n_all, interest_all, opts) -> PrimBox:
    lo, hi = full_lo.copy(), full_hi.copy()
    inside = np.ones(len(y), dtype=bool)
    n_min = max(1, math.ceil(opts["mass_min"] * n_all))
    steps = []

    def record():
        restricted = int(((lo > full_lo) | (hi < full_hi)).sum())
        steps.append(
            _stats(y, inside, n_all, interest_all)
            | {"n_restricted": restricted, "lo": lo.copy(), "hi": hi.copy()}
        )

    record()
    while y[inside].mean() < 1:
        cands = list(_peel_candidates(x, y, inside, lo, hi, opts["peel_alpha"], n_min))
        if not cands:
            break
        _, _, j, lo[j], hi[j] = max(cands, key=lambda c: (c[0], c[1]))
        inside = _inside(x, lo, hi)
        record()
    traj = pd.DataFrame(steps)
    ok = traj.index[traj["density"] >= opts["min_density"]]
    if len(ok):
        score = traj.loc[ok, "coverage"] * traj.loc[ok, "density"]
        sel = int(score.idxmax())
    else:
        sel = int(traj.sort_values(["density", "coverage"], ascending=False).index[0])
    lo, hi = _paste(x, y, traj.loc[sel, "lo"], traj.loc[sel, "hi"], opts["paste_alpha"])
    restricted = [j for j in range(len(names)) if lo[j] > full_lo[j] or hi[j] < full_hi[j]]
    qps = _qp_values(x, y, lo, hi, restricted)
    while opts["max_qp"] is not None and qps and max(qps) > opts["max_qp"]:
        j = restricted[int(np.argmax(qps))]
        lo[j], hi[j] = full_lo[j], full_hi[j]
        restricted.remove(j)
        qps = _qp_values(x, y, lo, hi, restricted)
    inside = _inside(x, lo, hi)
    limits = pd.DataFrame(
        [
            {
                "parameter": names[j],
                "low": float(lo[j]),
                "high": float(hi[j]),
                "restricted": "both"
                if lo[j] > full_lo[j] and hi[j] < full_hi[j]
                else ("low" if lo[j] > full_lo[j] else "high"),
                "qp": qp,
            }
            for j, qp in zip(restricted, qps, strict=True)
        ],
        columns=["parameter", "low", "high", "restricted", "qp"],
    )
    st = _stats(y, inside, n_all, interest_all)
    traj = traj.drop(columns=["lo", "hi"])
    return PrimBox(
        limits, st["coverage"], st["density"], st["mass"], st["n"], st["n_interest"], traj, sel
    )


def prim(
    x: pd.DataFrame,
    y: np.ndarray | pd.Series,
    *,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    min_density: float = 0.8,
    max_boxes: int = 3,
    max_qp: float | None = 0.5,
) -> list[PrimBox]:
    """Find up to ``max_boxes`` boxes where ``y`` is concentrated (covering approach).

    Args:
        x: one row per case, one numeric column per parameter.
        y: True for the cases of interest.
        peel_alpha: share of the box's points removed per peeling step.
        paste_alpha: share of the box's points added per pasting step.
        mass_min: smallest box, as a share of all points.
        min_density: a box is selected (and a further box searched for) only at or above
            this density; the first box is always returned.
        max_boxes: most boxes to return.
        max_qp: drop, one at a time, restrictions whose quasi-p-value exceeds this (the
            default 0.5 drops only limits that add nothing, such as a cut at the edge of
            the sampled range; None keeps them all, as EMA Workbench does).

    Returns:
        The boxes, best first; coverage, density and mass are relative to all cases.
    """
    names = list(x.columns)
    xa = x.to_numpy(dtype=float)
    ya = np.asarray(y, dtype=bool)
    if len(ya) != len(xa):
        raise ValueError("x and y differ in length")
    full_lo, full_hi = xa.min(axis=0), xa.max(axis=0)
    n_all, interest_all = len(ya), int(ya.sum())
    opts = {
        "peel_alpha": peel_alpha,
        "paste_alpha": paste_alpha,
        "mass_min": mass_min,
        "min_density": min_density,
        "max_qp": max_qp,
    }
    boxes: list[PrimBox] = []
    remaining = np.ones(n_all, dtype=bool)
    while len(boxes) < max_boxes and ya[remaining].any():
        box = _find_box(
            xa[remaining], ya[remaining], names, full_lo, full_hi, n_all, interest_all, opts
        )
        if boxes and box.density < min_density:
            break
        boxes.append(box)
        lo = np.array([full_lo[j] for j in range(len(names))])
        hi = np.array([full_hi[j] for j in range(len(names))])
        for row in box.limits.itertuples():
            j = names.index(row.parameter)
            lo[j], hi[j] = row.low, row.high
        remaining &= ~_inside(xa, lo, hi)
    return boxes


def boxes_table(boxes: list[PrimBox]) -> pd.DataFrame:
    """All boxes as one tidy table (one row per box and restricted parameter)."""
    rows = []
    for i, b in enumerate(boxes, start=1):
        head = {
            "box": i,
            "coverage": b.coverage,
            "density": b.density,
            "mass": b.mass,
            "n": b.n,
            "n_interest": b.n_interest,
        }
        if b.limits.empty:
            rows.append(head | {"parameter": None, "low": None, "high": None, "qp": None})
        for row in b.limits.itertuples():
            rows.append(
                head
                | {
                    "parameter": row.parameter,
                    "low": row.low,
                    "high": row.high,
                    "restricted": row.restricted,
                    "qp": row.qp,
                }
            )
    cols = ["box", "coverage", "density", "mass", "n", "n_interest", "parameter", "low"]
    return pd.DataFrame(rows, columns=[*cols, "high", "restricted", "qp"])

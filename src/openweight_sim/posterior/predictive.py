"""Posterior-predictive answers: parameter uncertainty and run-to-run noise together.

:func:`posterior_predictive` draws ``draws`` parameter sets from a posterior sample
(weighted, with a generator seeded from ``SeedSequence(seed, spawn_key=(DRAWS,))``), runs
each draw's scenario(s) under the same ``replications`` seeds ``spawn_seeds(seed, R)``
(common random numbers: draw ``d``'s A and B runs, and every draw, share the seeds, so
differences between draws are differences of parameters, not of luck), and returns the
stacked per-quarter frames with a ``draw`` column.

:func:`decompose` splits the variance of a per-run quantity ``y`` (a level, an A/B ratio
of paired runs, or an A − B difference) by the law of total variance,
``Var y = E[Var(y | θ)] + Var(E[y | θ])``: *within* is the mean over draws of the
replications' variance (stochastic noise), *between* is the variance of the draw means less
their own sampling noise (parameter uncertainty, floored at 0). Because every draw runs under
the same seeds, a seed's own effect is common to all draw means and cancels between them: the
draws' sampling noise is the draw × seed interaction, ``MS_int / R`` of the two-way layout
(draws × replications), not ``within / R``, which would count the shared seed effects too and
understate the parameters' share. (Without a replication index, or with missing runs, the
one-way ``within / R`` is used.) The predictive interval is the 2.5–97.5% quantile range of
all runs' values (both kinds of uncertainty), and the parameter interval that of the draw
means.

The ``compare``, ``run`` and ``meta`` commands all call this one function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.scenario import Scenario, ScenarioError, load_scenario

DRAWS = 2
"""Spawn-key element of the generator that draws parameter sets."""
POSTERIOR_FILE = "posterior.parquet"
"""The posterior sample in a posterior results directory."""
DECOMPOSITION_COLUMNS = [
    "column",
    "quarter",
    "kind",
    "draws",
    "replications",
    "mean",
    "lo",
    "hi",
    "param_lo",
    "param_hi",
    "var_within",
    "var_between",
    "share_parameters",
]


def resolve_posterior(directory: str | Path) -> Path:
    """The posterior directory a ``--posterior`` argument names.

    An existing directory wins; otherwise a bundled posterior's name (``baseline``: the
    shipped baseline's posterior, :func:`openweight_sim.bundled.bundled_posterior`).

    Raises:
        ScenarioError: neither exists.
    """
    from openweight_sim.bundled import bundled_posterior

    d = Path(directory)
    if d.is_dir():
        return d
    bundled = bundled_posterior(str(directory))
    if bundled is None:
        raise ScenarioError(
            "--posterior", str(directory), "no such directory (nor a bundled posterior: baseline)"
        )
    return bundled


def posterior_record(directory: str | Path) -> dict[str, str]:
    """What results record of the posterior they drew from.

    The argument, the directory it named, and the SHA-256 of its sample: a bundled sample may
    be replaced later, and a directory called ``baseline`` may shadow the bundled one.
    """
    import hashlib

    d = resolve_posterior(directory)
    digest = hashlib.sha256((d / POSTERIOR_FILE).read_bytes()).hexdigest()
    return {
        "posterior": str(directory),
        "posterior_dir": str(d.resolve()),
        "posterior_sha256": digest,
    }


def load_posterior(directory: str | Path) -> pd.DataFrame:
    """The posterior sample of a ``posterior`` results directory (values and ``weight``).

    ``directory`` may also name a bundled posterior (``baseline``, see
    :func:`resolve_posterior`).

    Raises:
        ScenarioError: one line if the directory or its sample is missing or unusable.
    """
    from openweight_sim.outdir import results_kind

    d = resolve_posterior(directory)
    if results_kind(d) != "posterior":
        raise ScenarioError(
            "--posterior", str(directory), "is not a posterior results directory (run "
            "`openweight-sim posterior --out DIR` first)",
        )  # fmt: skip
    try:
        df = pd.read_parquet(d / POSTERIOR_FILE)
    except (OSError, ValueError) as exc:
        raise ScenarioError(
            str(d / POSTERIOR_FILE), "", f"unreadable: {exc}".splitlines()[0]
        ) from None
    w = df.get("weight")
    if w is None or len(df) == 0 or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ScenarioError(str(d / POSTERIOR_FILE), "weight", "missing or not positive")
    return df


def parameter_columns(sample: pd.DataFrame) -> list[str]:
    """The parameter columns of a posterior sample (dotted scenario paths)."""
    return [c for c in sample.columns if c not in ("weight", "distance")]


def draw_parameters(sample: pd.DataFrame, draws: int, seed: int) -> list[dict[str, float]]:
    """``draws`` parameter sets drawn with replacement, by weight, reproducibly."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(DRAWS,)))
    w = sample["weight"].to_numpy(float)
    idx = rng.choice(len(sample), size=draws, replace=True, p=w / w.sum())
    cols = parameter_columns(sample)
    return [{c: float(sample[c].iloc[i]) for c in cols} for i in idx]


@dataclass
class PredictiveRuns:
    """The runs of a posterior-predictive experiment.

    Attributes:
        draws: the parameter sets, in draw order.
        quarters_a: stacked per-quarter frames of A with ``draw``, ``replication``, ``seed``.
        quarters_b: the same for B (None without a B).
        seeds: the replications' seeds (shared by every draw and by A and B).
    """

    draws: list[dict[str, float]]
    quarters_a: pd.DataFrame
    quarters_b: pd.DataFrame | None
    seeds: list[int]

    def draws_frame(self) -> pd.DataFrame:
        """One row per draw: ``draw`` and the parameter values."""
        return pd.DataFrame([{"draw": d, **p} for d, p in enumerate(self.draws)])


def posterior_predictive(
    a: str | Path | Scenario,
    b: str | Path | Scenario | None,
    sample: pd.DataFrame,
    draws: int = 20,
    replications: int = 5,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    counterfactual: bool = False,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
) -> PredictiveRuns:
    """Run scenario A (and B) at ``draws`` parameter sets drawn from the posterior.

    Args:
        a: scenario A.
        b: scenario B (the reference), or None.
        sample: a posterior sample (:func:`load_posterior`).
        draws: parameter sets drawn.
        replications: runs per draw and scenario, seeds ``spawn_seeds(seed, R)`` for all.
        seed: root seed of the draws and of the runs.
        overrides: applied to every run, under the drawn values.
        counterfactual: with ``b=None``, B is A's counterfactual (no open weights).
        executor: ``serial``, ``processes`` or ``dask`` (same results for all).
        workers: parallel workers.
        scheduler: address of a running Dask scheduler (implies ``dask``).
    """
    from openweight_sim.counterfactual import counterfactual_scenario
    from openweight_sim.runs import run_replications
    from openweight_sim.seeds import spawn_seeds

    params = draw_parameters(sample, draws, seed)
    ov = dict(overrides or {})
    scen_a = [load_scenario(a, {**ov, **p}) for p in params]
    if b is not None:
        scen_b = [load_scenario(b, {**ov, **p}) for p in params]
    elif counterfactual:
        scen_b = [counterfactual_scenario(s) for s in scen_a]
    else:
        scen_b = []
    reps = run_replications(
        [*scen_a, *scen_b], replications, seed,
        executor=executor, workers=workers, scheduler=scheduler,
    )  # fmt: skip

    def stack(part: Sequence[Any]) -> pd.DataFrame:
        frames = [r.quarters.assign(draw=d) for d, r in enumerate(part)]
        df = pd.concat(frames, ignore_index=True)
        return df[["draw", *[c for c in df.columns if c != "draw"]]]

    qa = stack(reps[:draws])
    qb = stack(reps[draws:]) if scen_b else None
    return PredictiveRuns(params, qa, qb, spawn_seeds(seed, replications))


def decompose(values: pd.DataFrame, level: float = 0.95) -> dict[str, float]:
    """Law-of-total-variance split of a per-run quantity.

    Args:
        values: columns ``draw`` and ``value`` (one row per run; NaN rows dropped), and
            ``replication`` when the draws share their seeds (then the draws' sampling noise
            is the draw × replication interaction; see the module docstring).
        level: coverage of the intervals.

    Returns:
        ``mean``, ``lo``/``hi`` (all runs), ``param_lo``/``param_hi`` (draw means),
        ``var_within``, ``var_between``, ``share_parameters``, ``draws``, ``replications``.
    """
    v = values.dropna(subset=["value"])
    q = [(1 - level) / 2, (1 + level) / 2]
    g = v.groupby("draw")["value"]
    means, var, n = g.mean(), g.var(ddof=1), g.count()
    nan = float("nan")
    if v.empty:
        return dict.fromkeys(DECOMPOSITION_COLUMNS[3:], nan)
    r = float(n.mean())
    within = float(var.mean()) if (n > 1).any() else nan
    raw_between = float(means.var(ddof=1)) if len(means) > 1 else nan
    noise = _interaction_mean_square(v)
    if noise is None:
        noise = within if np.isfinite(within) else 0.0
    between = max(raw_between - noise / r, 0.0)
    total = between + within
    return {
        "draws": len(means),
        "replications": r,
        "mean": float(v["value"].mean()),
        "lo": float(v["value"].quantile(q[0])),
        "hi": float(v["value"].quantile(q[1])),
        "param_lo": float(means.quantile(q[0])),
        "param_hi": float(means.quantile(q[1])),
        "var_within": within,
        "var_between": between,
        "share_parameters": between / total if total > 0 else nan,
    }


def _interaction_mean_square(v: pd.DataFrame) -> float | None:
    """Draw × replication mean square of a complete two-way layout, else None.

    With common random numbers (replication ``r`` of every draw under seed ``r``) this is the
    noise that does not cancel between draw means; :func:`decompose` subtracts it over ``R``.
    """
    if "replication" not in v:
        return None
    wide = v.pivot_table(index="draw", columns="replication", values="value", aggfunc="mean")
    d, r = wide.shape
    if d < 2 or r < 2 or wide.isna().any().any() or len(v) != d * r:
        return None
    y = wide.to_numpy(float)
    resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    return float((resid**2).sum() / ((d - 1) * (r - 1)))


def _per_run(qa: pd.DataFrame, qb: pd.DataFrame | None, column: str, quarter: str, kind: str):
    keys = ["draw", "replication"]
    a = qa.loc[qa["quarter"] == quarter, [*keys, column]].set_index(keys)[column].astype(float)
    if qb is None or kind == "level":
        return a
    b = qb.loc[qb["quarter"] == quarter, [*keys, column]].set_index(keys)[column].astype(float)
    a, b = a.align(b, join="inner")
    if kind == "ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = a / b.where(b != 0)
        return out
    return a - b


def decomposition_table(
    runs: PredictiveRuns,
    columns: Mapping[str, str],
    quarters: Sequence[str],
    level: float = 0.95,
) -> pd.DataFrame:
    """:func:`decompose` for each column and quarter.

    Args:
        runs: the predictive runs.
        columns: column → kind: ``ratio`` (A/B of paired runs), ``diff`` (A − B) or
            ``level`` (A's value); without B every kind is ``level``.
        quarters: the quarters.
        level: coverage of the intervals.
    """
    rows = []
    for col, kind in columns.items():
        if col not in runs.quarters_a:
            continue
        k = kind if runs.quarters_b is not None else "level"
        for q in quarters:
            y = _per_run(runs.quarters_a, runs.quarters_b, col, q, k)
            stats = decompose(y.rename("value").reset_index(), level)
            rows.append({"column": col, "quarter": q, "kind": k, **stats})
    return pd.DataFrame(rows, columns=DECOMPOSITION_COLUMNS)


def format_decomposition(table: pd.DataFrame) -> str:
    """The decomposition as text lines: value, intervals and the parameters' share."""
    from openweight_sim.columns import COLUMNS

    lines = []
    for r in table.itertuples():
        col = COLUMNS.get(r.column)
        label = col.label if col is not None else r.column
        what = {"ratio": "A/B", "diff": "A − B", "level": "level"}[r.kind]
        # levels and differences in the column's display unit (USD bn/q, not raw USD)
        scale, unit = (1.0, "")
        if r.kind != "ratio" and col is not None and not col.is_share:
            scale, unit = col.scale, f" {col.unit}"
        m, lo, hi, plo, phi = (scale * x for x in (r.mean, r.lo, r.hi, r.param_lo, r.param_hi))
        share = "–" if not np.isfinite(r.share_parameters) else f"{r.share_parameters:.0%}"
        lines.append(
            f"{label} ({what}) {r.quarter}: {m:.3g}{unit} (95% predictive {lo:.3g}–{hi:.3g}; "
            f"draw means {plo:.3g}–{phi:.3g}); variance from parameters "
            f"{share}, from run-to-run noise the rest"
        )
    return "\n".join(lines)

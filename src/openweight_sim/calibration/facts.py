"""The in-sample market facts (2023Q1–2024Q4) and their simulated counterparts.

``data/calibration_facts.csv`` holds one observed value per metric and quarter with a
tolerance band ``[low, high]``. Every metric has a column of the same name in the model's
per-quarter frame, except the H100 rental price, whose simulated counterpart is the
exogenous input ``gpu_price`` (reproduced by construction, never fitted).

Sources: each fact's ``source`` column; the source tables themselves are in ``data/sources/``
(``market_facts.csv`` and Epoch AI extracts, CC BY 4.0, credit: Epoch AI,
https://epoch.ai/data); see ``data/README.md``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from openweight_sim.bundled import data_file
from openweight_sim.scenario import ScenarioError, quarter_index

IN_SAMPLE_START = "2023Q1"
IN_SAMPLE_END = "2024Q4"
"""The calibration window: facts outside it are never loaded, the fit never runs past it."""

FACT_COLUMNS = ["id", "metric", "period", "observed", "low", "high", "unit", "source", "note"]

READINGS = ("primary", "secondary", "recalled")
"""How a fact was read (optional ``read`` column): in the source itself, in a text quoting
it, or from memory without a source text (recalled facts get wider bands)."""

MODEL_COLUMN: dict[str, str] = {
    "price_gpt4_level": "price_gpt4_level",
    "price_open_hosted_70b": "price_open_hosted_70b",
    "quality_gap": "quality_gap",
    "closed_flagship_price": "closed_flagship_price",
    "closed_small_price": "closed_small_price",
    "enterprise_spend_share_openai": "enterprise_spend_share_openai",
    "enterprise_spend_share_anthropic": "enterprise_spend_share_anthropic",
    "enterprise_spend_share_google": "enterprise_spend_share_google",
    "open_share_enterprise_workloads": "open_share_enterprise_workloads",
    "h100_rental_usd_per_hour": "gpu_price",
}
"""Fact metric → column of :meth:`OpenWeightMarket.quarters_frame`."""

LOG_SCALE: frozenset[str] = frozenset(
    {
        "price_gpt4_level",
        "price_open_hosted_70b",
        "closed_flagship_price",
        "closed_small_price",
        "h100_rental_usd_per_hour",
    }
)
"""Metrics compared on a log scale (prices): misses are ratios, not differences."""

EXOGENOUS: frozenset[str] = frozenset({"h100_rental_usd_per_hour"})
"""Metrics that are model inputs: shown on the scorecard, left out of the loss."""

STRUCTURAL: frozenset[str] = frozenset({"quality_gap"})
"""Metrics fixed in-sample by the historical release table, not by behaviour."""

BY_CONSTRUCTION: frozenset[str] = EXOGENOUS | STRUCTURAL
"""Metrics that hold by construction (an input, or the replayed release table): shown on the
scorecard and flagged ``by_construction``, never counted as evidence of behaviour, left out
of the loss."""

METRIC_LABELS: dict[str, str] = {
    "price_gpt4_level": "Cheapest price at GPT-4 level",
    "price_open_hosted_70b": "Hosted Llama 70B price (median host)",
    "quality_gap": "Quality gap, best closed − best open",
    "closed_flagship_price": "OpenAI flagship list price",
    "closed_small_price": "Cheapest closed small model",
    "enterprise_spend_share_openai": "Enterprise API spend share: OpenAI",
    "enterprise_spend_share_anthropic": "Enterprise API spend share: Anthropic",
    "enterprise_spend_share_google": "Enterprise API spend share: Google",
    "open_share_enterprise_workloads": "Open-model share of enterprise workloads",
    "h100_rental_usd_per_hour": "H100 rental price (input)",
}

NOTES: dict[str, str] = {
    "h100_rental_usd_per_hour": "exogenous input (technology.gpu_price): reproduced by "
    "construction, not a test of the model",
    "quality_gap": "in-sample releases replay the historical table: the gap follows from it",
}


def default_facts_path() -> Path:
    """The bundled facts file, ``data/calibration_facts.csv``."""
    return data_file("calibration_facts.csv")


@cache
def _read(path: str) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def load_facts(path: str | Path | None = None) -> pd.DataFrame:
    """Load the in-sample facts, checked and restricted to 2023Q1–2024Q4.

    Args:
        path: a facts CSV (default: the bundled one).

    Returns:
        One row per fact with the columns of :data:`FACT_COLUMNS` plus ``read`` (how it was
        read; empty when the file has no such column), ``column`` (the simulated
        counterpart), ``log_scale`` and ``by_construction``, in file order.

    Raises:
        ScenarioError: missing file, missing columns, an unknown metric, a fact outside
            the calibration window, or a band that does not contain its observed value.
    """
    p = Path(path) if path is not None else default_facts_path()
    if not p.exists():
        raise ScenarioError(str(p), "", "file not found")
    df = _read(str(p)).copy()
    missing = [c for c in FACT_COLUMNS if c not in df.columns]
    if missing:
        raise ScenarioError(str(p), "", f"missing column(s): {', '.join(missing)}")
    unknown = sorted(set(df["metric"]) - set(MODEL_COLUMN))
    if unknown:
        raise ScenarioError(str(p), "metric", f"unknown metric(s): {', '.join(unknown)}")
    lo, hi = quarter_index(IN_SAMPLE_START), quarter_index(IN_SAMPLE_END)
    for row in df.itertuples():
        try:
            q = quarter_index(str(row.period))
        except ValueError as exc:
            raise ScenarioError(str(p), f"{row.id}.period", str(exc)) from None
        if not lo <= q <= hi:
            raise ScenarioError(
                str(p),
                f"{row.id}.period",
                f"{row.period} is outside the calibration window {IN_SAMPLE_START}–{IN_SAMPLE_END}",
            )
        if not row.low <= row.observed <= row.high:
            raise ScenarioError(
                str(p), str(row.id), f"observed {row.observed} outside [{row.low}, {row.high}]"
            )
    if "read" not in df.columns:
        df["read"] = ""
    df["read"] = df["read"].fillna("").astype(str)
    bad = sorted(set(df["read"]) - {"", *READINGS})
    if bad:
        raise ScenarioError(str(p), "read", f"unknown reading(s): {', '.join(bad)}")
    for c in ("observed", "low", "high"):
        df[c] = df[c].astype(float)
    df["column"] = df["metric"].map(MODEL_COLUMN)
    df["log_scale"] = df["metric"].isin(LOG_SCALE)
    df["by_construction"] = df["metric"].isin(BY_CONSTRUCTION)
    return df.reset_index(drop=True)

"""The thesis table: a comparison A vs B told so that a reader gets it in ten seconds.

First one sentence with the answer (closed price ratio and margin change in the last
compared quarter, with 95% intervals), then the levels behind it, then the same effects
at each chosen quarter. A ratio for the closed price; differences for shares and margins (in
percentage points), Meta's payoff and consumer surplus (an index whose differences, not
ratios, are meaningful).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from openweight_sim.columns import COLUMNS


@dataclass(frozen=True)
class Row:
    """How one thesis row is shown.

    Attributes:
        label: row label.
        kind: ``ratio`` (A/B) or ``diff`` (A − B).
        unit: unit of a difference.
        scale: multiplies a difference into ``unit``.
        level: format of a level (mean of A or of B).
        level_scale: multiplies a level before formatting.
        digits: decimals of an effect.
    """

    label: str
    kind: str
    unit: str
    scale: float
    level: str
    level_scale: float = 1.0
    digits: int = 2


def _row(name: str, kind: str, level: str, digits: int = 2) -> Row:
    """A thesis row of a catalogued column: shares' differences in percentage points."""
    col = COLUMNS[name]
    if kind == "ratio":
        unit, scale = "", 1.0
    elif col.is_share:
        unit, scale = "pp", 100.0
    else:
        unit, scale = col.unit, col.scale
    return Row(col.label, kind, unit, scale, level, col.scale, digits)


THESIS_ROWS = {
    "price_closed": _row("price_closed", "ratio", "{:.3g} USD/M"),
    "price_closed_frontier": _row("price_closed_frontier", "ratio", "{:.3g} USD/M"),
    "price_closed_mid": _row("price_closed_mid", "ratio", "{:.3g} USD/M"),
    "price_closed_small": _row("price_closed_small", "ratio", "{:.3g} USD/M"),
    "closed_gross_margin": _row("closed_gross_margin", "diff", "{:.1%}", digits=1),
    "share_open_tokens": _row("share_open_tokens", "diff", "{:.1%}", digits=1),
    "share_open_spend": _row("share_open_spend", "diff", "{:.1%}", digits=1),
    "meta_net_payoff": _row("meta_net_payoff", "diff", "{:.2f} bn/q"),
    # an index (log-sum / alpha, docs/ODD.md): only differences are meaningful, not ratios
    "consumer_surplus": _row("consumer_surplus", "diff", "{:.3g} M"),
}
"""Rows of the thesis table; labels, units and scales from :mod:`openweight_sim.columns`."""


def _ok(*xs: float) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def _effect(row: pd.Series, spec: Row) -> tuple[float, float, float]:
    if spec.kind == "ratio":
        return row["ratio"], row["ratio_lo"], row["ratio_hi"]
    k = spec.scale
    return row["diff"] * k, row["diff_lo"] * k, row["diff_hi"] * k


def _ci(lo: float, hi: float, digits: int) -> str:
    if not _ok(lo, hi):
        return "no interval"
    sep = " to " if lo < 0 else "–"
    return f"95% CI {lo:.{digits}f}{sep}{hi:.{digits}f}"


def _level(spec: Row, value: float) -> str:
    if not _ok(value):
        return "–"
    return spec.level.format(value * spec.level_scale)


def headline(table: pd.DataFrame, name_a: str, name_b: str, quarter: str) -> str:
    """One sentence: the closed price ratio and margin change at ``quarter``."""
    rows = table[table["quarter"] == quarter].set_index("column")
    parts = []
    if "price_closed" in rows.index and _ok(rows.loc["price_closed", "ratio"]):
        r = rows.loc["price_closed"]
        parts.append(
            f"the closed API price under {name_a} is {r['ratio']:.2f}× that under {name_b} "
            f"({_ci(r['ratio_lo'], r['ratio_hi'], 2)})"
        )
    tiers = [
        f"{tier} {rows.loc[f'price_closed_{tier}', 'ratio']:.2f}×"
        for tier in ("frontier", "mid", "small")
        if f"price_closed_{tier}" in rows.index and _ok(rows.loc[f"price_closed_{tier}", "ratio"])
    ]
    if tiers:
        parts.append("by tier " + ", ".join(tiers))
    if "closed_gross_margin" in rows.index and _ok(rows.loc["closed_gross_margin", "diff"]):
        r = rows.loc["closed_gross_margin"]
        d, lo, hi = r["diff"] * 100, r["diff_lo"] * 100, r["diff_hi"] * 100
        way = "lower" if d < 0 else "higher"
        ci = f"95% CI of the difference {lo:+.1f} to {hi:+.1f}" if _ok(lo, hi) else "no interval"
        parts.append(
            f"closed labs' gross margin is {abs(d):.1f} percentage points {way} "
            f"({r['mean_a']:.0%} vs {r['mean_b']:.0%}; {ci})"
        )
    if not parts:
        return f"In {quarter}: no closed-price or margin effect could be computed."
    return f"In {quarter}, " + "; ".join(parts) + "."


def detail(table: pd.DataFrame, name_a: str, name_b: str, quarter: str) -> list[str]:
    """The thesis rows at ``quarter``: effect with interval, and both levels."""
    rows = table[table["quarter"] == quarter].set_index("column")
    lines = [f"{quarter}, {name_a} (A) vs {name_b} (B):"]
    for col, spec in THESIS_ROWS.items():
        if col not in rows.index:
            continue
        r = rows.loc[col]
        e, lo, hi = _effect(r, spec)
        k = spec.digits
        if spec.kind == "ratio":
            eff = f"A/B {e:.{k}f}×" if _ok(e) else "A/B –"
        else:
            eff = f"A−B {e:+.{k}f} {spec.unit}" if _ok(e) else "A−B –"
        levels = f"{_level(spec, r['mean_a'])} vs {_level(spec, r['mean_b'])}"
        lines.append(f"  {spec.label:22} {levels:30} {eff:24} ({_ci(lo, hi, k)})")
    return lines


def by_quarter(table: pd.DataFrame, quarters: list[str]) -> list[str]:
    """The six effects at every chosen quarter: ``effect ±half-width``."""
    head = f"{'':36}" + "".join(f"{q:>14}" for q in quarters)
    lines = [head]
    idx = table.set_index(["column", "quarter"])
    for col, spec in THESIS_ROWS.items():
        if col not in set(table["column"]):
            continue
        name = f"{spec.label} ({'A ÷ B' if spec.kind == 'ratio' else 'A − B, ' + spec.unit})"
        cells = []
        for q in quarters:
            e, lo, hi = _effect(idx.loc[(col, q)], spec)
            if not _ok(e):
                cells.append(f"{'–':>14}")
                continue
            k = spec.digits
            cell = f"{e:.{k}f}" if spec.kind == "ratio" else f"{e:+.{k}f}"
            cell += f" ±{(hi - lo) / 2:.{k}f}" if _ok(lo, hi) else ""
            cells.append(f"{cell:>14}")
        lines.append(f"{name:36}" + "".join(cells))
    return lines


def thesis_text(table: pd.DataFrame, name_a: str, name_b: str, replications: int, seed: int) -> str:
    """The full printed answer of ``openweight-sim compare``."""
    quarters = list(dict.fromkeys(table["quarter"]))
    last = quarters[-1]
    out = [
        f"{name_a} (A) vs {name_b} (B): {replications} paired runs each, common random "
        f"numbers (root seed {seed})",
        "",
        headline(table, name_a, name_b, last),
        "",
        *detail(table, name_a, name_b, last),
        "",
        "Effect by quarter (± half-width of the 95% interval over paired replications):",
        *by_quarter(table, quarters),
    ]
    return "\n".join(out)

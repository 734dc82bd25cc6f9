"""The dashboard's sidebar: scenario picker and sliders, and the overrides they make.

A slider starts at the baseline's exact value (its step is refined where needed, so the
browser's slider, which rounds its value to the step, cannot move it). A slider left at
the baseline's value keeps the chosen scenario's own setting; one moved away overrides it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from mesa.visualization import Slider

from openweight_sim.scenario import Scenario, bundled_names, get_dotted, load_scenario

BASELINE = load_scenario("baseline")
"""The bundled baseline: slider defaults are its values."""

DEFAULT_DEVELOPERS = 20_000
"""Developers simulated by default (a full 20-quarter run takes well under two seconds)."""

DEFAULT_SEED = 42

MAU_CHOICES: dict[str, float] = {
    "1M": 1e6,
    "10M": 1e7,
    "100M": 1e8,
    "700M": 7e8,
    "1B": 1e9,
}
"""Llama licence thresholds offered (monthly active users above which a licence is needed)."""

SLIDER_PATHS: dict[str, str] = {
    "meta_release_interval": "labs.meta.release_interval",
    "meta_moe_leverage": "labs.meta.moe_leverage.frontier",
    "llama_mau_threshold": "labs.meta.mau_threshold",
    "cn_aversion": "developers.cn_aversion",
    "frontier_growth": "technology.frontier_growth",
    "price_sensitivity": "developers.price_sensitivity",
    "switching_cost": "developers.switching_cost",
    "efficiency_growth": "technology.efficiency_growth",
}
"""Model keyword → dotted scenario path of the sliders that override the chosen scenario."""

SLIDERS: dict[str, tuple[str, float, float, float]] = {
    "meta_release_interval": ("Meta: quarters per release", 1, 8, 1),
    "meta_moe_leverage": ("Meta: MoE leverage (×)", 1.0, 30.0, 1.0),
    "cn_aversion": ("CN-origin aversion (×)", 0.0, 3.0, 0.1),
    "frontier_growth": ("Closed frontier Elo/quarter", 0.0, 60.0, 2.0),
    "price_sensitivity": ("Price sensitivity (×)", 0.5, 2.0, 0.1),
    "switching_cost": ("Switching cost", 0.0, 4.0, 0.1),
    "efficiency_growth": ("Efficiency gain per year", 0.0, 1.5, 0.1),
}
"""Scenario sliders: label, min, max and nominal step (refined by :func:`exact_step`)."""

SETTING_LABELS: dict[str, tuple[str, str]] = {
    "labs.meta.release_interval": ("Meta: new Llama generation every", "{:.0f} quarters"),
    "labs.meta.moe_leverage.frontier": ("Meta: frontier MoE leverage", "×{:.0f}"),
    "labs.meta.mau_threshold": ("Llama licence threshold", "{}"),
    "developers.cn_aversion": ("Aversion to Chinese-origin models", "×{:.1f}"),
    "technology.frontier_growth": ("Closed frontier growth", "{:.0f} Elo/quarter"),
    "developers.price_sensitivity": ("Developers' price sensitivity", "×{:g}"),
    "developers.switching_cost": ("Cost of switching model family", "{:g}"),
    "technology.efficiency_growth": ("Serving efficiency growth", "+{:.0%}/year"),
}
"""How the summary card names each slider's setting and formats its value."""

MAX_DECIMALS = 6


def baseline_value(path: str) -> Any:
    """The baseline scenario's value at a dotted path."""
    return get_dotted(BASELINE.model_dump(), path)


def mau_label(value: float) -> str:
    """The :data:`MAU_CHOICES` label of a licence threshold (else the number)."""
    for label, v in MAU_CHOICES.items():
        if np.isclose(v, value):
            return label
    return f"{value:,.0f}"


def _on_grid(value: float, low: float, step: float) -> bool:
    k = (value - low) / step
    return abs(k - round(k)) < 1e-9


def exact_step(value: float, low: float, step: float) -> float:
    """The slider step: ``step`` if ``value`` lies on its grid from ``low``, else finer.

    A browser slider rounds its value to ``low + k·step`` (with as many decimals as
    ``step`` has), so a calibrated 1.331 on a 0.1 grid would become 1.3 on the first
    Reset. The finer step is the power of ten that puts both ``value`` and ``low`` on the
    grid.
    """
    if _on_grid(value, low, step):
        return step
    for decimals in range(MAX_DECIMALS + 1):
        fine = 10.0**-decimals
        if fine < step and _on_grid(value, low, fine):
            return float(fine) if decimals else 1.0
    raise ValueError(f"{value} needs more than {MAX_DECIMALS} decimals")


def _slider(key: str, value: float) -> Slider:
    label, low, high, step = SLIDERS[key]
    if isinstance(step, int):
        return Slider(label, value=int(value), min=low, max=high, step=step)
    return Slider(label, value=float(value), min=low, max=high, step=exact_step(value, low, step))


def model_params() -> dict[str, Any]:
    """SolaraViz ``model_params``: the scenario picker, sliders and fixed values.

    Slider defaults are the baseline's exact values, so a fresh dashboard is the baseline.
    """
    params: dict[str, Any] = {
        "scenario_name": {
            "type": "Select",
            "value": "baseline",
            "values": bundled_names(),
            "label": "Scenario",
        }
    }
    for key, path in SLIDER_PATHS.items():
        if key == "llama_mau_threshold":
            params[key] = {
                "type": "Select",
                "value": mau_label(baseline_value(path)),
                "values": list(MAU_CHOICES),
                "label": "Llama licence threshold (monthly active users)",
            }
        else:
            params[key] = _slider(key, baseline_value(path))
    params["developers"] = Slider(
        "Developers", value=DEFAULT_DEVELOPERS, min=1000, max=20000, step=1000
    )
    params["rng"] = Slider("Random seed", value=DEFAULT_SEED, min=0, max=100, step=1)
    return params


def slider_overrides(values: dict[str, Any]) -> dict[str, Any]:
    """Dotted overrides for the sliders moved away from their baseline value.

    A slider at its baseline value keeps the chosen scenario's own setting.

    Args:
        values: model keyword → slider value (``llama_mau_threshold`` as a label of
            :data:`MAU_CHOICES` or a number).

    Returns:
        ``{"labs.meta.release_interval": 3, ...}``
    """
    out: dict[str, Any] = {}
    for key, path in SLIDER_PATHS.items():
        if key not in values:
            continue
        value = values[key]
        if key == "llama_mau_threshold" and isinstance(value, str):
            value = MAU_CHOICES[value]
        base = baseline_value(path)
        value = round(value) if isinstance(base, int) else float(value)
        if not math.isclose(value, float(base), rel_tol=1e-12, abs_tol=1e-12):
            out[path] = value
    return out


def settings(config: Scenario) -> list[tuple[str, str, bool]]:
    """The slider settings in effect: (label, value, differs from the baseline)."""
    data = config.model_dump()
    rows = []
    for path, (label, fmt) in SETTING_LABELS.items():
        value = get_dotted(data, path)
        base = float(baseline_value(path))
        changed = not math.isclose(float(value), base, rel_tol=1e-12, abs_tol=1e-12)
        shown = mau_label(value) + " MAU" if path.endswith("mau_threshold") else value
        rows.append((label, fmt.format(shown), changed))
    return rows

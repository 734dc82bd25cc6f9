"""Model releases: the record, the historical table, and the rule that generates new ones.

Up to ``scenario.history_until`` the baseline replays the historical release table
(``data/releases_2023_2024.csv``); afterwards each lab's releases follow the rule in
:func:`generation_quality` (frontier labs at the frontier, others catching up by a
fraction of their gap per generation) — a projection, not replayed history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

from openweight_sim.bundled import data_file
from openweight_sim.scenario import quarter_index

REFERENCE_ELO = 1186.0
"""Arena Elo of GPT-4-0314, the 'GPT-4 level' threshold (the quality scale's anchor)."""

CODING_INTERCEPT, CODING_SLOPE = -238.4, 1.192
"""The fixed general-to-coding mapping: coding Elo = −238.4 + 1.192 × Arena Elo.

A standardised-major-axis line of Arena's 2024 coding Elo on its overall Elo over 42
models (data/release_capabilities.md, "The mapping rule", tier 4); not a calibration
parameter.
"""


def coding_from_general(quality: float) -> float:
    """Coding Elo that the general (Arena) Elo maps to (the fixed rule above)."""
    return CODING_INTERCEPT + CODING_SLOPE * quality


@dataclass(frozen=True, slots=True)
class Release:
    """One model release (a record, not an agent).

    Attributes:
        rid: unique id within a run.
        lab: lab id (scenario key).
        name: model name.
        quarter: absolute quarter index of the release.
        tier: frontier, mid or small.
        quality: Arena-Elo-like quality (general capability).
        coding: coding/agentic capability on the Arena Elo scale (data/release_capabilities.csv
            for historical releases; the mapping plus the lab's offset for generated ones).
        total_b: total parameters, billions.
        active_b: active parameters per token, billions (MoE leverage = total/active).
        open_weights: weights downloadable.
        license: permissive, community, research, or proprietary.
        origin: US, CN or EU.
        reasoning: a reasoning model.
        vision: accepts images.
        historical: from the historical table rather than the rule.
    """

    rid: int
    lab: str
    name: str
    quarter: int
    tier: str
    quality: float
    total_b: float
    active_b: float
    open_weights: bool
    license: str
    origin: str
    reasoning: bool = False
    vision: bool = False
    historical: bool = False
    coding: float = float("nan")

    @property
    def leverage(self) -> float:
        """MoE leverage: total over active parameters (1 for dense models)."""
        return self.total_b / self.active_b


class Releases(dict[int, Release]):
    """Every release of a run by id; :meth:`new` issues the next id."""

    def new(self, **fields: Any) -> Release:
        """Create a release record with a fresh id and register it."""
        rel = Release(rid=len(self), **fields)
        self[rel.rid] = rel
        return rel


def best_qualities(
    releases: Iterable[Release],
    active: Iterable[Release],
    sells_api: Callable[[str], bool],
) -> tuple[float, float]:
    """Best closed and best open quality so far (NaN where there is none).

    Closed: every closed release of a lab that sells an API. Open: the best active open
    release under a commercial licence (research-only weights do not count), or, when there
    is none, the best open release ever.

    Args:
        releases: every release so far.
        active: the releases on the market.
        sells_api: whether a lab (by id) runs its own API.
    """
    releases = list(releases)
    closed_q = [r.quality for r in releases if not r.open_weights and sells_api(r.lab)]
    best_open = [r.quality for r in active if r.open_weights and r.license != "research"]
    all_open = [r.quality for r in releases if r.open_weights]
    best_closed = max(closed_q) if closed_q else float("nan")
    best = max(best_open or all_open) if (best_open or all_open) else float("nan")
    return best_closed, best


@cache
def history_table(name: str = "releases_2023_2024") -> pd.DataFrame:
    """Load a bundled historical release table as a DataFrame (cached, do not mutate)."""
    df = pd.read_csv(data_file(f"{name}.csv"))
    for col in ("open_weights", "vision", "reasoning"):
        df[col] = df[col].astype(str).str.lower().eq("true")
    df["quarter_index"] = df["quarter"].map(quarter_index)
    return df


@cache
def capability_table(name: str = "release_capabilities") -> pd.DataFrame:
    """The coding capability of each historical release, indexed by (lab, name) (cached)."""
    df = pd.read_csv(data_file(f"{name}.csv"))
    df["judgement"] = df["judgement"].astype(str).str.lower().eq("true")
    return df.set_index(["lab", "name"])


@cache
def coding_offsets(history: str = "releases_2023_2024") -> dict[str, float]:
    """Each lab's mean coding residual over its *measured* historical releases.

    The residual is a release's coding Elo minus what its general Elo maps to
    (:func:`coding_from_general`); judgement rows are the mapping itself and are left out.
    A lab with no measured release has no entry (offset 0). Anthropic's releases, for
    example, code about 63 Elo better than their general Elo predicts on average, OpenAI's
    about 16 worse (its 2024 GPT-4o versions 30–73 worse).
    """
    table = history_table(history)
    caps = capability_table()
    out: dict[str, list[float]] = {}
    for row in table.itertuples():
        key = (row.lab, row.name)
        if key in caps.index and not caps.loc[key, "judgement"]:
            resid = float(caps.loc[key, "coding_elo"]) - coding_from_general(float(row.quality))
            out.setdefault(row.lab, []).append(resid)
    return {lab: sum(v) / len(v) for lab, v in out.items()}


def historical_coding(lab: str, name: str, quality: float) -> float:
    """Coding Elo of a historical release (the table's value, or the mapping if absent)."""
    caps = capability_table()
    if (lab, name) in caps.index:
        return float(caps.loc[(lab, name), "coding_elo"])
    return coding_from_general(quality)


@cache
def history_by_quarter(name: str = "releases_2023_2024") -> dict[int, list[Any]]:
    """Rows of :func:`history_table` (``itertuples``) grouped by quarter index (cached).

    Why: the model looks up one quarter's releases every historical quarter; grouping once
    avoids filtering the DataFrame each time.
    """
    rows: dict[int, list[Any]] = {}
    for row in history_table(name).itertuples():
        rows.setdefault(int(row.quarter_index), []).append(row)
    return rows


def generation_quality(
    frontier: float,
    previous: float | None,
    *,
    frontier_lab: bool,
    catch_up: float,
    offset: float,
    noise: float,
) -> float:
    """Quality of a lab's next frontier-tier model.

    Frontier labs release at the closed frontier plus their offset; other labs close a
    fraction ``catch_up`` of their gap to the frontier with each generation (Epoch AI:
    open models lag the frontier by about a year, F17).

    Args:
        frontier: the closed frontier's quality this quarter.
        previous: the lab's previous frontier-tier quality (None: first release).
        frontier_lab: whether the lab releases at the frontier.
        catch_up: fraction of the gap closed per generation.
        offset: Elo offset (frontier labs).
        noise: a draw of release-quality noise, Elo.

    Returns:
        The release quality, never above the frontier plus offset plus noise.
    """
    if frontier_lab:
        return frontier + offset + noise
    if previous is None:
        previous = frontier - 150.0
    return previous + catch_up * (frontier - previous) + noise

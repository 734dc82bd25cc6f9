"""The developer side of a scenario: segments, workload types, taste types (pydantic schema).

Part of :mod:`openweight_sim.scenario` (which re-exports every name); docs/ODD.md section 7.5
explains how the demand side uses these fields.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from openweight_sim.schema_base import Strict


class Segment(Strict):
    """A developer segment; values are relative to the population-wide parameters."""

    share: float = Field(gt=0, le=1, description="share of the developer population")
    tokens_m: float = Field(
        gt=0, le=1e9, description="median tokens per developer-quarter, millions"
    )
    tokens_sigma: float = Field(1.0, ge=0, le=4, description="log-s.d. of tokens per developer")
    price_sensitivity: float = Field(gt=0, le=20, description="multiplies developers.price_...")
    quality_sensitivity: float = Field(gt=0, le=20, description="multiplies developers.quality_...")
    cn_aversion: float = Field(0.0, ge=0, le=20, description="utility penalty, Chinese origin")
    requires_self_host: bool = Field(False, description="data residency / air-gapped")
    mau: float = Field(
        1.0e5,
        ge=0,
        le=1e10,
        description="typical monthly active users of the segment's products; a community "
        "licence excludes segments at or above its threshold",
    )
    self_host_fixed_usd: float = Field(
        3.0e4, ge=0, le=1e10, description="engineering cost of self-hosting per quarter, USD"
    )
    self_host_utilization: float = Field(0.3, gt=0, le=1)
    api_constant: float = Field(0.0, ge=-20, le=20, description="utility of using an API")
    open_constant: float = Field(
        0.0,
        ge=-20,
        le=20,
        description="utility of open-weight options however served (negative: a preference "
        "for closed vendors' support, indemnity and SLAs)",
    )
    outside_utility: float = Field(
        0.0, ge=-20, le=20, description="utility of not using an LLM this quarter"
    )
    noncommercial: bool = Field(
        False, description="non-commercial use: may use research-licensed weights"
    )
    enterprise: bool = Field(
        False, description="the segment the enterprise columns report (API spend shares)"
    )
    workloads: list[str] | None = Field(
        None,
        description="the workload types each developer of the segment runs (its portfolio); "
        "null: every type in developers.workloads",
    )


class Workload(Strict):
    """A type of work a developer serves with a model (docs/ODD.md, Demand: workloads).

    A developer runs one workload of each type in its segment's portfolio and may serve
    each with a different model (multi-homing). A task of the workload takes ``steps``
    steps, each succeeding with probability logistic((Q − difficulty)/success_scale), where
    Q = general_weight × general Elo + (1 − general_weight) × coding Elo of the model; the
    buyer pays per successful task, so utility has α·steps·ln P(success).
    """

    volume: float = Field(
        gt=0, le=100, description="tokens per quarter relative to the developer's base volume"
    )
    general_weight: float = Field(
        1.0, ge=0, le=1, description="weight on general (Arena) capability; the rest on coding"
    )
    difficulty: float = Field(
        1000.0, ge=0, le=3000, description="Elo at which one step succeeds half the time"
    )
    steps: float = Field(
        0.0, ge=0, le=50, description="steps per task (errors compound); 0: success ignored"
    )
    success_scale: float = Field(
        100.0, gt=0, le=1000, description="Elo per unit of the step-success logit"
    )
    quality_weight: float = Field(
        1.0, ge=0, le=10, description="multiplies the segment's quality sensitivity"
    )
    price_weight: float = Field(
        1.0, ge=0.25, le=4, description="multiplies the segment's price sensitivity"
    )


class TasteType(Strict):
    """A discrete consumer type (random coefficients): multipliers on α and β per developer."""

    share: float = Field(gt=0, le=1, description="share of each segment's developers")
    price: float = Field(
        1.0, ge=0.25, le=4, description="multiplies price sensitivity (bounded support)"
    )
    quality: float = Field(1.0, ge=0, le=10, description="multiplies quality sensitivity")


def _default_workloads() -> dict[str, Workload]:
    """One general workload: the first demand side (one model per developer, Arena Elo)."""
    return {"general": Workload(volume=1.0)}


class Developers(Strict):
    """The developer population: adoption, preferences, inertia."""

    count: int = Field(20_000, ge=10, le=5_000_000)
    population: float = Field(
        2.0e6, gt=0, le=1e10, description="real developer firms the simulated population stands for"
    )
    initial_adoption: float = Field(0.15, ge=0, lt=1)
    bass_p: float = Field(0.03, gt=0, le=1, description="innovation coefficient per year")
    bass_q: float = Field(0.40, ge=0, le=5, description="imitation coefficient per year")
    adoption_price_effect: float = Field(
        0.0, ge=0, le=5, description="Bass p scales with (price index)^-effect"
    )
    price_sensitivity: float = Field(1.0, gt=0, le=20, description="multiplier on segments' α")
    quality_sensitivity: float = Field(1.0, gt=0, le=20, description="utility per 100 Elo")
    ecosystem_weight: float = Field(0.15, ge=0, le=5, description="utility per log adopters")
    switching_cost: float = Field(1.5, ge=0, le=20, description="utility cost to change family")
    host_switching_cost: float = Field(0.2, ge=0, le=20, description="change host, same model")
    finetune_rate: float = Field(0.04, ge=0, le=1, description="P(fine-tune) per quarter")
    finetune_lock_in: float = Field(1.0, ge=0, le=20, description="extra cost to leave a tune")
    reoptimize_rate: float = Field(0.35, gt=0, le=1, description="share re-choosing per quarter")
    cn_aversion: float = Field(1.0, ge=0, le=20, description="multiplier on segments' aversion")
    token_growth: float = Field(0.8, ge=-0.9, le=10, description="tokens per developer, per year")
    token_price_elasticity: float = Field(-0.06, ge=-3, le=0)
    self_host_overhead: float = Field(1.0, ge=0, le=20, description="utility cost of operating")
    workloads: dict[str, Workload] = Field(
        default_factory=_default_workloads,
        description="workload types (docs/ODD.md, Demand: workloads)",
        min_length=1,
        max_length=8,
    )
    taste_types: list[TasteType] = Field(
        default_factory=lambda: [TasteType(share=1.0)],
        description="discrete taste types within every segment and workload",
        min_length=1,
        max_length=6,
    )
    segments: dict[str, Segment]

    @model_validator(mode="after")
    def _shares_sum(self) -> Developers:
        total = sum(s.share for s in self.segments.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment shares must sum to 1 (got {total:.6g})")
        enterprise = [k for k, s in self.segments.items() if s.enterprise]
        if len(enterprise) > 1:
            raise ValueError(
                f"segments: at most one may be the enterprise segment (got {enterprise})"
            )
        for key, seg in self.segments.items():
            for w in seg.workloads or ():
                if w not in self.workloads:
                    raise ValueError(
                        f"segments.{key}.workloads: {w!r} is not a workload type "
                        f"(known: {', '.join(self.workloads)})"
                    )
            if seg.workloads is not None and not seg.workloads:
                raise ValueError(f"segments.{key}.workloads: needs at least one workload type")
        taste = sum(t.share for t in self.taste_types)
        if abs(taste - 1.0) > 1e-6:
            raise ValueError(f"taste_types: shares must sum to 1 (got {taste:.6g})")
        return self

    def segment_workloads(self, key: str) -> list[str]:
        """The workload types a segment's developers run (its portfolio), in type order."""
        chosen = self.segments[key].workloads
        return [w for w in self.workloads if chosen is None or w in chosen]

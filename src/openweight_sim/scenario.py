"""Scenario files: strict schema, loading, ``extends`` and dotted overrides.

A scenario is a YAML file validated by pydantic models that forbid unknown keys and
bound every number. ``extends: baseline`` deep-merges the file onto another scenario
(dicts merge, lists replace). Overrides use dotted paths (``developers.count``) and
must name a field that exists in the resolved scenario, so a typo is an error rather
than a silently ignored setting.

Every problem is raised as :class:`ScenarioError`, whose message is one line of the
form ``<file>: <field path>: <problem>``; the command line prints it and exits with 2.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from openweight_sim.inputs import (  # noqa: F401  (re-exported: the names users import)
    MAX_REPLICATIONS,
    NAME_MAX_CHARS,
    SEED_MAX,
    ScenarioError,
    check_plain_name,
    format_validation_error,
    read_text_file,
    read_yaml_mapping,
    safe_yaml,
)

QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")

Quarter = Annotated[str, Field(pattern=r"^\d{4}Q[1-4]$", description="A quarter such as 2025Q1")]
Tier = Literal["frontier", "mid", "small"]
TIERS: tuple[Tier, ...] = ("frontier", "mid", "small")


def quarter_index(label: str) -> int:
    """Return a quarter label's absolute index (year*4 + quarter-1), e.g. 2023Q1 → 8092."""
    m = QUARTER_RE.match(label)
    if not m:
        raise ValueError(f"not a quarter label: {label!r} (expected e.g. 2025Q1)")
    return int(m.group(1)) * 4 + int(m.group(2)) - 1


def quarter_label(index: int) -> str:
    """Inverse of :func:`quarter_index`."""
    return f"{index // 4}Q{index % 4 + 1}"


class Strict(BaseModel):
    """Base model: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class PolicyChange(Strict):
    """A scheduled change of a lab's openness policy (a scenario event, not hard-coded)."""

    quarter: Quarter
    policy: Literal["closed", "open", "hybrid"]


class TierMap(Strict):
    """A value per model tier (parameters in billions, or costs in USD)."""

    frontier: float = Field(gt=0, le=1e13)
    mid: float = Field(gt=0, le=1e13)
    small: float = Field(gt=0, le=1e13)


class LeverageMap(Strict):
    """Total/active parameters per tier: at least 1 (active parameters never exceed total)."""

    frontier: float = Field(ge=1, le=1000)
    mid: float = Field(ge=1, le=1000)
    small: float = Field(ge=1, le=1000)


class EloMap(Strict):
    """Elo points per tier (bounded: utility is exponentiated in the demand model)."""

    frontier: float = Field(gt=0, le=2000)
    mid: float = Field(gt=0, le=2000)
    small: float = Field(gt=0, le=2000)


class Lab(Strict):
    """An AI lab: openness, licence, cadence, capability and funding.

    Attributes documented in docs/ODD.md (Releases submodel).
    """

    name: str
    origin: Literal["US", "CN", "EU"]
    policy: Literal["closed", "open", "hybrid"] = Field(
        description="closed: API only; open: all tiers open weights; hybrid: small/mid open, "
        "frontier closed"
    )
    license: Literal["permissive", "community", "research"] = Field(
        "permissive", description="licence of the lab's open releases"
    )
    mau_threshold: float = Field(
        7.0e8, gt=0, le=1e11, description="community licence: monthly-active-user threshold"
    )
    funding: Literal["api", "ads", "cloud"] = "api"
    first_party_api: bool = Field(
        True, description="sells its own models (closed, and open ones) through its own API"
    )
    open_api: bool = Field(
        True,
        description="also sells its open-weight releases per token through its own API "
        "(only with first_party_api); false: its open weights reach buyers through hosts and "
        "self-hosting only",
    )
    frontier_lab: bool = Field(False, description="releases at the closed frontier's quality")
    release_interval: int = Field(4, ge=1, le=16, description="quarters between generations")
    stochastic_cadence: bool = Field(
        False, description="release with probability 1/interval each quarter instead of on a clock"
    )
    catch_up: float = Field(
        0.5, ge=0, le=1, description="fraction of the gap to the frontier closed per generation"
    )
    quality_offset: float = Field(
        0.0, ge=-400, le=200, description="Elo offset of a frontier lab's releases"
    )
    quality_noise: float = Field(15.0, ge=0, le=200, description="s.d. of release quality, Elo")
    tiers: list[Tier] = Field(default_factory=lambda: list(TIERS), min_length=1)
    total_params_b: TierMap = Field(
        description="total parameters (capacity) of future releases, billions"
    )
    moe_leverage: LeverageMap = Field(
        description="total/active parameters of future releases: active = total/leverage, "
        "so more leverage serves the same capacity more cheaply"
    )
    brand: float = Field(0.0, ge=-5, le=5, description="utility constant of the lab's models")
    reasoning: bool = Field(False, description="future releases have reasoning built in")
    open_history: bool = Field(
        True,
        description="false: the lab's historical open releases are treated as API-only "
        "(counterfactual scenarios)",
    )
    license_friction: float = Field(
        0.0, ge=0, le=10, description="utility cost of the licence's use policy (open releases)"
    )
    serving_efficiency: float = Field(
        1.0, gt=0, le=20, description="own serving throughput multiplier (closed APIs)"
    )
    coding_offset: float | None = Field(
        None,
        ge=-300,
        le=300,
        description="coding Elo of future releases above the general-to-coding mapping; "
        "null: the mean over the lab's measured historical releases",
    )
    training_cost_usd: TierMap = Field(description="training cost per release, USD")
    quality_response: float = Field(
        0.0,
        ge=0,
        le=1,
        description="capability race: extra frontier Elo per quarter per Elo the closed lead "
        "falls below technology.target_lead",
    )
    policy_changes: list[PolicyChange] = Field(default_factory=list)
    consolidate_below: float | None = Field(
        None,
        ge=-1e13,
        le=1e13,
        description="endogenous policy: stop open releases once the lab's trailing 4-quarter "
        "openness payoff falls below this (USD); null = never",
    )

    @field_validator("tiers")
    @classmethod
    def _unique_tiers(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("tiers must not repeat")
        return v


class Host(Strict):
    """An inference hosting provider serving open-weight models."""

    name: str
    efficiency: float = Field(1.0, gt=0, le=20, description="throughput multiplier vs reference")
    gpu_price_factor: float = Field(1.0, gt=0, le=10, description="its GPU-hour cost vs market")
    brand: float = Field(0.0, ge=-5, le=5, description="utility constant (trust, speed, SLAs)")
    serves_cn_models: bool = True
    onboarding_cost_usd: float = Field(
        2.0e5, ge=0, le=1e12, description="one-off cost to add a model"
    )
    fixed_cost_usd: float = Field(
        5.0e4,
        ge=0,
        le=1e12,
        description="quarterly fixed cost per hosted model (reserved capacity)",
    )
    payback_quarters: int = Field(4, ge=1, le=40, description="horizon of the entry test")
    drop_after: int = Field(3, ge=1, le=20, description="quarters of losses before dropping")
    max_models: int = Field(12, ge=1, le=200)


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


class Technology(Strict):
    """Exogenous drivers: GPU price, serving efficiency, the closed frontier."""

    gpu_price: dict[Quarter, float] = Field(
        description="USD per H100-hour at given quarters; linear in between, flat outside"
    )
    efficiency_growth: float = Field(
        0.5, ge=0, le=5, description="growth per year of tokens/s per GPU at fixed active params"
    )
    ref_throughput: float = Field(1600.0, gt=0, le=1e6)
    moe_penalty: float = Field(0.17, ge=0, le=1)
    utilization: float = Field(0.4, gt=0, le=1, description="hosts' average GPU utilisation")
    frontier_start: float = Field(1186.0, ge=800, le=2500)
    frontier_growth: float = Field(22.0, ge=0, le=200, description="Elo per quarter")
    target_lead: float = Field(60.0, ge=0, le=500, description="closed lead a race defends")
    tier_gap: EloMap = Field(description="Elo below the lab's frontier release, per tier")
    reasoning_bonus: float = Field(
        30.0, ge=0, le=300, description="Elo added to a generation with reasoning built in"
    )
    reasoning_token_factor: float = Field(
        1.0, ge=1, le=20, description="tokens per task of a reasoning model vs a standard one"
    )
    open_line_gap: float = Field(
        30.0,
        ge=0,
        le=500,
        description="Elo a hybrid lab's rule-generated open model sits below its closed "
        "model of the same tier",
    )

    @field_validator("gpu_price")
    @classmethod
    def _positive_prices(cls, v: dict[str, float]) -> dict[str, float]:
        for q, p in v.items():
            if not 0 < p <= 1000:
                raise ValueError(f"GPU price at {q} must be > 0 and <= 1000 USD/hour (got {p})")
        if not v:
            raise ValueError("needs at least one quarter")
        return v


class Pricing(Strict):
    """How prices are set each quarter."""

    method: Literal["nash", "adaptive"] = "nash"
    adjustment: float = Field(0.5, gt=0, le=1, description="adaptive: share of gap closed")
    nest_sigma: float = Field(0.7, ge=0, lt=1, description="within-model substitutability")
    closed_conduct: float = Field(
        0.0, ge=0, le=1, description="0 Bertrand, 1 joint pricing among closed labs"
    )
    price_cap: float = Field(200.0, gt=0, le=1e5, description="choke price, USD per M tokens")
    entry_window: int = Field(
        2, ge=1, le=40, description="quarters after a release during which hosts consider it"
    )
    tier_conduct: float = Field(
        1.0,
        ge=0,
        le=1,
        description="weight a lab's tier division puts on its other tiers' profits (1: the "
        "lab prices all tiers jointly; 0: each tier is priced by its own division)",
    )
    closed_frontier_nest: bool = Field(
        False,
        description="closed frontier-tier APIs of all labs compete within one nest (sigma)",
    )


class MetaPayoff(Strict):
    """Parameters of Meta's payoff from openness (docs/ODD.md, Accounting)."""

    lab: str = "meta"
    ad_revenue_q: float = Field(
        3.6e10, ge=0, le=1e13, description="quarterly ad revenue, USD (2023)"
    )
    ad_revenue_growth: float = Field(0.15, ge=-0.5, le=2, description="per year")
    ad_lift_per_100elo: float = Field(
        0.004, ge=0, le=0.5, description="revenue lift per 100 Elo of Meta AI above 1186"
    )
    internal_tokens_m: float = Field(
        2.0e7, ge=0, le=1e12, description="Meta's own inference, M tokens/quarter, 2023Q1"
    )
    internal_token_growth: float = Field(1.5, ge=0, le=20, description="per year")
    ecosystem_value_per_dev: float = Field(
        400.0, ge=0, le=1e7, description="USD per quarter per developer building on the family"
    )
    capex_share: float = Field(
        0.02, ge=0, le=1, description="share of the quarter's capex charged to openness"
    )
    capex_q: float = Field(7.0e9, ge=0, le=1e13, description="quarterly capex, USD (2023)")
    capex_growth: float = Field(0.35, ge=-0.5, le=5, description="per year")


class Reporting(Strict):
    """Which labs the lab-specific report columns follow (no effect on the dynamics)."""

    flagship_lab: str | None = Field(
        None, description="closed_flagship_price follows this lab's frontier-tier API price"
    )
    enterprise_share_labs: list[str] = Field(
        default_factory=list,
        description="labs with an enterprise_spend_share_<lab> column (enterprise API spend)",
    )


class Scenario(Strict):
    """A complete, validated scenario."""

    name: str = Field(description="plain name; the default results directory is results/<name>")
    description: str = ""
    start: Quarter = "2023Q1"
    end: Quarter = "2027Q4"
    history: str | None = Field(
        "releases_2023_2024", description="bundled historical release table, or null"
    )
    history_until: Quarter = "2024Q4"
    technology: Technology
    pricing: Pricing = Field(default_factory=Pricing)
    labs: dict[str, Lab]
    hosts: dict[str, Host]
    developers: Developers
    meta_payoff: MetaPayoff = Field(default_factory=MetaPayoff)
    reporting: Reporting = Field(default_factory=Reporting)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        return check_plain_name(v)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if quarter_index(self.end) < quarter_index(self.start):
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.meta_payoff.lab not in self.labs:
            raise ValueError(f"meta_payoff.lab {self.meta_payoff.lab!r} is not a lab")
        rep = self.reporting
        if rep.flagship_lab is not None and rep.flagship_lab not in self.labs:
            raise ValueError(f"reporting.flagship_lab: {rep.flagship_lab!r} is not a lab")
        for lab in rep.enterprise_share_labs:
            if lab not in self.labs:
                raise ValueError(f"reporting.enterprise_share_labs: {lab!r} is not a lab")
        return self

    @property
    def quarters(self) -> list[str]:
        """Quarter labels from start to end inclusive."""
        return [
            quarter_label(i) for i in range(quarter_index(self.start), quarter_index(self.end) + 1)
        ]


# --------------------------------------------------------------------------- loading


def bundled_dir() -> Path:
    """Directory of the bundled scenarios (``scenarios/``; see :mod:`openweight_sim.bundled`)."""
    from openweight_sim.bundled import scenarios_dir

    return scenarios_dir()


def bundled_names() -> list[str]:
    """Names of the bundled scenarios, sorted."""
    return sorted(p.stem for p in bundled_dir().glob("*.yaml"))


def _resolve_path(ref: str, relative_to: Path | None = None) -> Path:
    """Find a scenario by bundled name or by path."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_absolute() and relative_to is not None and not p.exists():
            p = relative_to / p
        return p
    candidate = bundled_dir() / f"{ref}.yaml"
    if candidate.exists():
        return candidate
    if p.exists():  # a directory or a file without .yaml: read_text_file says what it is
        return p
    names = ", ".join(bundled_names())
    raise ScenarioError(ref, "", f"no such scenario (bundled: {names}; or give a .yaml path)")


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``over`` onto ``base``: dicts merge recursively, everything else replaces."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _raw_with_extends(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError(chain[0], "extends", f"cycle: {cycle}")
    data = read_yaml_mapping(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(path, "extends", f"must be a scenario name or path (got {parent!r})")
    try:
        parent_path = _resolve_path(parent, path.parent)
    except ScenarioError as exc:
        raise ScenarioError(path, "extends", exc.problem) from None
    if not parent_path.exists():
        raise ScenarioError(path, "extends", f"no such file: {parent_path}")
    return deep_merge(_raw_with_extends(parent_path, (*chain, resolved)), data)


def validate(data: Mapping[str, Any], source: str) -> Scenario:
    """Validate a raw mapping into a :class:`Scenario`, raising :class:`ScenarioError`."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(source, exc) from None


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``PATH=VALUE`` (VALUE is YAML, so ``3``, ``0.5``, ``true``, ``[1,2]`` work)."""
    if "=" not in text:
        raise ScenarioError("--set", text, "expected PATH=VALUE")
    path, _, raw = text.partition("=")
    path = path.strip()
    if not path or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", path):
        raise ScenarioError("--set", text, "expected a dotted path such as developers.count")
    try:
        value = safe_yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ScenarioError("--set", path, f"malformed value {raw!r}") from None
    except ValueError as exc:
        raise ScenarioError("--set", path, f"value {exc}") from None
    return path, value


def set_dotted(data: dict[str, Any], path: str, value: Any, source: str = "--set") -> None:
    """Set ``data[a][b][c] = value`` for ``path == "a.b.c"``; the path must already exist."""
    keys = path.split(".")
    node: Any = data
    for i, key in enumerate(keys):
        where = ".".join(keys[: i + 1])
        if not isinstance(node, dict) or key not in node:
            raise ScenarioError(source, path, f"unknown parameter (no field {where!r})")
        if i == len(keys) - 1:
            node[key] = value
        else:
            node = node[key]


def get_dotted(data: Mapping[str, Any], path: str) -> Any:
    """Read a dotted path from nested mappings (KeyError if absent)."""
    node: Any = data
    for key in path.split("."):
        node = node[key]
    return node


def load_scenario(
    scenario: str | Path | Scenario | Mapping[str, Any] = "baseline",
    overrides: Mapping[str, Any] | None = None,
    *,
    override_source: str = "--set",
) -> Scenario:
    """Load, merge and validate a scenario, then apply dotted overrides.

    Args:
        scenario: a bundled name (``"baseline"``), a path to a YAML file, a
            :class:`Scenario`, or a raw mapping.
        overrides: ``{"developers.count": 5000, ...}``; each path must exist in the
            resolved scenario (defaults included).
        override_source: how override errors name their origin.

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: one-line description of the first problem found.
    """
    if isinstance(scenario, Scenario):
        source, base = scenario.name, scenario
    elif isinstance(scenario, Mapping):
        source = str(scenario.get("name", "<mapping>"))
        base = validate(scenario, source)
    else:
        path = _resolve_path(str(scenario))
        source = str(scenario)
        base = validate(_raw_with_extends(path), source)
    if not overrides:
        return base
    data = base.model_dump(mode="python")
    for key, value in overrides.items():
        set_dotted(data, key, value, override_source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(override_source, exc) from None


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (``openweight-sim schema``)."""
    schema = Scenario.model_json_schema()
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "name or path of a scenario this file deep-merges onto",
    }
    return schema

"""Sweep files: what to vary, how to sample it and what to record, checked before any run.

A sweep file is YAML validated in two stages, so that a mistake costs a second, not an
hour of runs:

1. :func:`read_sweep_file` / :func:`check_structure`: the file's own shape (strict pydantic
   model, unknown keys are errors; a known design; positive sample counts; ``[low, high]``
   with low < high for sampled designs, a list of values for ``grid``).
2. :func:`resolve_model`: against the model: every parameter path is applied to the
   scenario (and its counterfactual) at its extreme values, integer parameters are
   detected from the scenario's value types, and every output's column and quarter must
   exist.

Every problem is a :class:`~openweight_sim.scenario.ScenarioError` naming the sweep file
and the field (``parameters.developers.foo``, ``outputs[1]``), printed as one line by the
command line with exit status 2.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openweight_sim.bundled import sweeps_dir
from openweight_sim.counterfactual import CLOSED, counterfactual_scenario
from openweight_sim.experiments.outputs import OutputSpec, numeric_columns
from openweight_sim.scenario import (
    MAX_REPLICATIONS,
    SEED_MAX,
    Scenario,
    ScenarioError,
    check_plain_name,
    format_validation_error,
    get_dotted,
    load_scenario,
    quarter_index,
    read_yaml_mapping,
)

METHODS = ("grid", "lhs", "sobol", "morris")
MAX_RUNS = 1_000_000
"""Most runs (points × replications) one sweep may have: beyond it the design alone would
take gigabytes and the runs years on one machine; split the study instead."""


class Design(BaseModel):
    """How parameter points are chosen."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    method: str = Field(description="grid | lhs | sobol | morris")
    samples: int | None = Field(
        None,
        description="lhs: number of points; sobol: base sample N, a power of 2 "
        "(N*(D+2) points, N*(2D+2) with second_order); morris: trajectories (N*(D+1) "
        "points); grid: not used (every combination of the listed values)",
    )
    seed: int = Field(
        0, ge=0, le=SEED_MAX, description="root seed of the sampler and of every run's seed"
    )
    second_order: bool = Field(False, description="sobol: also sample for S2 indices")
    levels: int = Field(4, description="morris: number of grid levels (even)")


class SweepSpec(BaseModel):
    """A sweep file (see ``scenarios/sweeps/*.yaml`` and ``openweight-sim sweep --help``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str | None = Field(None, description="defaults to the file's stem")
    description: str = ""
    scenario: str | None = Field(None, description="bundled scenario name or YAML path")
    counterfactual: str | None = Field(
        None,
        description="scenario run with the same parameters and seed; enables column/cf@q "
        "outputs (ratio scenario/counterfactual); `closed`: the sweep's scenario with every "
        "lab closed (openweight_sim.counterfactual)",
    )
    constants: dict[str, Any] = Field(
        default_factory=dict,
        description="dotted-path overrides applied to every run (e.g. developers.count)",
    )
    design: Design
    parameters: dict[str, list[Any]] = Field(
        description="dotted path -> [low, high] (lhs/sobol/morris) or list of values (grid)"
    )
    replications: int = Field(1, description="runs per point, each with its own seed")
    outputs: list[str] = Field(description="column@quarter, column@final or column/cf@quarter")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str | None) -> str | None:
        return None if v is None else check_plain_name(v)

    @property
    def parameter_names(self) -> list[str]:
        """The varied parameters, in file order (the design matrix's columns)."""
        return list(self.parameters)

    def bounds(self, name: str) -> tuple[float, float]:
        """``(low, high)`` of a sampled parameter."""
        low, high = self.parameters[name]
        return float(low), float(high)


# --------------------------------------------------------------------------- stage 1


def bundled_sweeps_dir() -> Path:
    """Directory of the bundled sweep files (``scenarios/sweeps/``)."""
    return sweeps_dir()


def resolve_sweep_file(ref: str | Path) -> Path:
    """A sweep file by path, or by bundled name (``small`` → ``scenarios/sweeps/small.yaml``)."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    candidate = bundled_sweeps_dir() / f"{ref}.yaml"
    if candidate.exists():
        return candidate
    names = ", ".join(sorted(q.stem for q in bundled_sweeps_dir().glob("*.yaml")))
    raise ScenarioError(str(ref), "", f"no such sweep (bundled: {names}; or give a .yaml path)")


def parse_spec(data: dict[str, Any] | SweepSpec, source: str = "<sweep>") -> SweepSpec:
    """Validate a mapping (or re-check a SweepSpec) into a structurally sound SweepSpec."""
    if isinstance(data, SweepSpec):
        spec = data
    else:
        try:
            spec = SweepSpec.model_validate(data)
        except ValidationError as exc:
            raise format_validation_error(source, exc) from None
    check_structure(spec, source)
    return spec


def read_sweep_file(ref: str | Path) -> tuple[SweepSpec, Path]:
    """Read and structurally validate a sweep file; returns the spec and its path."""
    path = resolve_sweep_file(ref)
    spec = parse_spec(read_yaml_mapping(path), str(path))
    if spec.name is None:
        try:
            name = check_plain_name(path.stem)
        except ValueError as exc:
            raise ScenarioError(str(path), "name", f"the file's name {exc}; set name:") from None
        spec = spec.model_copy(update={"name": name})
    return spec, path


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def n_points(spec: SweepSpec) -> int:
    """How many parameter points a structurally valid design has (without sampling it)."""
    d, k = spec.design, len(spec.parameters)
    if d.method == "grid":
        return math.prod(len(v) for v in spec.parameters.values())
    n = d.samples or 0
    if d.method == "sobol":
        return n * (2 * k + 2 if d.second_order else k + 2)
    if d.method == "morris":
        return n * (k + 1)
    return n


def check_structure(spec: SweepSpec, source: str) -> None:
    """Check the sweep's own rules (design, samples, ranges, replications, outputs)."""
    d = spec.design
    if d.method not in METHODS:
        raise ScenarioError(
            source,
            "design.method",
            f"unknown design {d.method!r} (expected grid, lhs, sobol or morris)",
        )
    if d.method == "grid":
        if d.samples is not None:
            raise ScenarioError(
                source,
                "design.samples",
                "not used by the grid design (its points are every "
                "combination of the listed values); remove it",
            )
    elif d.samples is None:
        raise ScenarioError(source, "design.samples", f"required by the {d.method} design")
    elif d.samples < 1:
        raise ScenarioError(
            source, "design.samples", f"must be a positive integer (got {d.samples})"
        )
    elif d.samples > MAX_RUNS:
        raise ScenarioError(
            source, "design.samples", f"must be at most {MAX_RUNS:,} (got {d.samples:,})"
        )
    elif d.method == "sobol" and d.samples & (d.samples - 1):
        lo = 1 << (d.samples.bit_length() - 1)
        raise ScenarioError(
            source,
            "design.samples",
            f"must be a power of 2 for the sobol design (got {d.samples}; try {lo} or {2 * lo})",
        )
    if d.method == "morris" and (d.levels < 2 or d.levels % 2):
        raise ScenarioError(
            source, "design.levels", f"must be an even number >= 2 (got {d.levels})"
        )
    if not spec.parameters:
        raise ScenarioError(source, "parameters", "name at least one parameter to vary")
    for name, values in spec.parameters.items():
        field = f"parameters.{name}"
        if d.method == "grid":
            if not values:
                raise ScenarioError(source, field, "list at least one value")
            if len({json.dumps(v, sort_keys=True, default=str) for v in values}) < len(values):
                raise ScenarioError(source, field, f"repeats a value (got {values})")
            continue
        if len(values) != 2 or not all(_is_number(v) for v in values):
            raise ScenarioError(
                source,
                field,
                f"expected [low, high] numbers for the {d.method} design (got {values})",
            )
        if not values[0] < values[1]:
            raise ScenarioError(source, field, f"low must be < high (got {values})")
    if spec.replications < 1:
        raise ScenarioError(source, "replications", f"must be >= 1 (got {spec.replications})")
    if spec.replications > MAX_REPLICATIONS:
        raise ScenarioError(
            source,
            "replications",
            f"must be at most {MAX_REPLICATIONS:,} (got {spec.replications:,})",
        )
    runs = n_points(spec) * spec.replications
    if runs > MAX_RUNS:
        raise ScenarioError(
            source,
            "design" if spec.replications == 1 else "replications",
            f"{n_points(spec):,} points x {spec.replications:,} replications = {runs:,} runs; "
            f"a sweep may have at most {MAX_RUNS:,} (use fewer samples or split the study)",
        )
    if not spec.outputs:
        raise ScenarioError(source, "outputs", "name at least one output")
    seen: set[str] = set()
    for i, out in enumerate(spec.outputs):
        if out in seen:
            raise ScenarioError(source, f"outputs[{i}]", f"{out!r} is listed twice")
        seen.add(out)


# --------------------------------------------------------------------------- stage 2


@dataclass(frozen=True)
class ModelSweep:
    """A sweep resolved against the model.

    Attributes:
        scenario: the scenario with the sweep's constants applied.
        counterfactual: the counterfactual (constants applied), or None.
        outputs: parsed outputs, in file order.
        integer: parameters whose scenario value is an integer (rounded when sampled).
        fingerprint: hash of the resolved scenarios (a resumed sweep must match it).
    """

    scenario: Scenario
    counterfactual: Scenario | None
    outputs: tuple[OutputSpec, ...]
    integer: frozenset[str]
    fingerprint: str


def _scenario_ref(ref: str, base_dir: Path | None) -> str:
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") and not p.is_absolute() and not p.exists() and base_dir:
        return str(base_dir / p)
    return ref


def _load(ref: str, constants: dict[str, Any], source: str, field: str, base_dir) -> Scenario:
    resolved = _scenario_ref(ref, base_dir)
    try:
        base = load_scenario(resolved)
    except ScenarioError as exc:
        if exc.source in (ref, resolved):  # the reference itself is wrong
            raise ScenarioError(source, field, exc.problem) from None
        raise
    try:
        return load_scenario(base, constants, override_source=source)
    except ScenarioError as exc:
        raise ScenarioError(source, f"constants.{exc.field}", exc.problem) from None


def _check_value(sc: Scenario, name: str, value: Any, source: str, what: str) -> None:
    """Apply ``name = value`` to the scenario; a ScenarioError on the sweep's field if bad."""
    try:
        load_scenario(sc, {name: value}, override_source=source)
    except ScenarioError as exc:
        if "unknown parameter" in exc.problem:
            raise ScenarioError(source, f"parameters.{name}", exc.problem) from None
        where = f" at {exc.field}" if exc.field and exc.field != name else ""
        raise ScenarioError(
            source, f"parameters.{name}", f"{what} {value!r} is invalid{where}: {exc.problem}"
        ) from None


def _check_parameter(spec: SweepSpec, scs: list[Scenario], name: str, source: str) -> bool:
    """Check one parameter against the scenario(s); True if it is an integer parameter."""
    field = f"parameters.{name}"
    try:
        current = get_dotted(scs[0].model_dump(mode="python"), name)
    except (KeyError, TypeError):
        raise ScenarioError(
            source, field, "unknown parameter (no such field in the scenario)"
        ) from None
    values = spec.parameters[name]
    if spec.design.method == "grid":
        for sc in scs:
            for v in values:
                _check_value(sc, name, v, source, "value")
        return isinstance(current, int) and not isinstance(current, bool)
    if isinstance(current, bool) or not (current is None or isinstance(current, int | float)):
        raise ScenarioError(
            source,
            field,
            f"is not a number in the scenario (it is {current!r}); vary it "
            "with the grid design and a list of values",
        )
    integer = isinstance(current, int)
    if integer and not all(float(v).is_integer() for v in values):
        raise ScenarioError(
            source, field, f"is an integer parameter: low and high must be integers (got {values})"
        )
    for sc in scs:
        for label, v in zip(("low", "high"), values, strict=True):
            _check_value(sc, name, int(v) if integer else float(v), source, label)
    return integer


def _check_output(i: int, text: str, scs: list[Scenario], has_cf: bool, source: str) -> OutputSpec:
    field = f"outputs[{i}]"
    try:
        out = OutputSpec.parse(text)
    except ValueError as exc:
        raise ScenarioError(source, field, str(exc)) from None
    known = numeric_columns(scs[0])
    if out.column not in known:
        close = difflib.get_close_matches(out.column, known, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known)}"
        raise ScenarioError(source, field, f"unknown output column {out.column!r} ({hint})")
    if out.relative and not has_cf:
        raise ScenarioError(
            source,
            field,
            f"{text!r} is a ratio to the counterfactual, but the sweep names "
            "none (add e.g. counterfactual: no_open_weights)",
        )
    if out.quarter != "final":
        qi = quarter_index(out.quarter)
        for sc in scs:
            if not quarter_index(sc.start) <= qi <= quarter_index(sc.end):
                raise ScenarioError(
                    source,
                    field,
                    f"quarter {out.quarter} is outside {sc.name}'s range {sc.start}–{sc.end}",
                )
    return out


def fingerprint(*scenarios: Scenario | None) -> str:
    """A short hash of resolved scenarios (what a resumed sweep must still be running)."""
    blob = json.dumps(
        [s.model_dump(mode="json") if s is not None else None for s in scenarios],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def resolve_model(spec: SweepSpec, source: str, base_dir: Path | None = None) -> ModelSweep:
    """Check a sweep against the model and resolve its scenarios, outputs and integer params.

    Args:
        spec: a structurally valid sweep.
        source: the sweep file, for error messages.
        base_dir: directory that relative scenario paths are resolved against.

    Raises:
        ScenarioError: the first problem, naming ``source`` and the field.
    """
    if spec.scenario is None:
        raise ScenarioError(source, "scenario", "required (a bundled name or a YAML path)")
    sc = _load(spec.scenario, spec.constants, source, "scenario", base_dir)
    cf = None
    if spec.counterfactual == CLOSED:
        cf = counterfactual_scenario(sc)
    elif spec.counterfactual is not None:
        cf = _load(spec.counterfactual, spec.constants, source, "counterfactual", base_dir)
    scs = [sc] if cf is None else [sc, cf]
    integer = {n for n in spec.parameters if _check_parameter(spec, scs, n, source)}
    outputs = tuple(
        _check_output(i, t, scs, cf is not None, source) for i, t in enumerate(spec.outputs)
    )
    return ModelSweep(sc, cf, outputs, frozenset(integer), fingerprint(sc, cf))

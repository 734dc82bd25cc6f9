"""Schema rules that keep every value computable and every name a plain directory name."""

from __future__ import annotations

import re

import pytest

from openweight_sim.experiments.spec import parse_spec
from openweight_sim.scenario import (
    ScenarioError,
    bundled_names,
    check_plain_name,
    load_scenario,
    read_yaml_mapping,
)


@pytest.mark.parametrize("name", ["baseline", "café-ü", "基线", "no_llama 2", "a.b", "x" * 64])
def test_plain_names_are_accepted(name):
    assert check_plain_name(name) == name
    assert load_scenario("baseline", {"name": name}).name == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must be a non-empty name"),
        ("   ", "must be a non-empty name"),
        ("../precious", "must be a plain name, not a path"),
        ("a/b", "must be a plain name, not a path"),
        ("a\\b", "must be a plain name, not a path"),
        ("..", "must not contain '..'"),
        ("a..b", "must not contain '..'"),
        (".hidden", "start with '.'"),
        ("tab\there", "control characters"),
        ("nul\x00", "control characters"),
        ("rtl\u202eoverride", "control characters"),
        ("x" * 65, "at most 64 characters (got 65)"),
    ],
)
def test_names_that_are_not_plain_are_refused(name, problem):
    with pytest.raises(ScenarioError, match=re.escape(problem)) as info:
        load_scenario("baseline", {"name": name})
    assert info.value.field == "name"
    assert "\n" not in str(info.value)


def test_sweep_names_follow_the_same_rule():
    spec = {
        "scenario": "baseline",
        "design": {"method": "lhs", "samples": 2},
        "parameters": {"developers.price_sensitivity": [1, 2]},
        "outputs": ["price_closed@2024Q4"],
    }
    assert parse_spec({**spec, "name": "ok"}).name == "ok"
    with pytest.raises(ScenarioError, match="name: must be a plain name, not a path"):
        parse_spec({**spec, "name": "../x"}, "s.yaml")


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("labs.meta.moe_leverage.frontier", float("inf"), "must be finite (got inf)"),
        ("labs.meta.moe_leverage.small", 0.5, "greater than or equal to 1 (got 0.5)"),
        ("pricing.price_cap", float("inf"), "must be finite (got inf)"),
        ("pricing.price_cap", 1e300, "less than or equal to 100000"),
        ("technology.gpu_price.2023Q1", float("inf"), "must be finite (got inf)"),
        ("technology.gpu_price.2023Q1", 5000.0, "must be > 0 and <= 1000 USD/hour"),
        ("meta_payoff.ad_revenue_q", float("inf"), "must be finite (got inf)"),
        ("developers.population", 1e308, "less than or equal to 10000000000"),
        ("developers.price_sensitivity", float("nan"), "must be finite (got nan)"),
        ("meta_payoff.leakage", float("-inf"), "must be finite (got -inf)"),
        ("developers.count", 1e308, "integer too large"),
        ("developers.count", 10**400, "less than or equal to 5000000"),
    ],
)
def test_values_the_model_cannot_compute_are_refused(path, value, problem):
    with pytest.raises(ScenarioError, match=re.escape(problem)):
        load_scenario("baseline", {path: value})


def test_every_bundled_scenario_is_within_the_bounds():
    for name in bundled_names():
        assert load_scenario(name).name == name


def test_yaml_problems_are_one_line(tmp_path):
    cases = {
        "nul.yaml": (b"name: a\x00b\n", "contains NUL bytes"),
        "latin1.yaml": ("name: café\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
        "list.yaml": (b"- 1\n- 2\n", "must be a YAML mapping"),
    }
    for name, (data, problem) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ScenarioError, match=re.escape(problem)):
            read_yaml_mapping(tmp_path / name)
    with pytest.raises(ScenarioError, match="is a directory, not a file"):
        read_yaml_mapping(tmp_path)
    with pytest.raises(ScenarioError, match="file not found"):
        read_yaml_mapping(tmp_path / "missing.yaml")

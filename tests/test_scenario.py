"""Scenario loading: extends, overrides, bundled catalogue, schema."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from openweight_sim.scenario import ScenarioError, bundled_names, load_scenario

CATALOGUE = {
    "baseline",
    "no_open_weights",
    "no_llama",
    "meta_consolidates",
    "meta_decides",
    "llama5_high_leverage",
    "license_tightening",
    "china_open_surge",
    "capability_race",
}


def test_catalogue_complete_and_valid():
    assert set(bundled_names()) >= CATALOGUE
    for name in bundled_names():
        sc = load_scenario(name)
        assert sc.name == name
        assert sc.quarters[0] == "2023Q1" and sc.quarters[-1] == "2027Q4"


def test_extends_deep_merges(tmp_path):
    p = tmp_path / "child.yaml"
    p.write_text("extends: baseline\nname: child\nlabs:\n  meta:\n    release_interval: 5\n")
    sc = load_scenario(p)
    base = load_scenario("baseline")
    assert sc.labs["meta"].release_interval == 5
    assert sc.labs["meta"].catch_up == base.labs["meta"].catch_up  # merged, not replaced
    assert sc.labs.keys() == base.labs.keys()


def test_extends_chain_relative_path(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: baseline\nname: a\ndevelopers: {count: 999}\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    sc = load_scenario(tmp_path / "b.yaml")
    assert sc.developers.count == 999 and sc.name == "b"


def test_lists_replace(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("extends: baseline\nname: c\nlabs:\n  moonshot:\n    tiers: [small]\n")
    assert load_scenario(p).labs["moonshot"].tiers == ["small"]


def test_overrides_apply_and_validate():
    sc = load_scenario("baseline", {"labs.meta.release_interval": 3, "developers.count": 1234})
    assert sc.labs["meta"].release_interval == 3 and sc.developers.count == 1234
    with pytest.raises(ScenarioError) as err:
        load_scenario("baseline", {"labs.meta.release_interval": 0})
    assert err.value.field == "labs.meta.release_interval"


def test_override_of_defaulted_field():
    # stochastic_cadence is not written in baseline.yaml but exists with a default
    sc = load_scenario("baseline", {"labs.meta.stochastic_cadence": True})
    assert sc.labs["meta"].stochastic_cadence is True


def test_schema_command_prints_json_schema():
    res = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", "schema"], capture_output=True, text=True
    )
    assert res.returncode == 0
    schema = json.loads(res.stdout)
    assert "developers" in schema["properties"] and "extends" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_scenarios_command_lists_catalogue():
    res = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", "scenarios"], capture_output=True, text=True
    )
    assert res.returncode == 0
    listed = {line.split()[0] for line in res.stdout.splitlines()}
    assert listed >= CATALOGUE

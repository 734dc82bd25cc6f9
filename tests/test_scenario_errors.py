"""Bad input: exit status 2, one line `error: <file>: <field>: <problem>`, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from openweight_sim.scenario import ScenarioError, load_scenario

CLI = [sys.executable, "-m", "openweight_sim.cli"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


CASES = {
    "unknown_key": (
        "extends: baseline\nname: x\ndevelopers:\n  colour: blue\n",
        "developers.colour: unknown field",
    ),
    "wrong_type": (
        "extends: baseline\nname: x\ndevelopers:\n  count: many\n",
        "developers.count:",
    ),
    "out_of_range": (
        "extends: baseline\nname: x\ndevelopers:\n  price_sensitivity: -1\n",
        "developers.price_sensitivity: Input should be greater than 0 (got -1)",
    ),
    "malformed_yaml": (
        "extends: baseline\nname: x\ndevelopers: {count: [1, 2\n",
        "malformed YAML: line",
    ),
    "unknown_lab_field": (
        "extends: baseline\nname: x\nlabs:\n  meta:\n    release_intervall: 3\n",
        "labs.meta.release_intervall: unknown field",
    ),
    "extends_cycle": ("extends: bad.yaml\nname: x\n", "extends: cycle"),
    "unknown_workload": (
        "extends: baseline\nname: x\ndevelopers:\n  segments:\n    startup:\n"
        "      workloads: [chat, poetry]\n",
        "developers: segments.startup.workloads: 'poetry' is not a workload type (known: ",
    ),
    "taste_shares": (
        "extends: baseline\nname: x\ndevelopers:\n  taste_types:\n    - {share: 0.6}\n"
        "    - {share: 0.6}\n",
        "taste_types: shares must sum to 1 (got 1.2)",
    ),
    "taste_price_unbounded": (
        "extends: baseline\nname: x\ndevelopers:\n  taste_types:\n    - {share: 1.0, price: 0.1}\n",
        "developers.taste_types.0.price: Input should be greater than or equal to 0.25",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_scenario_file_exit_2_one_line(tmp_path, case):
    text, expected = CASES[case]
    path = write(tmp_path, "bad.yaml", text)
    out = tmp_path / "out"
    res = run_cli("run", str(path), "--out", str(out), cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"error: {path}: ")
    assert expected in lines[0]
    assert "Traceback" not in res.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_missing_file(tmp_path):
    res = run_cli("run", "nope.yaml", "--out", "o", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == "error: nope.yaml: file not found"
    assert not (tmp_path / "o").exists()


def test_unknown_bundled_name(tmp_path):
    res = run_cli("run", "no_such_scenario", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: no_such_scenario: no such scenario (bundled: ")
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("developers.count", "error: --set: developers.count: expected PATH=VALUE"),
        ("developers.cont=5", "error: --set: developers.cont: unknown parameter"),
        ("developers.count=-5", "error: --set: developers.count: Input should be greater than"),
        ("developers.count=[1,", "error: --set: developers.count: malformed value"),
        ("labs..meta=1", "error: --set: labs..meta=1: expected a dotted path"),
    ],
)
def test_bad_set(tmp_path, setting, expected):
    res = run_cli("run", "baseline", "--set", setting, "--out", "o", cwd=tmp_path)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith(expected), res.stderr
    assert not (tmp_path / "o").exists()


def test_bad_usage_is_one_line(tmp_path):
    res = run_cli("run", cwd=tmp_path)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith("error: ")


def test_segment_shares_must_sum_to_one():
    with pytest.raises(ScenarioError, match="segment shares must sum to 1"):
        load_scenario("baseline", {"developers.segments.hobbyist.share": 0.9})


def test_model_keyword_override_errors_name_the_field():
    from openweight_sim import OpenWeightMarket

    with pytest.raises(ScenarioError, match=r"developers\.count: Input should be greater"):
        OpenWeightMarket("baseline", rng=1, **{"developers.count": 0})

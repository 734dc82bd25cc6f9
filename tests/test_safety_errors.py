"""Every user error, in any command: one line on stderr, exit status 2, nothing changed.

Each case of issue 14 is run as a user would (``python -m openweight_sim.cli ...``) in a
working directory holding a decoy directory of user files; the test asserts exit status 2,
a single stderr line naming the problem, no traceback, and that no file anywhere in the
working directory (decoy included) was created, changed or removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every case runs the command line in a subprocess: make test only

CLI = [sys.executable, "-m", "openweight_sim.cli"]
SMALL = ["--set", "developers.count=300", "--set", "end=2023Q4"]

TINY_SWEEP = """\
scenario: baseline
name: tiny
constants: {developers.count: 100, end: 2023Q4}
design: {method: lhs, samples: 3, seed: 1}
parameters:
  developers.price_sensitivity: [0.9, 1.2]
replications: 1
outputs: [price_closed@2023Q4]
"""


def alias_bomb() -> str:
    """Nine levels of nine aliases: 9**9 strings once expanded, 400 bytes on disk."""
    lines = ["extends: baseline", "name: bomb", 'a0: &a0 ["lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def tree_hash(root: Path) -> str:
    """Hash of every path, type and content under ``root`` (hidden files included)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames):
            h.update(f"D {Path(dirpath, name).relative_to(root)}\n".encode())
        for name in sorted(filenames):
            p = Path(dirpath, name)
            h.update(f"F {p.relative_to(root)}\n".encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A finished tiny sweep, shared read-only by the analyze cases."""
    base = tmp_path_factory.mktemp("sweep")
    (base / "tiny.yaml").write_text(TINY_SWEEP)
    out = base / "tiny"
    cmd = [*CLI, "sweep", str(base / "tiny.yaml"), "--out", str(out), "--no-progress"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return out


def setup_files(cwd: Path) -> None:
    """The working directory of every case: inputs and a decoy of user files."""
    decoy = cwd / "decoy"
    decoy.mkdir()
    (decoy / "notes.txt").write_text("my precious notes\n")
    (decoy / "sub").mkdir()
    (decoy / "sub" / "data.csv").write_text("a,b\n1,2\n")
    (cwd / "afile").write_text("a regular file\n")
    (cwd / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (cwd / "latin1.yaml").write_bytes("extends: baseline\nname: café\n".encode("latin-1"))
    (cwd / "longname.yaml").write_text("extends: baseline\nname: " + "x" * 300 + "\n")
    (cwd / "bomb.yaml").write_text(alias_bomb())
    (cwd / "deep.yaml").write_text("extends: baseline\nname: deep\nx: " + "[" * 5000 + "]" * 5000)
    (cwd / "samples.yaml").write_text(TINY_SWEEP.replace("samples: 3", "samples: 1000000000"))
    (cwd / "tiny.yaml").write_text(TINY_SWEEP)
    (cwd / "reps.yaml").write_text(
        TINY_SWEEP.replace("replications: 1", "replications: 1000000000")
    )


# (arguments, expected text in the one line); "{sweep}" / "{corrupt}" are filled in.
CASES = {
    "binary_scenario": (["run", "binary.yaml"], "binary.yaml: not UTF-8 text"),
    "non_utf8_scenario": (["run", "latin1.yaml"], "latin1.yaml: not UTF-8 text (byte 0xe9"),
    "moe_leverage_inf": (
        ["run", "baseline", "--set", "labs.meta.moe_leverage.frontier=inf"],
        "--set: labs.meta.moe_leverage.frontier: must be finite",
    ),
    "moe_leverage_below_1": (
        ["run", "baseline", "--set", "labs.meta.moe_leverage.small=0.5"],
        "labs.meta.moe_leverage.small: Input should be greater than or equal to 1 (got 0.5)",
    ),
    "price_cap_inf": (
        ["run", "baseline", "--set", "pricing.price_cap=.inf"],
        "pricing.price_cap: must be finite (got inf)",
    ),
    "gpu_price_inf": (
        ["run", "baseline", "--set", "technology.gpu_price.2023Q1=.inf"],
        "technology.gpu_price.2023Q1: must be finite (got inf)",
    ),
    "ad_revenue_inf": (
        ["run", "baseline", "--set", "meta_payoff.ad_revenue_q=.inf"],
        "meta_payoff.ad_revenue_q: must be finite (got inf)",
    ),
    "population_1e308": (
        ["run", "baseline", "--set", "developers.population=1.0e+308"],
        "developers.population: Input should be less than or equal to 10000000000",
    ),
    "nan_is_not_finite": (
        ["run", "baseline", "--set", "developers.price_sensitivity=.nan"],
        "developers.price_sensitivity: must be finite (got nan)",
    ),
    "seed_negative": (["run", "baseline", "--seed", "-1"], "argument --seed: must be an integer"),
    "validate_seed_negative": (
        ["validate", "baseline", "--seed", "-1"],
        "argument --seed: must be an integer from 0",
    ),
    "calibrate_max_evals_0": (
        ["calibrate", "--max-evals", "0"],
        "argument --max-evals: must be an integer from 1",
    ),
    "out_under_regular_file": (
        ["run", "baseline", *SMALL, "--out", "afile/sub"],
        "afile/sub: is under afile, which is a file, not a directory",
    ),
    "out_is_regular_file": (
        ["run", "baseline", *SMALL, "--out", "afile", "--force"],
        "afile: exists and is a file",
    ),
    "out_is_user_directory": (
        ["run", "baseline", *SMALL, "--out", "decoy", "--force"],
        "decoy: exists and is not an openweight-sim results directory",
    ),
    "name_300_characters": (
        ["run", "longname.yaml"],
        "longname.yaml: name: must be at most 64 characters (got 300)",
    ),
    "name_empty": (["run", "baseline", "--set", "name=''"], "name: must be a non-empty name"),
    "name_is_a_path": (
        ["run", "baseline", "--set", "name=../decoy"],
        "name: must be a plain name, not a path",
    ),
    "out_dot": (["run", "baseline", *SMALL, "--out", "."], ".: is the working directory"),
    "out_cwd_force": (
        ["run", "baseline", *SMALL, "--out", "{cwd}/", "--force"],
        "is the working directory",
    ),
    "out_parent_force": (
        ["run", "baseline", *SMALL, "--out", "..", "--force"],
        "..: contains the working directory",
    ),
    "out_home_force": (
        ["run", "baseline", *SMALL, "--out", "~", "--force"],
        "~: is the home directory",
    ),
    "out_root_force": (
        ["run", "baseline", *SMALL, "--out", "/", "--force"],
        "/: is a filesystem root",
    ),
    "alias_bomb": (["run", "bomb.yaml"], "bomb.yaml: YAML too large"),
    "deep_nesting": (["run", "deep.yaml"], "deep.yaml: YAML nested more than"),
    "sweep_samples_1e9": (
        ["sweep", "samples.yaml", "--out", "s"],
        "samples.yaml: design.samples: must be at most 1,000,000 (got 1,000,000,000)",
    ),
    "sweep_replications_1e9": (
        ["sweep", "reps.yaml", "--out", "s"],
        "reps.yaml: replications: must be at most 10,000 (got 1,000,000,000)",
    ),
    "run_replications_1e9": (
        ["run", "baseline", "--replications", "1000000000"],
        "argument --replications: must be an integer from 1 to 10,000",
    ),
    "analyze_boxes_0": (
        ["analyze", "{sweep}", "--method", "prim", "--threshold", "1", "--boxes", "0"],
        "argument --boxes: must be an integer from 1 to 100 (got 0)",
    ),
    "analyze_peel_alpha_2": (
        ["analyze", "{sweep}", "--method", "prim", "--threshold", "1", "--peel-alpha", "2"],
        "argument --peel-alpha: must be > 0 and <= 0.5 (got 2)",
    ),
    "analyze_min_density_2": (
        ["analyze", "{sweep}", "--method", "prim", "--threshold", "1", "--min-density", "2"],
        "argument --min-density: must be >= 0 and <= 1 (got 2)",
    ),
    "analyze_threshold_nan": (
        ["analyze", "{sweep}", "--method", "prim", "--threshold", "nan"],
        "argument --threshold: must be finite (got nan)",
    ),
    "analyze_out_is_the_sweep": (
        [
            "analyze",
            "{sweep}",
            "--method",
            "prim",
            "--threshold",
            "1",
            "--out",
            "{sweep}",
            "--force",
        ],
        "is or contains this command's input",
    ),
    "run_out_is_a_sweep": (
        ["run", "baseline", *SMALL, "--out", "{sweep}"],
        "holds openweight-sim sweep results; pass --force",
    ),
    "corrupt_manifest": (
        ["analyze", "{corrupt}", "--method", "prim", "--threshold", "1"],
        "manifest.json: corrupt (not valid JSON",
    ),
    "corrupt_manifest_resume": (
        ["sweep", "tiny.yaml", "--out", "{corrupt}", "--resume", "--no-progress"],
        "manifest.json: corrupt (not valid JSON",
    ),
    "plot_user_directory": (
        ["plot", "decoy"],
        "decoy: is not an openweight-sim results directory",
    ),
    "plot_missing_directory": (["plot", "nowhere"], "nowhere: no such directory"),
    "workers_without_parallel_executor": (
        ["run", "baseline", *SMALL, "--workers", "2"],
        "--workers needs --executor processes or dask",
    ),
    "scheduler_with_processes": (
        ["sweep", "tiny.yaml", "--executor", "processes", "--scheduler", "tcp://127.0.0.1:1"],
        "drop --executor processes",
    ),
    "prim_options_with_sobol": (
        ["analyze", "{sweep}", "--method", "sobol", "--threshold", "1", "--boxes", "5"],
        "--threshold, --boxes: for --method prim only, not sobol",
    ),
    "directory_as_scenario": (["run", "decoy"], "decoy: is a directory, not a file"),
    "directory_yaml_as_scenario": (["run", "d.yaml"], "d.yaml: is a directory, not a file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_error_is_one_line_exit_2_and_changes_nothing(tmp_path, sweep_dir, case):
    args, expected = CASES[case]
    cwd = tmp_path / "work"
    cwd.mkdir()
    setup_files(cwd)
    (cwd / "d.yaml").mkdir()
    corrupt = cwd / "corrupt"
    corrupt.mkdir()
    (corrupt / ".openweight-sim.json").write_text(json.dumps({"kind": "sweep"}))
    (corrupt / "manifest.json").write_text('{"spec": ')
    fill = {"{sweep}": str(sweep_dir), "{corrupt}": str(corrupt), "{cwd}": str(cwd)}
    args = [fill.get(a, a.replace("{cwd}", str(cwd))) for a in args]
    before, sweep_before = tree_hash(cwd), tree_hash(sweep_dir)
    (tmp_path / "home").mkdir()  # outside the working directory: tools cache files there
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    res = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert expected in lines[0], lines[0]
    assert res.stdout == ""
    assert tree_hash(cwd) == before, "a file in the working directory changed"
    assert tree_hash(sweep_dir) == sweep_before, "the sweep changed"


def test_nan_is_reported_as_not_finite_rather_than_out_of_bounds(tmp_path):
    res = subprocess.run(
        [*CLI, "run", "baseline", "--set", "developers.price_sensitivity=.nan"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert res.returncode == 2
    assert "less than or equal" not in res.stderr
    assert res.stderr.strip() == (
        "error: --set: developers.price_sensitivity: must be finite (got nan)"
    )


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only location (/sys)")
def test_read_only_location_refused_before_any_run(tmp_path):
    """compare checks --out before its runs: 10,000 paired runs would take hours."""
    cmd = [*CLI, "compare", "baseline", "no_open_weights", "--replications", "10000"]
    res = subprocess.run(
        [*cmd, "--out", "/sys/openweight-sim-test"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: /sys/openweight-sim-test: cannot write in /sys: "
        + res.stderr.strip().rsplit(": ", 1)[-1]
    ]
    assert "Traceback" not in res.stderr
    assert not any(tmp_path.iterdir())


def test_alias_bomb_is_refused_fast(tmp_path):
    """PyYAML would take minutes and gigabytes to expand it; the limit refuses it at once."""
    from openweight_sim.scenario import ScenarioError, read_yaml_mapping

    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    with pytest.raises(ScenarioError, match="too large: more than 100,000 values"):
        read_yaml_mapping(path)


def test_override_value_alias_bomb_is_refused():
    from openweight_sim.scenario import ScenarioError, parse_override

    bomb = "[" + ", ".join(["&a [1,2,3,4,5,6,7,8,9]", *(["*a"] * 3)]) + "]"
    assert parse_override(f"x={bomb}") == ("x", [[1, 2, 3, 4, 5, 6, 7, 8, 9]] * 4)
    nested = "&a0 [1,1,1,1,1,1,1,1,1]"
    for i in range(1, 8):
        nested = f"&a{i} [{nested}" + f", *a{i - 1}" * 8 + "]"
    with pytest.raises(ScenarioError, match="value too large"):
        parse_override(f"x={nested}")


def test_oversized_file_is_refused(tmp_path):
    from openweight_sim.scenario import ScenarioError, read_yaml_mapping

    path = tmp_path / "big.yaml"
    path.write_text("# padding\n" * 200_000)
    with pytest.raises(ScenarioError, match="too large"):
        read_yaml_mapping(path)


def test_every_numeric_option_of_every_command_has_bounds():
    from openweight_sim.cli import build_parser
    from openweight_sim.clierrors import unvalidated_options

    assert unvalidated_options(build_parser()) == []


@pytest.mark.parametrize("command", ["scenarios", "schema"])
def test_closed_pipe_is_quiet(tmp_path, command):
    """The reader goes away at once (like `| head -1`): no BrokenPipeError, nothing on stderr."""
    proc = subprocess.Popen(
        [*CLI, command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert err == ""
    assert proc.returncode == 141


def test_head_in_a_shell_pipeline_is_quiet(tmp_path):
    cli = " ".join(CLI)
    res = subprocess.run(
        f"{cli} scenarios | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert res.returncode == 0
    assert res.stdout.startswith("baseline ")
    assert len(res.stdout.splitlines()) == 1
    assert res.stderr == ""

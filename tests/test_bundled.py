"""The bundled scenario, sweep and data files: one copy at the top of the repository, found by
the package's lookup both in a source checkout and from an installed (non-editable) wheel."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import openweight_sim
from openweight_sim import bundled
from openweight_sim.calibration.facts import default_facts_path, load_facts
from openweight_sim.experiments.spec import resolve_sweep_file
from openweight_sim.releases import history_table
from openweight_sim.scenario import bundled_names, load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _tree(top: Path) -> list[str]:
    """Every file under ``top``, as a POSIX path relative to it."""
    return sorted(p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file())


def test_source_checkout_reads_the_files_at_the_top_of_the_repository():
    assert bundled.scenarios_dir() == ROOT / "scenarios"
    assert bundled.sweeps_dir() == ROOT / "scenarios" / "sweeps"
    assert default_facts_path() == ROOT / "data" / "calibration_facts.csv"
    # No second copy inside the package that could drift from the top-level files.
    package = Path(openweight_sim.__file__).parent
    assert not (package / "scenarios").exists()
    assert not (package / "data").exists()


def test_every_bundled_scenario_and_sweep_loads_by_name():
    names = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    assert len(names) >= 8
    assert bundled_names() == names
    for name in names:
        assert load_scenario(name).name == name
    sweeps = sorted(p.stem for p in (ROOT / "scenarios" / "sweeps").glob("*.yaml"))
    assert {"small", "thesis_sobol"} <= set(sweeps)
    for name in sweeps:
        assert resolve_sweep_file(name) == ROOT / "scenarios" / "sweeps" / f"{name}.yaml"


def test_bundled_data_loads_through_the_package():
    assert len(load_facts()) == len(pd.read_csv(ROOT / "data" / "calibration_facts.csv")) >= 36
    releases = history_table()
    assert len(releases) == 58
    assert releases["quarter"].max() == "2024Q4"


def test_an_empty_directory_inside_the_package_does_not_hide_the_checkout(tmp_path, monkeypatch):
    (tmp_path / "scenarios").mkdir()  # e.g. left behind when the files moved out of the package
    monkeypatch.setattr(bundled.resources, "files", lambda package: tmp_path)
    assert bundled.scenarios_dir() == ROOT / "scenarios"
    (tmp_path / "scenarios" / "mine.yaml").write_text("name: mine\n")
    assert bundled.scenarios_dir() == tmp_path / "scenarios"


def test_missing_bundled_directory_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="bundled directory 'nope' not found"):
        bundled.bundled_path("nope")


def test_each_fact_cites_a_source_table_that_is_in_the_repository():
    facts = pd.read_csv(ROOT / "data" / "calibration_facts.csv")
    source_tables = ROOT / "data" / "sources"
    market = pd.read_csv(source_tables / "market_facts.csv").set_index("id")
    assert facts["source"].notna().all()
    for fact in facts.itertuples():
        if fact.id.startswith("F"):
            # An F fact is the row of market_facts.csv with that id (a year maps to its Q4).
            row = market.loc[fact.id]
            assert f"market_facts {fact.id}" in fact.source
            assert row.metric == fact.metric
            assert float(row.value) == pytest.approx(fact.observed)
            assert fact.period in (row.period, f"{row.period}Q4")
        else:
            # An E fact is read from an Epoch AI extract, which must be in data/sources/.
            tables = re.findall(r"epoch_\w+\.csv", fact.source)
            assert tables, fact.id
            for table in tables:
                assert (source_tables / table).is_file(), table


INSTALLED_CHECK = textwrap.dedent(
    """
    import sys
    from importlib import resources
    from pathlib import Path

    import openweight_sim
    from openweight_sim import bundled
    from openweight_sim.calibration.facts import load_facts
    from openweight_sim.experiments.spec import resolve_sweep_file
    from openweight_sim.releases import history_table
    from openweight_sim.scenario import bundled_names, load_scenario

    site = Path(sys.argv[1]).resolve()
    package = Path(openweight_sim.__file__).resolve().parent
    assert package == site / "openweight_sim", package
    files = resources.files("openweight_sim")
    assert (files / "scenarios" / "baseline.yaml").is_file()
    assert (files / "scenarios" / "sweeps" / "small.yaml").is_file()
    assert (files / "data" / "calibration_facts.csv").is_file()
    assert bundled.scenarios_dir().resolve() == package / "scenarios"
    assert bundled.data_file("calibration_facts.csv").resolve().parent == package / "data"
    assert resolve_sweep_file("small").resolve().parent == package / "scenarios" / "sweeps"
    for name in bundled_names():
        load_scenario(name)
    print(len(bundled_names()), len(load_facts()), len(history_table()))
    sys.stdout.flush()

    from openweight_sim.cli import main

    sys.exit(main(["scenarios"]))
    """
)


def test_wheel_carries_the_bundled_files_and_the_installed_package_finds_them(tmp_path):
    wheels = tmp_path / "wheels"
    pip_wheel = ["pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)]
    build = subprocess.run(
        [sys.executable, "-m", *pip_wheel, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("openweight_sim-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_bytes(zf.read(metadata))
        zf.extractall(tmp_path / "site")
    for top in ("scenarios", "data"):
        for rel in _tree(ROOT / top):
            assert f"openweight_sim/{top}/{rel}" in names, rel
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["License-Expression"] == "MIT"
    assert meta["Version"] == openweight_sim.__version__

    # Run the unpacked wheel (as pip installs it) from a directory outside the repository; its
    # directory comes first on PYTHONPATH, so it shadows the checkout and any editable install.
    site, outside = tmp_path / "site", tmp_path / "elsewhere"
    outside.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    check = subprocess.run(
        [sys.executable, "-c", INSTALLED_CHECK, str(site)],
        capture_output=True,
        text=True,
        cwd=outside,
        env=env,
        timeout=300,
    )
    assert check.returncode == 0, check.stderr
    counts, *listing = check.stdout.splitlines()
    n_scenarios = len(list((ROOT / "scenarios").glob("*.yaml")))
    n_facts = len(pd.read_csv(ROOT / "data" / "calibration_facts.csv"))
    assert counts.split() == [str(n_scenarios), str(n_facts), "58"]
    # `openweight-sim scenarios` (the console script calls cli.main) lists every bundled name.
    assert [line.split()[0] for line in listing] == bundled_names()

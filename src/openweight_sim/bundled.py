"""Where the bundled scenario, sweep and data files are.

The files live once, at the top of the repository: ``scenarios/`` (scenario YAML files and
``scenarios/sweeps/``) and ``data/`` (the historical release table, the calibration facts and
their sources). Two layouts reach them:

- **Installed package** (a wheel, non-editable): the wheel carries the two directories inside the
  package, as ``openweight_sim/scenarios`` and ``openweight_sim/data`` (the
  ``force-include`` table in ``pyproject.toml``); :mod:`importlib.resources` finds them.
- **Source checkout** (an editable install or ``PYTHONPATH=src``): the package runs from
  ``<repository>/src/openweight_sim`` and the files are read from ``<repository>/scenarios`` and
  ``<repository>/data``, so an edit to a bundled file takes effect without reinstalling.

This module is the one place that knows both layouts; everything else asks it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGE = "openweight_sim"
SCENARIOS = "scenarios"
DATA = "data"


def bundled_path(name: str) -> Path:
    """Directory of one bundled tree (``"scenarios"`` or ``"data"``).

    Args:
        name: the directory's name, as at the top of the repository.

    Returns:
        The directory inside the installed package if it is there, else the one at the top of
        the source checkout the package runs from.

    Raises:
        FileNotFoundError: neither layout holds the directory (a broken installation).
    """
    installed = resources.files(PACKAGE) / name
    # An empty directory (left behind in a checkout when the files moved) does not count.
    if installed.is_dir() and any(True for _ in installed.iterdir()):
        return Path(str(installed))
    package_dir = Path(__file__).resolve().parent
    if package_dir.parent.name == "src":
        source = package_dir.parent.parent / name
        if source.is_dir():
            return source
    raise FileNotFoundError(
        f"bundled directory {name!r} not found: neither {installed} (installed package) "
        f"nor <repository>/{name} next to {package_dir.parent} (source checkout)"
    )


def scenarios_dir() -> Path:
    """Directory of the bundled scenario files (``scenarios/*.yaml``)."""
    return bundled_path(SCENARIOS)


def sweeps_dir() -> Path:
    """Directory of the bundled sweep files (``scenarios/sweeps/*.yaml``)."""
    return scenarios_dir() / "sweeps"


def data_file(filename: str) -> Path:
    """Path of one bundled data file, e.g. ``data_file("calibration_facts.csv")``."""
    return bundled_path(DATA) / filename


def posteriors_dir() -> Path:
    """Directory of the bundled posterior samples (``data/posterior/<scenario>/``)."""
    return bundled_path(DATA) / "posterior"


def bundled_posterior(name: str) -> Path | None:
    """The bundled posterior results directory called ``name``, or None if there is none.

    ``data/posterior/baseline/`` is the posterior of the shipped baseline's free parameters
    (``openweight-sim posterior``, measured figures in ``docs/calibration.md``); commands accept
    ``--posterior baseline`` for it, so an analyst needs no hour-long run of their own.
    """
    if not name or "/" in name or name.startswith("."):
        return None
    path = posteriors_dir() / name
    return path if path.is_dir() else None

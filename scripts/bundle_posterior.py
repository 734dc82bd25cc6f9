"""Copy a posterior run into the package data as the bundled posterior of its scenario.

``python scripts/bundle_posterior.py DIR`` copies the light files of the ``openweight-sim
posterior`` results directory ``DIR`` (the sample with its weights, the diagnostics, the
report, the metadata) into ``data/posterior/<scenario>/`` and computes its projection bands
(``bands.csv``, every quarter, from ``projection_quarters.parquet``, with the variance split
of the code that bundles). Commands then accept
``--posterior <scenario>``, and the dashboard's summary card shows the bands. The checkpoint
(``history.db``) and the per-run projection frames stay behind: they are large and only the
run that made them needs them.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd

from openweight_sim.columns import SUMMARY
from openweight_sim.io import atomic_dir
from openweight_sim.outdir import results_kind
from openweight_sim.posterior.bands import BANDS_FILE, projection_bands
from openweight_sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
FILES = (
    "metadata.json",
    "posterior.parquet",
    "posterior.csv",
    "generations.csv",
    "shrinkage.csv",
    "fact_check.csv",
    "correlations.csv",
    "projection.csv",
    "report.md",
)


def bundle(src: Path) -> Path:
    """Copy the posterior run ``src`` into ``data/posterior/<scenario>/``; the new directory.

    Refuses (SystemExit with one line) a directory that is not a posterior run, a run of a
    scenario that is not the shipped one of that name (a stale or foreign posterior), and a
    run with ``--set`` overrides. The bundle is replaced atomically (``io.atomic_dir``).
    """
    if results_kind(src) != "posterior":
        raise SystemExit(f"error: {src}: not a posterior results directory")
    meta = json.loads((src / "metadata.json").read_text())
    name = meta["scenario"]["name"]
    try:
        shipped = load_scenario(name).model_dump(mode="json")
    except ScenarioError:
        raise SystemExit(f"error: {src}: scenario {name!r} is not a bundled scenario") from None
    if meta["scenario"] != shipped:
        raise SystemExit(f"error: {src}: its scenario differs from the shipped {name!r}")
    extra = set(meta.get("overrides", {})) - {"developers.count", "end"}
    if extra:
        raise SystemExit(f"error: {src}: run with overrides {sorted(extra)}; not bundled")
    dest = ROOT / "data" / "posterior" / name
    with atomic_dir(dest, "posterior") as tmp:
        for f in FILES:
            shutil.copyfile(src / f, tmp / f)
        quarters = pd.read_parquet(src / "projection_quarters.parquet")
        projection_bands(quarters, SUMMARY).to_csv(tmp / BANDS_FILE, index=False)
    return dest


def main() -> None:
    """Copy, compute the bands, and say where."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a posterior results directory")
    dest = bundle(parser.parse_args().source)
    print(f"bundled as {dest.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()

"""Copy a posterior run into the package data as the bundled posterior of its scenario.

``python scripts/bundle_posterior.py DIR`` copies the light files of the ``openweight-sim
posterior`` results directory ``DIR`` (the sample with its weights, the diagnostics, the
report, the metadata) into ``data/posterior/<scenario>/`` and computes its projection bands
(``bands.csv``, every quarter, from ``projection_quarters.parquet``). Commands then accept
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
from openweight_sim.outdir import MARKER, results_kind
from openweight_sim.posterior.bands import BANDS_FILE, projection_bands

ROOT = Path(__file__).resolve().parents[1]
FILES = (
    MARKER,
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
    """Copy the posterior run ``src`` into ``data/posterior/<scenario>/``; the new directory."""
    if results_kind(src) != "posterior":
        raise SystemExit(f"error: {src}: not a posterior results directory")
    name = json.loads((src / "metadata.json").read_text())["scenario"]["name"]
    dest = ROOT / "data" / "posterior" / name
    tmp = dest.with_name(f".{name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in FILES:
        shutil.copyfile(src / f, tmp / f)
    quarters = pd.read_parquet(src / "projection_quarters.parquet")
    projection_bands(quarters, SUMMARY).to_csv(tmp / BANDS_FILE, index=False)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def main() -> None:
    """Copy, compute the bands, and say where."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a posterior results directory")
    dest = bundle(parser.parse_args().source)
    print(f"bundled as {dest.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()

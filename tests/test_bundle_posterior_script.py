"""``scripts/bundle_posterior.py``: what ``make posterior`` uses to replace the bundled sample."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from openweight_sim.bundled import bundled_posterior
from openweight_sim.outdir import results_kind

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bundle_posterior.py"


@pytest.fixture
def script(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bundle_posterior", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path / "repo")  # never the real data/
    return module


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A posterior run: the bundled one's files plus a small projection."""
    src = tmp_path / "run"
    shutil.copytree(bundled_posterior("baseline"), src)
    rows = [
        {"draw": d, "replication": r, "quarter": q, "price_closed": 1.0 + d + 0.1 * r}
        for d in range(3)
        for r in range(2)
        for q in ("2024Q4", "2025Q1")
    ]
    pd.DataFrame(rows).to_parquet(src / "projection_quarters.parquet")
    return src


def test_bundles_a_posterior_run_atomically_with_its_bands(script, run_dir, tmp_path):
    dest = script.bundle(run_dir)
    assert dest == tmp_path / "repo" / "data" / "posterior" / "baseline"
    assert results_kind(dest) == "posterior"
    bands = pd.read_csv(dest / "bands.csv")
    assert list(bands["quarter"]) == ["2024Q4", "2025Q1"]
    # draws differ by 1 (between-draw variance 1); the shared seeds add a common 0.1 shift
    # (within-draw variance 0.005) that does not count as the draws' sampling noise
    assert bands["share_parameters"].to_numpy() == pytest.approx(1 / 1.005)
    assert not (dest / "history.db").exists()
    again = script.bundle(run_dir)  # replacing our own bundle is allowed
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in dest.iterdir())
    assert not list(dest.parent.glob(".*tmp*"))


def test_refuses_what_is_not_a_posterior_of_the_shipped_scenario(script, run_dir, tmp_path):
    with pytest.raises(SystemExit, match="not a posterior results directory"):
        script.bundle(tmp_path)
    meta = json.loads((run_dir / "metadata.json").read_text())
    meta["overrides"]["developers.price_sensitivity"] = 2.0
    (run_dir / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit, match="overrides"):
        script.bundle(run_dir)
    meta["overrides"].pop("developers.price_sensitivity")
    meta["scenario"]["developers"]["count"] = 12345
    (run_dir / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit, match="differs from the shipped"):
        script.bundle(run_dir)
    assert not (tmp_path / "repo").exists()  # nothing written

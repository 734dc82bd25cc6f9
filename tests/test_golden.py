"""Golden outputs: every output table is bit-identical to the stored reference.

The references in ``tests/golden/`` were written by ``tests/golden/regenerate.py`` from main
*before* the model/book restructuring, so that the restructuring is proven to change no
result: for three scenarios and two seeds, every column of the ``quarters``, ``labs``,
``hosts``, ``offers`` and ``releases`` tables must match exactly (same rows, same values,
same dtypes; NaN matches NaN). New columns may be added beside the golden ones; a golden
column may not change or disappear. A change that alters results on purpose regenerates the
files and records why in ``tests/golden/README.md``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = [(s, seed) for s in ("baseline", "no_llama", "china_open_surge") for seed in (0, 1)]
TABLES = ("quarters", "labs", "hosts", "offers", "releases", "demand")
POPULATION = 3_000


def run_tables(scenario: str, seed: int) -> dict[str, pd.DataFrame]:
    """Run a bundled scenario at the golden population and return its output tables."""
    from openweight_sim import OpenWeightMarket

    model = OpenWeightMarket(scenario, rng=seed, **{"developers.count": POPULATION})
    model.run_model()
    return {
        "quarters": model.quarters_frame(),
        "labs": model.labs_frame(),
        "hosts": model.hosts_frame(),
        "offers": model.offers_frame(),
        "releases": model.releases_frame(),
        "demand": model.demand_frame(),
    }


@pytest.mark.parametrize(("scenario", "seed"), CASES, ids=[f"{s}-{k}" for s, k in CASES])
def test_outputs_bit_identical_to_golden(scenario: str, seed: int) -> None:
    tables = run_tables(scenario, seed)
    for name in TABLES:
        golden = pd.read_parquet(GOLDEN / f"{scenario}-seed{seed}-{name}.parquet")
        got = tables[name].reset_index(drop=True)
        missing = [c for c in golden.columns if c not in got.columns]
        assert not missing, f"{name}: golden columns missing: {missing}"
        pd.testing.assert_frame_equal(
            got[list(golden.columns)],
            golden,
            check_exact=True,
            check_dtype=True,
            obj=f"{scenario} seed {seed} {name}",
        )

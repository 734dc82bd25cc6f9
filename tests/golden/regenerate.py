"""Regenerate the golden output tables that ``tests/test_golden.py`` compares against.

Run only when a change alters results *on purpose* (a new demand side, a corrected mechanism),
and say why in the commit message and in ``tests/golden/README.md``::

    .venv/bin/python tests/golden/regenerate.py

A restructuring must never need this: its proof is that the golden test passes unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from test_golden import CASES, TABLES, run_tables  # noqa: E402


def main() -> None:
    """Write one Parquet file per (scenario, seed, table) beside this script."""
    for scenario, seed in CASES:
        tables = run_tables(scenario, seed)
        for name in TABLES:
            path = HERE / f"{scenario}-seed{seed}-{name}.parquet"
            tables[name].to_parquet(path, index=False)
            print(path.name, tables[name].shape)


if __name__ == "__main__":
    main()

"""The sweep's result store: one JSON file per finished run, and a manifest.

Layout of a sweep directory::

    manifest.json           the spec, design matrix, seeds, status (written atomically)
    runs/run-000123.json    one finished run: params, seed, outputs, elapsed (atomically)
    results.csv / .parquet  every run as a tidy table, assembled when the sweep completes

Every file is written under a temporary name and renamed into place, so a sweep killed at
any instant (even with SIGKILL) leaves only complete files; the temporary leftovers
(dot-files) are removed when it resumes. A run file exists if and only if that run
finished, which is what ``--resume`` relies on to redo nothing and lose nothing.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from openweight_sim.io import write_json

MANIFEST = "manifest.json"
RUNS = "runs"


def json_safe(value: Any) -> Any:
    """NaN and infinities become null (JSON has no NaN); numpy scalars become Python."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunStore:
    """Run files and the manifest of one sweep directory."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.runs_dir = self.dir / RUNS

    def run_path(self, run: int) -> Path:
        """Path of run ``run``'s file."""
        return self.runs_dir / f"run-{run:06d}.json"

    def exists(self) -> bool:
        """True if the directory holds a sweep (a manifest)."""
        return (self.dir / MANIFEST).is_file()

    def read_manifest(self) -> dict[str, Any]:
        """The manifest (KeyError-free: raises FileNotFoundError if absent)."""
        return json.loads((self.dir / MANIFEST).read_text())

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write the manifest atomically."""
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json(self.dir / MANIFEST, json_safe(manifest))

    def write_run(self, record: dict[str, Any]) -> None:
        """Store one finished run atomically (temporary dot-file, then rename).

        No fsync per run: a kill cannot tear a renamed file, and after a power loss a
        file the disk had not yet written is unreadable, removed and redone on resume.
        """
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_path(record["run"])
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        text = json.dumps(json_safe(record), indent=2, allow_nan=False, default=str)
        tmp.write_text(text + "\n")
        os.replace(tmp, path)

    def clean_partial(self) -> int:
        """Remove temporary files left by an interrupted write; returns how many."""
        removed = 0
        for folder in (self.dir, self.runs_dir):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if p.name.startswith(".") and p.is_file():
                    p.unlink()
                    removed += 1
        return removed

    def read_runs(self) -> dict[int, dict[str, Any]]:
        """Every readable run file, by run index (unreadable ones are removed: redone)."""
        records: dict[int, dict[str, Any]] = {}
        if not self.runs_dir.is_dir():
            return records
        for p in sorted(self.runs_dir.glob("run-*.json")):
            try:
                rec = json.loads(p.read_text())
                records[int(rec["run"])] = rec
            except (ValueError, KeyError, TypeError):
                os.unlink(p)
        return records

    def write_results(self, df: pd.DataFrame) -> None:
        """Write ``results.csv`` and ``results.parquet`` atomically."""
        for suffix in ("csv", "parquet"):
            final = self.dir / f"results.{suffix}"
            tmp = self.dir / f".results.{suffix}.tmp-{os.getpid()}"
            if suffix == "csv":
                df.to_csv(tmp, index=False)
            else:
                try:
                    df.to_parquet(tmp, index=False)
                except (ValueError, TypeError):  # grid values of mixed types
                    mixed = df.select_dtypes(include="object").columns
                    df.astype({c: str for c in mixed}).to_parquet(tmp, index=False)
            os.replace(tmp, final)


def results_frame(
    records: list[dict[str, Any]], parameters: list[str], outputs: list[str]
) -> pd.DataFrame:
    """Tidy table of runs: run, point, replication, seed, status, parameters, outputs."""
    rows = []
    for rec in sorted(records, key=lambda r: r["run"]):
        row = {k: rec[k] for k in ("run", "point", "replication", "seed", "status")}
        row.update({p: rec["params"][p] for p in parameters})
        outs = rec.get("outputs") or {}
        row.update({o: (math.nan if outs.get(o) is None else outs[o]) for o in outputs})
        rows.append(row)
    cols = ["run", "point", "replication", "seed", "status", *parameters, *outputs]
    df = pd.DataFrame(rows, columns=cols)
    for o in outputs:
        df[o] = df[o].astype(float)
    for c in ("run", "point", "replication"):
        df[c] = df[c].astype("int64")
    df["seed"] = df["seed"].astype("int64")
    return df

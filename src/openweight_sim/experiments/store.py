"""The sweep's result store: one JSON file per finished run, and a manifest.

Layout of a sweep directory::

    manifest.json           the spec, design matrix, seeds, status (written atomically)
    runs/run-000123.json    one finished run: params, seed, outputs, elapsed (atomically)
    results.csv / .parquet  every run as a tidy table, assembled when the sweep completes

Every file is written under a temporary name and renamed into place, so a sweep killed at
any instant (even with SIGKILL) leaves only complete files; the temporary leftovers
(dot-files) are removed when it resumes. A run file exists if and only if that run
finished, which is what ``--resume`` relies on to redo nothing and lose nothing.

One session at a time writes a sweep directory: :meth:`RunStore.lock` holds an exclusive
``flock`` on ``.openweight-sim.lock`` (with the holder's PID) for the whole session, and a
second session on the same directory is refused in one line instead of computing runs twice.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from openweight_sim.io import write_json
from openweight_sim.outdir import LOCK, MARKER, DirLock, lock_holder, results_kind, write_marker
from openweight_sim.scenario import ScenarioError

MANIFEST = "manifest.json"
RUNS = "runs"
FORMAT = 1
KEEP = frozenset({LOCK, MARKER})
"""Dot-files of a sweep directory that are not temporary leftovers."""


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
        """The manifest, checked for the parts every reader needs.

        Raises:
            FileNotFoundError: no manifest.
            ScenarioError: unreadable, not JSON, or missing a part (one line).
        """
        path = self.dir / MANIFEST
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise ScenarioError(str(path), "", f"cannot read: {exc.strerror}") from None
        except ValueError as exc:
            raise ScenarioError(str(path), "", f"corrupt (not valid JSON: {exc})") from None
        check_manifest(data, str(path))
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write the manifest atomically (and mark the directory as a sweep)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.dir / MARKER).is_file():
            write_marker(self.dir, "sweep")
        write_json(self.dir / MANIFEST, json_safe(manifest))

    @contextlib.contextmanager
    def lock(self) -> Iterator[DirLock]:
        """Hold the sweep directory for one session (created if missing).

        Raises:
            ScenarioError: another session (this process or another) holds it.
        """
        created = not self.dir.exists()
        had_lock_file = (self.dir / LOCK).exists()
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = DirLock.acquire(self.dir / LOCK)
        if lock is None:
            pid = lock_holder(self.dir / LOCK)
            raise ScenarioError(
                str(self.dir),
                "",
                f"is being written by another sweep session (pid {pid}); wait for it to finish",
            )
        try:
            yield lock
        finally:
            if not had_lock_file and results_kind(self.dir) is None:
                (self.dir / LOCK).unlink()  # no sweep was written: leave nothing behind
                if created and not any(self.dir.iterdir()):
                    self.dir.rmdir()
            lock.release()

    def has_content(self) -> bool:
        """True if the directory holds anything besides the lock file."""
        return self.dir.is_dir() and any(p.name != LOCK for p in self.dir.iterdir())

    def clear(self) -> None:
        """Empty one of our results directories before a replacing sweep (--force).

        Raises:
            ScenarioError: the directory is not an openweight-sim results directory.
        """
        if results_kind(self.dir) is None:
            raise ScenarioError(str(self.dir), "", "is not an openweight-sim results directory")
        for p in self.dir.iterdir():
            if p.name == LOCK:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()

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
                if p.name.startswith(".") and p.name not in KEEP and p.is_file():
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


MANIFEST_PARTS = {"spec": dict, "design": dict, "seeds": list}


def check_manifest(data: Any, source: str) -> None:
    """Check that a manifest has the parts readers use; a one-line ScenarioError if not."""
    if not isinstance(data, dict):
        raise ScenarioError(source, "", "corrupt (not a JSON object)")
    for key, kind in MANIFEST_PARTS.items():
        if not isinstance(data.get(key), kind):
            raise ScenarioError(source, key, f"corrupt (missing or not a {kind.__name__})")
    design = data["design"]
    for key in ("values", "unit", "problem"):
        if key not in design:
            raise ScenarioError(source, f"design.{key}", "corrupt (missing)")
    from pydantic import ValidationError

    from openweight_sim.experiments.spec import SweepSpec

    try:
        SweepSpec.model_validate(data["spec"])
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in ("spec", *err["loc"]))
        raise ScenarioError(source, where, f"corrupt ({err['msg']})") from None


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

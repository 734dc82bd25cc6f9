"""The sweep's result store: a journal of finished runs compacted into Parquet shards.

Layout of a sweep directory::

    manifest.json                 the spec, design matrix, seeds, status (written atomically)
    runs/journal.jsonl            finished runs not yet compacted, one JSON line each
    runs/shard-00000.parquet ...  finished runs, ``shard_size`` to a file, one row per run
    results.csv / .parquet        every run as a tidy table, assembled when the sweep ends

Why a journal and shards instead of a file per run: a sweep of 100,000 runs would otherwise
write 100,000 small files, which cluster file systems handle badly; here it writes about
``runs / shard_size`` files. Guarantees, which ``--resume`` relies on:

* **A finished run is never lost.** Each run is appended to the journal with one ``write``
  on a file opened with ``O_APPEND`` the moment it finishes; a kill cannot interrupt a
  completed system call, so the line is whole on disk for any later reader.
* **A run is never counted twice.** Records are keyed by run index; when the same run
  appears twice (a shard written just before a kill, whose journal was not yet emptied; a
  failed run retried by ``--resume``), the later record wins: shards in order, then the
  journal in order.
* **Nothing torn is read.** A line that does not parse (a power loss mid-write) is dropped
  and the run is redone; shards are written under a temporary name and renamed.

Compaction writes the journal's records as a new shard (temporary name, rename), then
replaces the journal with an empty one (again by rename). A kill between the two leaves
the same runs in both places, which the "later wins" rule reads as one.

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
JOURNAL = "journal.jsonl"
SHARD_SIZE = 2_000
_FIXED = ("run", "point", "replication", "seed", "status")
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


def _shard_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run record: typed key columns, outputs as float columns ``out:<name>``.

    Parameters (whose values may be numbers or strings in a grid) and the remaining
    bookkeeping fields are kept as JSON text so that a record reads back exactly.
    """
    outputs = sorted({k for r in records for k in (r.get("outputs") or {})})
    rows = []
    for r in records:
        outs = r.get("outputs") or {}
        extra = {k: v for k, v in r.items() if k not in (*_FIXED, "params", "outputs")}
        row = {k: r[k] for k in _FIXED}
        row["params"] = json.dumps(r.get("params", {}), sort_keys=True)
        row["extra"] = json.dumps(extra, sort_keys=True, default=str)
        row["has_outputs"] = json.dumps(sorted(outs))
        for o in outputs:
            v = outs.get(o)
            row[f"out:{o}"] = math.nan if v is None else float(v)
        rows.append(row)
    df = pd.DataFrame(rows)
    for c in ("run", "point", "replication", "seed"):
        df[c] = df[c].astype("int64")
    return df


def _shard_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The run records of one shard (the inverse of :func:`_shard_frame`)."""
    out_cols = [c for c in df.columns if c.startswith("out:")]
    records = []
    for row in df.to_dict(orient="records"):
        present = set(json.loads(row["has_outputs"]))
        outputs = {}
        for c in out_cols:
            name = c[4:]
            if name in present:
                v = row[c]
                outputs[name] = None if isinstance(v, float) and math.isnan(v) else float(v)
        rec = {k: (int(row[k]) if k != "status" else row[k]) for k in _FIXED}
        rec["params"] = json.loads(row["params"])
        rec["outputs"] = outputs
        rec.update(json.loads(row["extra"]))
        records.append(rec)
    return records


class RunStore:
    """The journal, shards and manifest of one sweep directory.

    Args:
        directory: the sweep directory.
        shard_size: runs per Parquet shard (the journal is compacted at this length).
    """

    def __init__(self, directory: str | Path, shard_size: int = SHARD_SIZE):
        self.dir = Path(directory)
        self.runs_dir = self.dir / RUNS
        self.journal = self.runs_dir / JOURNAL
        self.shard_size = shard_size
        self._pending = 0  # journal lines written by this process since the last compaction

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

    def shards(self) -> list[Path]:
        """The shard files, in the order they were written."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(self.runs_dir.glob("shard-*.parquet"))

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
        refused = False
        try:
            yield lock
        except ScenarioError:
            refused = True  # bad input: the session changed nothing, so leave nothing behind
            raise
        finally:
            if not had_lock_file and (refused or results_kind(self.dir) is None):
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
        """Append one finished run to the journal, compacting it when it is full.

        One ``os.write`` on an ``O_APPEND`` descriptor: the line is on disk (in the page
        cache, for any later reader) before this returns, whatever kills the process next.
        No fsync per run: after a power loss a torn last line is dropped and redone.
        """
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps(json_safe(record), allow_nan=False, default=str) + "\n"
        fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        self._pending += 1
        if self._pending >= self.shard_size:
            self.compact()

    def _journal_records(self) -> list[dict[str, Any]]:
        if not self.journal.is_file():
            return []
        records = []
        for line in self.journal.read_bytes().splitlines():
            try:
                rec = json.loads(line)
                int(rec["run"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn line: that run is redone
            records.append(rec)
        return records

    def compact(self) -> None:
        """Move the journal's runs into a new shard, then empty the journal."""
        records = self._journal_records()
        self._pending = 0
        if not records:
            return
        shards = self.shards()
        index = int(shards[-1].stem.split("-")[1]) + 1 if shards else 0
        final = self.runs_dir / f"shard-{index:05d}.parquet"
        tmp = self.runs_dir / f".{final.name}.tmp-{os.getpid()}"
        _shard_frame(records).to_parquet(tmp, index=False)
        os.replace(tmp, final)
        empty = self.runs_dir / f".{JOURNAL}.tmp-{os.getpid()}"
        empty.write_bytes(b"")
        os.replace(empty, self.journal)

    def clean_partial(self) -> int:
        """Remove temporary files left by an interrupted write; returns how many.

        Only this store's own temporary names (dot-files in the sweep and runs folders)
        are removed; call it only while holding the sweep's lock.
        """
        removed = 0
        for folder in (self.dir, self.runs_dir):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if (
                    p.name.startswith(".")
                    and ".tmp" in p.name
                    and p.name not in KEEP
                    and p.is_file()
                ):
                    p.unlink()
                    removed += 1
        return removed

    def read_runs(self) -> dict[int, dict[str, Any]]:
        """Every stored run by run index (shards, then the journal; the later record wins)."""
        records: dict[int, dict[str, Any]] = {}
        for shard in self.shards():
            try:
                frame = pd.read_parquet(shard)
            except (OSError, ValueError) as exc:  # damaged on disk (shards are renamed whole)
                raise ScenarioError(
                    str(shard),
                    "",
                    f"corrupt (not a readable Parquet file: {str(exc).splitlines()[0]}); "
                    "move it out of the sweep and run with --resume to redo its runs",
                ) from None
            for rec in _shard_records(frame):
                records[rec["run"]] = rec
        for rec in self._journal_records():
            records[int(rec["run"])] = rec
        return records

    def read_run(self, run: int) -> dict[str, Any]:
        """The stored record of run ``run`` (KeyError if it has not finished)."""
        return self.read_runs()[run]

    def count(self) -> int:
        """Number of distinct finished runs stored (ok or failed)."""
        return len(self.read_runs())

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
        row = {k: rec[k] for k in _FIXED}
        row.update({p: rec["params"][p] for p in parameters})
        outs = rec.get("outputs") or {}
        row.update({o: (math.nan if outs.get(o) is None else outs[o]) for o in outputs})
        rows.append(row)
    cols = [*_FIXED, *parameters, *outputs]
    df = pd.DataFrame(rows, columns=cols)
    for o in outputs:
        df[o] = df[o].astype(float)
    for c in ("run", "point", "replication"):
        df[c] = df[c].astype("int64")
    df["seed"] = df["seed"].astype("int64")
    return df

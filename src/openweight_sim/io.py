"""Results on disk: written to a temporary sibling, renamed into place when complete.

A results directory either exists complete or does not exist: an interrupted or failed
run leaves nothing behind under the requested name. The temporary directory holds a lock
while it is written, so the next run removes what a killed one left and never a live
run's (:func:`openweight_sim.outdir.clean_leftovers`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from openweight_sim.outdir import LOCK, clean_leftovers, locked_tmp, protected_reason, results_kind
from openweight_sim.outdir import write_marker as _write_marker
from openweight_sim.scenario import ScenarioError


@contextlib.contextmanager
def atomic_dir(target: str | Path, kind: str | None = None) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` when the block succeeds.

    On an exception the temporary directory is removed and ``target`` is untouched.
    ``target`` is only ever replaced if it is one of our results directories (checked
    again here; :func:`openweight_sim.outdir.prepare_out` decides which kinds may be).

    Args:
        target: the results directory.
        kind: written into the directory's marker (run, compare, ...); None: no marker.
    """
    target = Path(target)
    reason = protected_reason(target)
    if reason:
        raise ScenarioError(str(target), "", f"{reason}; never replaced")
    if os.path.lexists(target) and results_kind(target) is None:
        raise ScenarioError(
            str(target), "", "exists and is not an openweight-sim results directory"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    with locked_tmp(tmp):
        try:
            yield tmp
            if kind is not None:
                _write_marker(tmp, kind)
            (tmp / LOCK).unlink()
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would hide results from others
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a text file via a temporary name and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~_umask())  # as open() would have made it
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (NaN written as null)."""
    atomic_write_text(path, json.dumps(data, indent=2, default=str, allow_nan=False) + "\n")


def write_table(df: pd.DataFrame, directory: Path, stem: str, parquet: bool = True) -> None:
    """Write a DataFrame as ``stem.csv`` (and ``stem.parquet``) inside ``directory``."""
    df.to_csv(directory / f"{stem}.csv", index=False)
    if parquet:
        df.to_parquet(directory / f"{stem}.parquet", index=False)

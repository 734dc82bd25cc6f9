"""Where results go, and what may be replaced there.

Every results directory carries a marker file, ``.openweight-sim.json``, naming its kind
(run, compare, sweep, validation, analysis, calibration,
posterior). :func:`prepare_out` is called
before any run starts and refuses, with one line, anything that would lose a user's files:

* an existing path that is not one of our results directories (a directory of the user's
  files, empty or not, a regular file, a symbolic link);
* one of ours of another kind, or a sweep, unless ``--force``;
* the working directory or any of its parents, the home directory (or a parent), a
  filesystem root, or the command's own input (``analyze SWEEP --out SWEEP``), even with
  ``--force``;
* a location that cannot be written (checked by creating and removing a probe directory).

A directory being written carries a lock file (``.openweight-sim.lock``) holding an
exclusive ``flock`` and the writer's PID: temporary directories of killed runs are removed
by the next run in the same place (:func:`clean_leftovers`), a live run's never, and a
sweep directory is written by one session at a time.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from openweight_sim import __version__
from openweight_sim.inputs import ScenarioError
from openweight_sim.scenario import parse_override

MARKER = ".openweight-sim.json"
LOCK = ".openweight-sim.lock"
KINDS = (
    "run",
    "compare",
    "sweep",
    "validation",
    "analysis",
    "calibration",
    "meta",
    "posterior",
)
TMP_RE = re.compile(r"^\..+\.tmp-[^/]+$")
OLD_RE = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)$")


# --------------------------------------------------------------------------- markers


def write_marker(directory: str | Path, kind: str) -> None:
    """Mark ``directory`` as an openweight-sim results directory of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown results kind {kind!r} (expected one of {KINDS})")
    data = {"kind": kind, "format": 1, "openweight_sim_version": __version__}
    data["created_unix"] = time.time()
    (Path(directory) / MARKER).write_text(json.dumps(data, indent=2) + "\n")


def _legacy_kind(directory: Path) -> str | None:
    """Kind of a results directory written before markers existed (by its own metadata)."""
    manifest = directory / "manifest.json"
    meta = directory / "metadata.json"
    try:
        if manifest.is_file():
            data = json.loads(manifest.read_text())
            if isinstance(data, dict) and "openweight_sim_version" in data and "spec" in data:
                return "sweep"
        if meta.is_file():
            data = json.loads(meta.read_text())
            if not (isinstance(data, dict) and "openweight_sim_version" in data):
                return None
            for name, kind in (
                ("compare.csv", "compare"),
                ("fitted.yaml", "calibration"),
                ("scorecard.csv", "validation"),
                ("quarters.csv", "run"),
            ):
                if (directory / name).is_file():
                    return kind
    except (OSError, ValueError):
        return None
    return None


def results_kind(directory: str | Path) -> str | None:
    """The kind of an openweight-sim results directory, or None if it is not one of ours."""
    d = Path(directory)
    if d.is_symlink() or not d.is_dir():
        return None
    try:
        data = json.loads((d / MARKER).read_text())
    except FileNotFoundError:
        return _legacy_kind(d)
    except (OSError, ValueError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if kind in KINDS else None


# --------------------------------------------------------------------------- locks


class DirLock:
    """An exclusive ``flock`` on a lock file that also records the holder's PID.

    The kernel releases the lock when its holder dies, however it dies, so a lock file
    that can be locked belongs to nobody alive.
    """

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    @classmethod
    def acquire(cls, path: str | Path, record_pid: bool = True) -> DirLock | None:
        """Lock ``path`` (created if missing) without waiting; None if someone holds it.

        ``record_pid=False`` only tests the lock and leaves the file's bytes as they were.
        """
        path = Path(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        if record_pid:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        return cls(path, fd)

    def release(self) -> None:
        """Unlock and close (the file stays; remove it first if it should go)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def lock_holder(path: str | Path) -> int | None:
    """PID recorded in a held lock file, 0 if held but unreadable, None if not held."""
    path = Path(path)
    if not path.is_file():
        return None
    lock = DirLock.acquire(path, record_pid=False)
    if lock is not None:
        lock.release()
        return None
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(parent: str | Path) -> list[Path]:
    """Remove what killed runs left in ``parent``; return the paths removed or restored.

    * ``.<name>.tmp-*`` directories (an unfinished atomic write) are removed when their lock
      file is not held; a live run holds it, and a directory without one is left alone.
    * ``.<name>.old-<pid>`` (a replaced directory, kept for an instant during the swap) of a
      dead process is removed if ``<name>`` exists, or renamed back to ``<name>`` if the
      process died between the two renames.
    """
    parent = Path(parent)
    done: list[Path] = []
    if not parent.is_dir():
        return done
    for entry in parent.iterdir():
        if entry.is_symlink() or not entry.is_dir():
            continue
        if TMP_RE.match(entry.name) and (entry / LOCK).is_file():
            lock = DirLock.acquire(entry / LOCK, record_pid=False)
            if lock is None:
                continue
            try:
                shutil.rmtree(entry, ignore_errors=True)
            finally:
                lock.release()
            done.append(entry)
        elif (m := OLD_RE.match(entry.name)) and not _pid_alive(int(m["pid"])):
            if results_kind(entry) is None:
                continue
            target = parent / m["name"]
            if target.exists():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.rename(target)
            done.append(entry)
    return done


# --------------------------------------------------------------------------- checks


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def protected_reason(path: str | Path) -> str | None:
    """Why ``path`` may never be replaced (even with --force), or None."""
    p = Path(path).expanduser().resolve()
    if p.parent == p or os.path.ismount(p):
        return "is a filesystem root"
    cwd = Path.cwd().resolve()
    if p == cwd:
        return "is the working directory"
    if _is_within(cwd, p):
        return "contains the working directory"
    home = Path.home().resolve()
    if p == home:
        return "is the home directory"
    if _is_within(home, p):
        return "contains the home directory"
    return None


def _nearest_existing(p: Path) -> Path:
    for a in (p, *p.parents):
        if os.path.lexists(a):
            return a
    return Path(p.anchor or ".")


def _check_writable(directory: Path, shown: Path) -> None:
    """Create and remove a probe directory in ``directory``: the only sure test."""
    try:
        probe = tempfile.mkdtemp(prefix=".openweight-sim-probe-", dir=directory)
        os.rmdir(probe)
    except OSError as exc:
        raise ScenarioError(
            str(shown), "", f"cannot write in {directory}: {exc.strerror}"
        ) from None


def _check_existing(p: Path, kind: str, force: bool, resume: bool) -> None:
    """Refuse replacing an existing ``p`` unless it is ours and the rules allow it."""
    shown = str(p)
    if p.is_symlink():
        raise ScenarioError(shown, "", "is a symbolic link; give the directory's own path")
    if not p.is_dir():
        raise ScenarioError(shown, "", "exists and is a file, not a results directory")
    have = results_kind(p)
    if have is None:
        n = sum(1 for _ in p.iterdir())
        what = (
            "an empty directory" if n == 0 else f"a directory of {n} entr{'y' if n == 1 else 'ies'}"
        )
        raise ScenarioError(
            shown,
            "",
            f"exists and is not an openweight-sim results directory ({what}); choose another --out",
        )
    if have == "sweep":
        pid = lock_holder(p / LOCK)
        if pid is not None:
            raise ScenarioError(
                shown,
                "",
                f"is being written by another sweep session (pid {pid}); wait for it to finish",
            )
    if resume:
        if have != "sweep":
            raise ScenarioError(shown, "", f"holds {have} results, not a sweep to resume")
        return
    if have == kind and kind != "sweep":
        return
    if not force:
        if have == "sweep" and kind == "sweep":
            raise ScenarioError(
                shown,
                "",
                "already holds a sweep; pass --resume to continue it, or --force to replace it",
            )
        raise ScenarioError(
            shown,
            "",
            f"holds openweight-sim {have} results; pass --force to replace them "
            f"with {kind} results, or choose another --out",
        )


def prepare_out(
    path: str | Path,
    kind: str,
    force: bool = False,
    *,
    inputs: Iterable[str | Path] = (),
    resume: bool = False,
) -> Path:
    """Check that results of ``kind`` may be written to ``path``; nothing is left behind.

    Call it before any run starts, so that a refusal costs nothing.

    Args:
        path: the requested (or default) results directory.
        kind: one of :data:`KINDS`.
        force: allow replacing one of our results directories of another kind, or a sweep.
        inputs: paths the command reads (``analyze``'s sweep): never replaced.
        resume: the directory is a sweep to continue (``sweep --resume``).

    Returns:
        ``path`` as a Path.

    Raises:
        ScenarioError: one line saying why ``path`` cannot be used.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown results kind {kind!r}")
    if not str(path).strip():
        raise ScenarioError("--out", "", "is empty; give a directory")
    p = Path(path).expanduser()
    shown = str(path)
    reason = protected_reason(p)
    if reason:
        raise ScenarioError(shown, "", f"{reason}; never replaced, choose another --out")
    resolved = p.resolve()
    for inp in inputs:
        if _is_within(Path(inp).resolve(), resolved):
            raise ScenarioError(
                shown, "", f"is or contains this command's input {inp}; choose another --out"
            )
    base = _nearest_existing(p.parent if p.parent != p else p)
    if not base.is_dir():
        raise ScenarioError(shown, "", f"is under {base}, which is a file, not a directory")
    if os.path.lexists(p):
        _check_existing(p, kind, force, resume)
        if kind == "sweep":
            _check_writable(p, Path(shown))
    _check_writable(base, Path(shown))
    return p


# --------------------------------------------------------------------------- names


def default_out_dir(
    base: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    replications: int = 1,
    seed: int = 0,
    default_replications: int = 1,
) -> Path:
    """The default results directory: ``base``, plus a suffix for anything non-default.

    ``results/baseline`` is the plain baseline; overrides add a short hash of themselves
    (``results/baseline-set3f9a2c1d``; a ``name`` override is already in ``base``), other
    replications ``-r20``, another root seed ``-s7``. The same command always gives the
    same directory, and a variant never overwrites the plain results.
    """
    base = Path(base)
    parts = [base.name]
    over = {k: v for k, v in (overrides or {}).items() if k != "name"}
    if over:
        blob = json.dumps(over, sort_keys=True, default=str)
        parts.append("set" + hashlib.sha256(blob.encode()).hexdigest()[:8])
    if replications != default_replications:
        parts.append(f"r{replications}")
    if seed != 0:
        parts.append(f"s{seed}")
    name = "-".join(parts)
    if len(name.encode()) > 200:  # long names: keep the directory name within NAME_MAX
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = name.encode()[:180].decode(errors="ignore") + "-" + digest
    return base.with_name(name)


def scenario_file_suffix(scenario_args: Iterable[Any], base_name: str) -> str:
    """A default-directory suffix for scenarios read from the user's own files.

    A scenario file that does not set its own ``name`` inherits the one it extends (often
    ``baseline``), so without a suffix its results would go to ``results/baseline`` and
    replace the plain baseline's. A user's file (any file other than the bundled scenario
    of that name) therefore adds its file name, or, where the file is named like the
    directory, ``file`` and a short hash of its content.

    Args:
        scenario_args: the command's scenario arguments (bundled names or paths; None ok).
        base_name: the default directory's name so far (from the scenario's name).
    """
    from openweight_sim.bundled import scenarios_dir

    parts = []
    for arg in scenario_args:
        if not isinstance(arg, str) or not os.path.isfile(arg):
            continue  # a bundled name (or nothing): its own name is its directory
        path = Path(arg)
        bundled = scenarios_dir() / path.name
        if bundled.is_file() and bundled.resolve() == path.resolve():
            continue
        if path.stem not in base_name:
            parts.append(path.stem)
        else:
            parts.append("file" + hashlib.sha256(path.read_bytes()).hexdigest()[:8])
    return "-".join(parts)


def add_force_flag(parser: Any) -> None:
    """Add ``--force`` to a command that writes a results directory."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing openweight-sim results directory of another kind, or a "
        "sweep (never anything else)",
    )


@contextlib.contextmanager
def locked_tmp(tmp: Path) -> Iterator[DirLock]:
    """Hold the lock file inside a temporary results directory while it is written."""
    lock = DirLock.acquire(tmp / LOCK)
    if lock is None:  # pragma: no cover - a fresh mkdtemp is ours alone
        raise RuntimeError(f"{tmp} is locked by another process")
    try:
        yield lock
    finally:
        lock.release()


INPUT_ARGS = ("scenario", "a", "b", "file", "sweep_dir")
"""Arguments naming what a command reads."""
DEFAULT_REPLICATIONS = {"run": 1, "compare": 10, "validation": 20, "calibration": 3, "meta": 10}
"""Each command's default ``--replications``: other counts get a ``-r<n>`` suffix."""


def out_dir_for(
    args: Any, default: str | Path, kind: str, *, inputs: Iterable[str | Path] = ()
) -> Path:
    """:func:`prepare_out` for a command's parsed arguments (``--out``, ``--force``, ...).

    Without ``--out`` the directory is :func:`default_out_dir` of ``default``, suffixed by
    the command's ``--set`` overrides, ``--replications`` and ``--seed`` where it has them.
    The files and directories the command reads (its scenario, sweep file or sweep
    directory) are never replaced.
    """
    read = (getattr(args, k, None) for k in INPUT_ARGS)
    inputs = [*inputs, *(p for p in read if isinstance(p, str) and os.path.exists(p))]
    default_replications = DEFAULT_REPLICATIONS.get(kind, 1)
    out = getattr(args, "out", None)
    if not out:
        default = Path(default)
        suffix = scenario_file_suffix(
            [getattr(args, k, None) for k in ("scenario", "a", "b")], default.name
        )
        if suffix:
            default = default.with_name(f"{default.name}-{suffix}")
        sets = dict(parse_override(s) for s in (getattr(args, "set", None) or []))
        reps = getattr(args, "replications", default_replications)
        out = default_out_dir(
            default,
            sets,
            replications=reps,
            seed=getattr(args, "seed", 0),
            default_replications=default_replications,
        )
    return prepare_out(
        out,
        kind,
        bool(getattr(args, "force", False)),
        inputs=inputs,
        resume=bool(getattr(args, "resume", False)),
    )

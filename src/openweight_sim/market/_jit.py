"""Numba's ``njit`` with an on-disk cache where one can be written.

Why: the compiled kernels are cached on disk (``cache=True``) so that later processes load
them in about 0.2 s instead of compiling them again; a read-only installation must still
import, and then compiles once per process instead.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from numba import njit as _numba_njit


def _cache_dirs() -> list[str | Path | None]:
    """Where numba may keep this module's cache: ``NUMBA_CACHE_DIR``, next to it, user-wide."""
    user = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "numba"
    return [os.environ.get("NUMBA_CACHE_DIR"), Path(__file__).parent / "__pycache__", user]


def _cache_writable(candidates: list[str | Path | None] | None = None) -> bool:
    """Whether numba can write its on-disk cache for this module.

    Why: with ``cache=True`` numba raises at decoration time ("no locator available") when
    neither ``__pycache__`` next to this file, nor ``NUMBA_CACHE_DIR``, nor the user's cache
    directory is writable (a read-only install in a container). The package must still
    import there; it then compiles the kernels once per process instead.

    Args:
        candidates: directories to try (default :func:`_cache_dirs`).
    """
    for cand in _cache_dirs() if candidates is None else candidates:
        if not cand:
            continue
        path = Path(cand)
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                return True
        except OSError:
            continue
    return False


_CACHE = _cache_writable()


def njit(**options: Any) -> Any:
    """Numba's ``njit`` with the on-disk cache when it can be written (see above)."""
    return _numba_njit(**{**options, "cache": options.get("cache", False) and _CACHE})

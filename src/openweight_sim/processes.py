"""Child processes that end with their parent and leave Ctrl-C to it.

Used by the sweep executors (:mod:`openweight_sim.experiments.executors`) for their worker
processes and by ``openweight-sim dashboard`` for its server process. Standard library
only, so the CLI can import it cheaply.

* :func:`set_parent_death_signal`: on Linux, the kernel sends this process a signal when
  its parent dies, even by SIGKILL (``prctl(PR_SET_PDEATHSIG)``).
* :func:`die_with_parent`: the above plus, on every platform, a watchdog thread that exits
  the process once its parent has gone.
* :func:`interrupts_to_parent_only`: children started inside it ignore SIGINT, so a
  terminal's Ctrl-C (sent to the whole process group) stops only the parent, which then
  stops its children in order instead of each printing a traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

PR_SET_PDEATHSIG = 1
"""``prctl`` option (linux/prctl.h): the signal this process gets when its parent dies."""

WATCHDOG_INTERVAL_S = 0.5
"""How often :func:`die_with_parent`'s thread checks that the parent is still alive."""


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent thread ends.

    Safe to call between ``fork`` and ``exec`` (``preexec_fn``): it makes one system call.
    The setting survives ``exec``. It follows the *thread* that started this process, so
    start long-lived children from a thread that lives as long as they should.

    Returns:
        True if the kernel accepted it (Linux), False elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig)) == 0
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_INTERVAL_S)
    os._exit(1)


def die_with_parent(parent: int) -> None:
    """Make this process exit when ``parent`` (the pid of its parent) dies, even by SIGKILL.

    On Linux the kernel kills it at once (:func:`set_parent_death_signal`); everywhere a
    daemon thread polls the parent pid (an orphan is re-parented, so ``getppid`` changes),
    which also covers a parent that died before this call.
    """
    set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()


@contextlib.contextmanager
def interrupts_to_parent_only() -> Iterator[None]:
    """Child processes started inside this block ignore SIGINT; the parent keeps it.

    A terminal sends Ctrl-C to the whole process group. Children started here inherit an
    ignored SIGINT (an ignored disposition survives ``exec``, whichever thread starts the
    child), so only the parent raises ``KeyboardInterrupt`` and shuts its workers down in
    order. SIGINT is also blocked in this thread meanwhile: Linux keeps a blocked signal
    pending even while it is ignored, so a Ctrl-C inside the block is raised in the parent
    when the block ends instead of being lost. Outside the main thread only the blocking
    applies (Python sets signal handlers in the main thread only).
    """
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    main = threading.current_thread() is threading.main_thread()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

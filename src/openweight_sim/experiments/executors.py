"""Executors: run independent tasks serially, in local processes, or on a Dask cluster.

Every executor yields ``(index, result)`` as each task finishes, so the caller can store
each result at once. A task's result depends only on its arguments (each run carries its
own seed), so the executor and the number of workers change the speed, never the results.

* ``serial``: in this process, in order.
* ``processes``: a ``ProcessPoolExecutor`` with the ``spawn`` start method (the same on
  Linux, macOS and Windows, and safe in a process that already runs threads).
* ``dask``: a ``distributed.LocalCluster`` (one single-threaded worker process per
  worker) or an existing cluster, given by its address (``scheduler``) or by the file a
  scheduler writes (``scheduler_file``, as ``dask scheduler --scheduler-file``, dask-jobqueue
  and HPC launchers do). Before the first run the workers' versions of openweight-sim,
  numpy, pandas, Mesa and dask are checked against this process's: a worker that would
  compute different results is refused. A task whose worker dies is retried on another
  worker (``retries`` times); a task that still fails is handed to ``on_error``, so the
  sweep records it as a failed run instead of aborting.

Local worker processes live only as long as the process that started them: a pool worker
is killed by the kernel when its parent dies (``PR_SET_PDEATHSIG`` on Linux) and, on every
platform, exits when a watchdog thread sees that its parent has gone; Dask's own worker
processes exit when their nanny's pipe closes. Ctrl-C (SIGINT, sent by a terminal to the
whole process group) reaches only the parent: workers start with SIGINT ignored
(:mod:`openweight_sim.processes`), so the parent alone raises ``KeyboardInterrupt``, stops
its workers and can say how to resume.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from openweight_sim.processes import die_with_parent, interrupts_to_parent_only
from openweight_sim.scenario import ScenarioError

EXECUTORS = ("serial", "processes", "dask")


def default_workers() -> int:
    """Number of CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def execute(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    scheduler_file: str | None = None,
    retries: int = 2,
    on_error: Callable[[int, BaseException], Any] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Apply ``fn`` to every item; yield ``(index, fn(items[index]))`` as each finishes.

    Args:
        fn: a picklable function of one argument (for processes and Dask).
        items: the tasks' arguments.
        executor: ``serial``, ``processes`` or ``dask``.
        workers: processes or Dask workers (default: the CPUs available).
        scheduler: address of a running Dask scheduler (implies ``dask``).
        scheduler_file: a Dask scheduler file (implies ``dask``).
        retries: Dask only: times a task is resubmitted after its worker died.
        on_error: Dask only: ``(index, exception) -> result`` for a task that still failed
            (its worker died more than ``retries`` times); without it the error is raised.

    Raises:
        ValueError: unknown executor.
        ScenarioError: the Dask scheduler cannot be reached, or a worker's versions differ.
    """
    if scheduler or scheduler_file:
        executor = "dask"
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r} (expected {', '.join(EXECUTORS)})")
    if not items:
        return (pair for pair in ())
    if executor == "serial":
        return ((i, fn(item)) for i, item in enumerate(items))
    n = max(1, workers or default_workers())
    if executor == "processes":
        return _processes(fn, items, n)
    return _dask(fn, items, n, DaskTarget(scheduler, scheduler_file), retries, on_error)


@dataclass(frozen=True)
class DaskTarget:
    """Where an existing Dask cluster is: its scheduler's address or its scheduler file."""

    address: str | None = None
    scheduler_file: str | None = None

    @property
    def external(self) -> bool:
        """True if an existing cluster is named (else a LocalCluster is started)."""
        return bool(self.address or self.scheduler_file)

    @property
    def option(self) -> tuple[str, str]:
        """The command-line option and value that named the cluster (for messages)."""
        if self.scheduler_file:
            return "--scheduler-file", self.scheduler_file
        return "--scheduler", self.address or ""


def connect(scheduler: str | None = None, timeout: str = "10s", scheduler_file: str | None = None):
    """A ``distributed.Client`` of the scheduler at this address or in this scheduler file.

    Raises:
        ScenarioError: the scheduler cannot be reached (one line, exit status 2).
    """
    from distributed import Client

    option, value = DaskTarget(scheduler, scheduler_file).option
    if scheduler_file and not os.path.isfile(scheduler_file):
        raise ScenarioError(option, value, "no such scheduler file")
    try:
        if scheduler_file:
            return Client(scheduler_file=scheduler_file, timeout=timeout)
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScenarioError(option, value, f"cannot connect: {exc}") from None


def check_scheduler(scheduler: str | None = None, scheduler_file: str | None = None) -> None:
    """Fail early, before anything is written, if the cluster is unusable.

    The scheduler must be reachable and every worker must run the same versions of the
    packages that determine results (:func:`worker_versions`).
    """
    client = connect(scheduler, scheduler_file=scheduler_file)
    try:
        check_worker_versions(client, DaskTarget(scheduler, scheduler_file))
    finally:
        client.close()


VERSIONED = ("openweight_sim", "numpy", "pandas", "scipy", "mesa", "numba", "dask", "distributed")


def worker_versions() -> dict[str, str]:
    """Versions of the packages whose version can change a run's results or its transport."""
    import importlib
    import platform

    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            module = importlib.import_module(name)
        except ImportError:
            out[name] = "missing"
            continue
        out[name] = str(getattr(module, "__version__", "?"))
    return out


def check_worker_versions(client: Any, target: DaskTarget) -> None:
    """Refuse a cluster whose workers' versions differ from this process's.

    Raises:
        ScenarioError: one line naming the first worker and package that differ.
    """
    mine = worker_versions()
    theirs = client.run(worker_versions)
    option, value = target.option
    for worker, versions in sorted(theirs.items()):
        for name, version in mine.items():
            if versions.get(name) != version:
                raise ScenarioError(
                    option,
                    value,
                    f"worker {worker} has {name} {versions.get(name)} where this process "
                    f"has {version}; install the same versions on every worker",
                )


def _pool_worker_init(parent: int) -> None:
    """Initializer of a pool worker: leave Ctrl-C to the parent and die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


def _stop_workers(pool: Any) -> None:
    """Terminate a process pool's workers now (their running tasks are abandoned)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()


def _processes(fn: Callable, items: Sequence[Any], workers: int) -> Iterator[tuple[int, Any]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(items)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_pool_worker_init,
        initargs=(os.getpid(),),
    )
    try:
        with interrupts_to_parent_only():  # the workers start at the first submits
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    except BaseException:  # interrupted, or the caller stopped early: do not wait for runs
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _local_cluster(local_cluster: Callable, n_workers: int) -> Any:
    """Start a LocalCluster of single-threaded worker processes, tuned for this model.

    Dask's nannies set ``MALLOC_TRIM_THRESHOLD_=65536`` in their workers' environment
    (``distributed.nanny.pre-spawn-environ``). An explicit threshold also pins glibc's mmap
    threshold at 128 KiB, so every large numpy array is mmap'd and zero-filled afresh: the
    benchmarks measured 400,000-developer runs about 1.5x slower on such workers
    (benchmarks/README.md). We drop that one setting, and restore the parent's environment,
    which Dask otherwise leaves modified for later pools in the same process.

    The services a worker runs beside its task thread wake its event loop many times a
    second (the statistical profiler every 10 ms, the loop's tick every 20 ms, system and
    memory monitors); each wake-up takes the GIL from the running model, and when every core
    is busy the hand-over waits for a free core. On a 2-core machine with 2 workers that made
    each run 10-25% slower than in a plain process; without the profiler (it only feeds the
    dashboard, which this cluster does not serve) and with slower ticks and monitors, runs
    were about 9% faster in paired measurements (benchmarks/README.md).
    """
    import dask

    settings = {
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "5s",
        "distributed.worker.memory.monitor-interval": "1s",
        "distributed.scheduler.work-stealing": False,  # equal-sized runs; queuing balances them
    }
    saved = dict(os.environ)
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)  # nor inherit one left by another cluster
    try:
        with dask.config.set(settings), interrupts_to_parent_only():
            return local_cluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # the scheduler's own HTTP routes: any free loopback port, never a clash
                # (and a warning) on 8787 when another cluster runs on this machine
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                # a run's error reaches the client through its future (recorded as a failed
                # run); the workers' own error logs would only add noise, e.g. a heartbeat
                # that fails while the cluster shuts down after Ctrl-C
                silence_logs=logging.CRITICAL,
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _dask(
    fn: Callable,
    items: Sequence[Any],
    workers: int,
    target: DaskTarget,
    retries: int,
    on_error: Callable[[int, BaseException], Any] | None,
) -> Iterator[tuple[int, Any]]:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if target.external:
        client = connect(target.address, scheduler_file=target.scheduler_file)
        check_worker_versions(client, target)
    else:
        cluster = _local_cluster(LocalCluster, min(workers, len(items)))
        client = Client(cluster)
    try:
        futures = {
            client.submit(fn, item, pure=False, retries=retries): i for i, item in enumerate(items)
        }
        for fut in as_completed(futures):
            i = futures.pop(fut)
            try:
                result = fut.result()
            except Exception as exc:
                if on_error is None:
                    raise RuntimeError(
                        f"task {i} failed on the Dask cluster: {exc!r} (do its workers have "
                        "openweight-sim installed, at the same version?)"
                    ) from exc
                result = on_error(i, exc)
            yield i, result
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

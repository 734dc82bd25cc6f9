"""One pool of workers for a whole calibration: many batches of runs, one start-up.

The sweep executors (:func:`openweight_sim.experiments.executors.execute`) start a pool for
every call. A calibration evaluates one generation of candidates after another, each a
batch of a few dozen short runs; starting processes or a Dask cluster per generation
would cost more than the runs. :class:`RunPool` starts the same workers the executors use
(spawned processes that die with their parent and leave Ctrl-C to it; a tuned
``LocalCluster``, or an existing cluster checked for matching package versions) once, and
maps batch after batch onto them.

Results come back in the order of the batch, whatever worker finished first, so a batch
gives the same list for every executor and worker count.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from openweight_sim.experiments.executors import (
    EXECUTORS,
    DaskTarget,
    _local_cluster,
    _pool_worker_init,
    _stop_workers,
    check_worker_versions,
    connect,
    default_workers,
)
from openweight_sim.processes import interrupts_to_parent_only


class RunPool:
    """Workers kept for the life of a ``with`` block; :meth:`map` runs a batch on them.

    Args:
        executor: ``serial``, ``processes`` or ``dask``.
        workers: processes or local Dask workers (default: the CPUs available).
        scheduler: address of a running Dask scheduler (implies ``dask``).
        scheduler_file: scheduler file of a running Dask cluster (implies ``dask``).
        retries: Dask only: times a task is resubmitted after its worker died.
    """

    def __init__(
        self,
        executor: str = "serial",
        workers: int | None = None,
        scheduler: str | None = None,
        scheduler_file: str | None = None,
        retries: int = 2,
    ) -> None:
        self.target = DaskTarget(scheduler, scheduler_file)
        self.executor = "dask" if self.target.external else executor
        if self.executor not in EXECUTORS:
            raise ValueError(f"unknown executor {executor!r} (expected {', '.join(EXECUTORS)})")
        self.workers = 1 if self.executor == "serial" else max(1, workers or default_workers())
        self.retries = retries
        self._pool: Any = None
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> RunPool:
        if self.executor == "processes":
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_pool_worker_init,
                initargs=(os.getpid(),),
            )
        elif self.executor == "dask":
            from distributed import Client, LocalCluster

            if self.target.external:
                self._client = connect(
                    self.target.address, scheduler_file=self.target.scheduler_file
                )
                check_worker_versions(self._client, self.target)
            else:
                self._cluster = _local_cluster(LocalCluster, self.workers)
                self._client = Client(self._cluster)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            if exc is not None:  # interrupted or failed: do not wait for running tasks
                _stop_workers(self._pool)
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``[fn(item) for item in items]``, run on the pool's workers, in the batch's order.

        Args:
            fn: a picklable function of one argument.
            items: the batch.

        Raises:
            RuntimeError: a task failed on the Dask cluster after its retries.
        """
        if not items:
            return []
        if self.executor == "serial":
            return [fn(item) for item in items]
        if self.executor == "processes":
            if self._pool is None:
                raise RuntimeError("RunPool.map outside its with block")
            with interrupts_to_parent_only():  # workers start at the first submits
                futures = [self._pool.submit(fn, item) for item in items]
            return [f.result() for f in futures]
        if self._client is None:
            raise RuntimeError("RunPool.map outside its with block")
        futures = [
            self._client.submit(fn, item, pure=False, retries=self.retries) for item in items
        ]
        try:
            return self._client.gather(futures)
        except Exception as exc:
            raise RuntimeError(
                f"a calibration run failed on the Dask cluster: {exc!r} (do its workers have "
                "openweight-sim installed, at the same version?)"
            ) from exc

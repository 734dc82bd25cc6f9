"""Sweeps: a design × replications, run on any executor, each finished run stored at once.

The pipeline is SALib's ``sample → evaluate → analyze``:

* :func:`run_sweep` samples the design (:mod:`.designs`), gives run ``i`` (point ``p``,
  replication ``r``, ``i = p·replications + r``) the seed
  ``spawn_seeds(design.seed, n_runs)[i]``, evaluates the runs on the chosen executor
  (:mod:`.executors`) and stores each one the moment it finishes (:mod:`.store`). Results
  are the same for every executor and worker count; a killed sweep restarted with
  ``resume=True`` redoes nothing that finished.
* :func:`open_sweep` reads a sweep directory back for analysis (:mod:`.sensitivity`,
  :mod:`.discovery`).

The evaluator is a function ``(params, seed) -> {output: value}``; by default the model
(:class:`~.evaluate.ModelEvaluator`), but any function works, which is how the Ishigami
test exercises exactly this code.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim import __version__
from openweight_sim.experiments.designs import DesignMatrix, sample_design
from openweight_sim.experiments.evaluate import (
    Evaluator,
    ModelEvaluator,
    Task,
    evaluate_task,
    run_record,
)
from openweight_sim.experiments.executors import check_scheduler, execute
from openweight_sim.experiments.spec import SweepSpec, parse_spec, read_sweep_file, resolve_model
from openweight_sim.experiments.store import RunStore, json_safe, results_frame
from openweight_sim.scenario import ScenarioError
from openweight_sim.seeds import spawn_seeds


def plan_tasks(design: DesignMatrix, replications: int, seed: int) -> list[Task]:
    """All runs of a sweep, in run order, each with its spawned seed."""
    seeds = spawn_seeds(seed, design.n_points * replications)
    records = json_safe(design.points.to_dict(orient="records"))
    return [
        Task(p * replications + r, p, r, seeds[p * replications + r], records[p])
        for p in range(design.n_points)
        for r in range(replications)
    ]


def _lost_run(todo: list[Task], index: int, exc: BaseException) -> dict[str, Any]:
    """The record of a run that never returned (its Dask workers kept dying).

    Stored as a failed run with the error, like a run that raised, so that one poisonous
    corner of parameter space does not abort a long sweep; ``--resume`` retries it.
    """
    return run_record(todo[index], {}, exc, elapsed_s=None, worker=None)


def _evaluator_name(evaluate: Evaluator) -> str:
    if isinstance(evaluate, ModelEvaluator):
        return "openweight_sim.experiments.evaluate.ModelEvaluator"
    fn = getattr(evaluate, "func", evaluate)
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def _identity(spec: SweepSpec, design: DesignMatrix, tasks: list[Task], fp: str, ev: str):
    """The part of the manifest a resumed sweep must match exactly."""
    return json_safe(
        {
            "spec": spec.model_dump(mode="json"),
            "scenario_fingerprint": fp,
            "evaluator": ev,
            "design": {
                "values": design.points.to_dict(orient="list"),
                "unit": None if design.unit is None else design.unit.tolist(),
                "problem": design.problem,
            },
            "seeds": [t.seed for t in tasks],
        }
    )


def _prepare_store(
    store: RunStore, identity: dict, resume: bool, source: str, replace: bool = False
) -> dict:
    """Open (resume) or create the sweep directory; returns the manifest to keep updating."""
    if replace and not resume and store.has_content():
        store.clear()
    if store.exists():
        if not resume:
            raise ScenarioError(
                str(store.dir),
                "",
                "already holds a sweep; pass --resume to continue it, or choose another --out",
            )
        old = store.read_manifest()  # a corrupt manifest is a one-line ScenarioError
        differ = [k for k in identity if old.get(k) != identity[k]]
        if differ:
            raise ScenarioError(
                source,
                "",
                f"differs from the sweep stored in {store.dir} "
                f"({', '.join(differ)}); resume only the same sweep, or choose another --out",
            )
        return old
    if store.has_content():
        raise ScenarioError(str(store.dir), "", "exists and is not a sweep directory")
    manifest = {
        "format": 1,
        "openweight_sim_version": __version__,
        "source": source,
        "created_unix": time.time(),
        **identity,
        "sessions": [],
    }
    store.write_manifest(manifest)
    return manifest


def prepare_sweep(
    spec: SweepSpec | str | Path, evaluate: Evaluator | None = None
) -> tuple[SweepSpec, str, Evaluator, DesignMatrix, list[Task], str]:
    """Validate a sweep and plan its runs without running or writing anything.

    Returns:
        (spec, source, evaluator, design, tasks, scenario fingerprint).
    """
    base_dir = None
    if isinstance(spec, SweepSpec):
        source = spec.name or "<sweep>"
        spec = parse_spec(spec, source)
    else:
        spec, path = read_sweep_file(spec)
        source, base_dir = str(path), path.parent
    integer: frozenset[str] = frozenset()
    fp = ""
    if evaluate is None:
        model = resolve_model(spec, source, base_dir)
        evaluate = ModelEvaluator(model.scenario, model.outputs, model.counterfactual)
        integer, fp = model.integer, model.fingerprint
    design = sample_design(spec, integer)
    tasks = plan_tasks(design, spec.replications, spec.design.seed)
    return spec, source, evaluate, design, tasks, fp


def run_sweep(
    spec: SweepSpec | str | Path,
    out_dir: str | Path,
    *,
    evaluate: Evaluator | None = None,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    scheduler_file: str | None = None,
    replace: bool = False,
) -> pd.DataFrame:
    """Run a sweep, storing each finished run at once; returns the tidy results table.

    Args:
        spec: a SweepSpec, a sweep file path, or a bundled sweep's name.
        out_dir: the sweep directory (``manifest.json``, ``runs/`` with the journal and
            Parquet shards of finished runs, ``results.csv``).
        evaluate: ``(params, seed) -> {output: value}``; default: run the model.
        executor: ``serial``, ``processes`` or ``dask``.
        workers: parallel workers (default: the CPUs available).
        scheduler: address of an existing Dask scheduler (implies ``dask``).
        resume: continue a sweep stored in ``out_dir``, skipping its finished runs.
        progress: show a progress bar with ETA on stderr.
        scheduler_file: a Dask scheduler file of an existing cluster (implies ``dask``).
        replace: empty ``out_dir`` first if it holds results of ours (``--force``).

    Returns:
        One row per run: run, point, replication, seed, status, parameters, outputs.

    Raises:
        ScenarioError: invalid sweep, ``out_dir`` holds another sweep, or another session
            is writing ``out_dir`` (one session at a time: :meth:`RunStore.lock`).
    """
    with RunStore(out_dir).lock():
        return _run_sweep(
            spec,
            out_dir,
            evaluate,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            scheduler_file=scheduler_file,
            resume=resume,
            progress=progress,
            replace=replace,
        )


def _run_sweep(
    spec: SweepSpec | str | Path,
    out_dir: str | Path,
    evaluate: Evaluator | None,
    *,
    executor: str,
    workers: int | None,
    scheduler: str | None,
    scheduler_file: str | None,
    resume: bool,
    progress: bool,
    replace: bool,
) -> pd.DataFrame:
    """:func:`run_sweep`'s work, with the sweep directory locked."""
    spec, source, evaluate, design, tasks, fp = prepare_sweep(spec, evaluate)
    if scheduler or scheduler_file:
        check_scheduler(scheduler, scheduler_file)
    store = RunStore(out_dir)
    identity = _identity(spec, design, tasks, fp, _evaluator_name(evaluate))
    manifest = _prepare_store(store, identity, resume, source, replace)
    store.clean_partial()
    done = {
        i: rec
        for i, rec in store.read_runs().items()
        if i < len(tasks) and rec.get("seed") == tasks[i].seed and rec.get("status") == "ok"
    }
    todo = [t for t in tasks if t.run not in done]
    started = time.perf_counter()
    session = {
        "started_unix": time.time(),
        "executor": "dask" if scheduler or scheduler_file else executor,
        "workers": workers,
        "scheduler": scheduler or scheduler_file,
        "runs_before": len(done),
        "runs": 0,
    }
    manifest["status"] = "running"
    manifest["sessions"] = [*manifest.get("sessions", []), session]
    store.write_manifest(manifest)

    from tqdm import tqdm

    bar = tqdm(
        total=len(tasks),
        initial=len(done),
        unit="run",
        desc=f"sweep {spec.name or ''}".strip(),
        disable=not progress,
        file=sys.stderr,
        smoothing=0.05,
    )
    fn = functools.partial(evaluate_task, evaluate)
    try:
        results = execute(
            fn,
            todo,
            executor,
            workers,
            scheduler,
            scheduler_file=scheduler_file,
            on_error=functools.partial(_lost_run, todo),
        )
        with contextlib.closing(results):
            for _, rec in results:
                store.write_run(rec)
                done[rec["run"]] = rec
                session["runs"] += 1
                bar.update(1)
    finally:
        bar.close()
        store.compact()
        elapsed = time.perf_counter() - started
        session["elapsed_s"] = elapsed
        session["runs_per_s"] = session["runs"] / elapsed if elapsed > 0 else None
        failed = [r for r in done.values() if r.get("status") != "ok"]
        manifest["n_runs"] = len(tasks)
        manifest["n_finished"] = len(done) - len(failed)
        manifest["n_failed"] = len(failed)
        manifest["status"] = "complete" if len(done) == len(tasks) and not failed else "incomplete"
        store.write_manifest(manifest)
    df = results_frame(list(done.values()), spec.parameter_names, list(spec.outputs))
    store.write_results(df)
    return df


@dataclass(frozen=True)
class SweepResults:
    """A stored sweep read back for analysis.

    Attributes:
        directory: the sweep directory.
        manifest: its manifest.
        spec: the sweep spec.
        results: one row per stored run (see :func:`run_sweep`).
    """

    directory: Path
    manifest: dict[str, Any]
    spec: SweepSpec
    results: pd.DataFrame

    @property
    def complete(self) -> bool:
        """True if every run finished without error."""
        ok = self.results["status"].eq("ok").sum() if len(self.results) else 0
        return ok == len(self.manifest["seeds"])

    @property
    def unit(self) -> np.ndarray | None:
        """SALib's unit-hypercube design matrix (None for grid designs)."""
        u = self.manifest["design"]["unit"]
        return None if u is None else np.asarray(u, dtype=float)

    @property
    def problem(self) -> dict[str, Any]:
        """SALib's problem definition matching :attr:`unit`."""
        return self.manifest["design"]["problem"]

    @property
    def points(self) -> pd.DataFrame:
        """The design's parameter values, one row per point."""
        return pd.DataFrame(self.manifest["design"]["values"])[self.spec.parameter_names]

    @property
    def outputs(self) -> list[str]:
        """Output names, in file order."""
        return list(self.spec.outputs)

    def point_means(self) -> pd.DataFrame:
        """Outputs averaged over replications, one row per design point (in point order)."""
        ok = self.results[self.results["status"] == "ok"]
        means = ok.groupby("point")[self.outputs].mean()
        return means.reindex(range(len(self.points)))


def open_sweep(directory: str | Path) -> SweepResults:
    """Read a sweep directory (complete or not) for analysis.

    Raises:
        ScenarioError: not a sweep directory.
    """
    store = RunStore(directory)
    if not store.exists():
        raise ScenarioError(str(directory), "", "no manifest.json here (not a sweep directory)")
    manifest = store.read_manifest()
    spec = SweepSpec.model_validate(manifest["spec"])
    path = store.dir / "results.parquet"
    if manifest.get("status") == "complete" and path.is_file():
        results = pd.read_parquet(path)
    else:
        results = results_frame(
            list(store.read_runs().values()), spec.parameter_names, list(spec.outputs)
        )
    return SweepResults(store.dir, manifest, spec, results)

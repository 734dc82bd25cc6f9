"""ABC-SMC (pyabc) whose populations run on the project's executors, reproducibly.

pyabc's own parallel samplers draw proposals in their workers from global random state, so
their results depend on the number of workers and on timing. :class:`BatchSampler` instead
evaluates fixed-size *batches* of proposals:

1. **record**: in this process, with numpy's global generator seeded from
   ``SeedSequence(root, spawn_key=(PROPOSALS, t, batch))``, pyabc's own ``simulate_one``
   draws ``batch_size`` proposals (from the prior at generation 0, from the fitted
   perturbation kernel later); the model stops each call as soon as it is handed the
   proposal;
2. **simulate**: the batch's simulations run on an executor
   (:func:`openweight_sim.experiments.executors.execute`: serial, processes or Dask), proposal
   ``j`` of generation ``t`` with the seed ``SeedSequence(root, spawn_key=(SIMULATIONS, t,
   j))``;
3. **replay**: the generator is re-seeded with the same state and ``simulate_one`` runs again;
   it draws the same proposals (acceptance draws no random numbers) and the model returns
   the stored simulations, so pyabc computes distances, acceptance and importance weights
   itself.

Particles are taken in proposal order until ``n`` are accepted, so the population is the one
a sequential sampler would have produced: identical for every executor and worker count.

The run is checkpointed by pyabc's History (SQLite): every generation is committed when it
completes, and :func:`run_abc` with ``resume=True`` continues from the last one. The
epsilon schedule (:class:`ResumableQuantileEpsilon`) recomputes the next threshold from the
stored population, so a resumed run continues exactly as the uninterrupted run would have.

The core is generic: any picklable ``simulate(values, seed) -> dict`` and
``distance(x, x0) -> float`` (the known-answer test uses a Gaussian simulator,
:mod:`openweight_sim.posterior.known`; the calibration uses
:class:`openweight_sim.posterior.facts.FactsSimulator`).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openweight_sim.posterior.priors import Prior, key, to_values

PROPOSALS = 0
"""First spawn-key element of the proposal generators."""
SIMULATIONS = 1
"""First spawn-key element of the simulation seeds."""


@dataclass(frozen=True)
class AbcSettings:
    """How ABC-SMC runs (all of it recorded with the results).

    Attributes:
        population: accepted particles per generation.
        generations: most generations (the prior sample is generation 0).
        batch_size: proposals evaluated per batch (default: ``population``). It fixes which
            proposals are drawn, so it is part of the result; the executor and worker count
            are not.
        alpha: each generation's threshold is this weighted quantile of the previous
            generation's distances.
        min_epsilon: stop when the threshold falls to this value.
        min_acceptance_rate: stop when a generation accepts fewer than this share.
        max_simulations: stop when this many simulations have run.
        seed: the root seed of proposals and simulations.
        kernel_scaling: multiplies the bandwidth of pyabc's Gaussian perturbation kernel
            (Silverman's rule on the weighted previous generation); above 1 proposes more
            widely (lower acceptance, flatter importance weights).
    """

    population: int = 200
    generations: int = 8
    batch_size: int | None = None
    alpha: float = 0.5
    min_epsilon: float = 0.0
    min_acceptance_rate: float = 0.01
    max_simulations: int = 100_000
    seed: int = 0
    kernel_scaling: float = 1.0

    @property
    def batch(self) -> int:
        """Proposals per batch."""
        return self.batch_size or self.population

    def record(self) -> dict[str, Any]:
        """The settings as a plain dict."""
        return {
            "population": self.population,
            "generations": self.generations,
            "batch_size": self.batch,
            "alpha": self.alpha,
            "min_epsilon": self.min_epsilon,
            "min_acceptance_rate": self.min_acceptance_rate,
            "max_simulations": self.max_simulations,
            "seed": self.seed,
            "kernel_scaling": self.kernel_scaling,
        }


@dataclass
class AbcResult:
    """What :func:`run_abc` found.

    Attributes:
        particles: the last generation: one column per parameter value (by name), ``weight``
            (summing to 1) and ``distance``, in a canonical order (sorted by values).
        generations: one row per generation: ``t``, ``epsilon``, ``particles``,
            ``simulations``, ``acceptance_rate``, ``ess``.
        priors: the priors.
        settings: the settings.
        seconds: wall time of this session (a resumed run counts only its own part).
        resumed_from: generations already in the checkpoint when this session started.
    """

    particles: pd.DataFrame
    generations: pd.DataFrame
    priors: list[Prior]
    settings: AbcSettings
    seconds: float
    resumed_from: int = 0

    @property
    def ess(self) -> float:
        """Effective sample size of the last generation, ``1 / Σ w²``."""
        return effective_sample_size(self.particles["weight"].to_numpy())

    @property
    def names(self) -> list[str]:
        """Parameter names."""
        return [p.name for p in self.priors]


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of normalised importance weights."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    return float(1.0 / np.sum(w**2))


def _seed_state(root: int, *spawn_key: int) -> np.ndarray:
    return np.random.SeedSequence(root, spawn_key=spawn_key).generate_state(8)


def simulation_seed(root: int, t: int, j: int) -> int:
    """The simulation seed of proposal ``j`` of generation ``t`` (a 63-bit integer)."""
    state = np.random.SeedSequence(root, spawn_key=(SIMULATIONS, t, j)).generate_state(
        1, dtype=np.uint64
    )
    return int(state[0] >> np.uint64(1))


@dataclass(frozen=True)
class SimTask:
    """One simulation: a picklable simulator, parameter values by name, a seed."""

    simulate: Callable[[Mapping[str, float], int], dict]
    values: dict[str, float]
    seed: int


def run_sim_task(task: SimTask) -> dict:
    """Run one simulation (the function the executors apply)."""
    return task.simulate(task.values, task.seed)


class _Recorded(Exception):
    """Raised by the model in record mode to hand the proposal back to the sampler."""

    def __init__(self, pars: Mapping[str, float]):
        super().__init__()
        self.pars = dict(pars)


def _model_class():
    import pyabc

    class ReplayModel(pyabc.Model):
        """A pyabc model that records proposals, then returns their stored simulations."""

        def __init__(self) -> None:
            super().__init__(name="model")
            self.recording = True
            self.queue: list[tuple[dict, dict]] = []

        def sample(self, pars: Mapping[str, float]) -> dict:
            if self.recording:
                raise _Recorded(pars)
            expected, result = self.queue.pop(0)
            if dict(pars) != expected:  # pragma: no cover - would be a replay bug
                raise RuntimeError("replayed proposal differs from the recorded one")
            return result

    return ReplayModel()


def _sampler_class():
    import pyabc

    class BatchSampler(pyabc.sampler.Sampler):
        """Fixed-size batches: proposals drawn here, simulations on an executor."""

        def __init__(self, model: Any, run_batch: Callable, root: int, batch: int) -> None:
            super().__init__()
            self.model, self.run_batch, self.root, self.batch = model, run_batch, root, batch
            self.simulations = 0

        def sample_until_n_accepted(
            self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None
        ):
            sample = self._create_empty_sample()
            accepted = proposals = b = 0
            while accepted < n and proposals < max_eval:
                state = _seed_state(self.root, PROPOSALS, t, b)
                np.random.seed(state)  # noqa: NPY002 - pyabc draws from numpy's global state
                self.model.recording = True
                drawn = []
                for _ in range(self.batch):
                    try:
                        simulate_one()
                    except _Recorded as rec:
                        drawn.append(rec.pars)
                first = b * self.batch
                results = self.run_batch(
                    drawn, [simulation_seed(self.root, t, first + i) for i in range(len(drawn))]
                )
                self.simulations += len(drawn)
                np.random.seed(state)  # noqa: NPY002 - pyabc draws from numpy's global state
                self.model.recording = False
                self.model.queue = list(zip(drawn, results, strict=True))
                for _ in range(len(drawn)):
                    particle = simulate_one()
                    proposals += 1
                    sample.append(particle)
                    accepted += bool(particle.accepted)
                    if accepted >= n or proposals >= max_eval:
                        break
                self.model.queue = []
                b += 1
            self.nr_evaluations_ = proposals
            if accepted < n:
                sample.ok = False
            return sample

    return BatchSampler


RIDGE = 1e-3
"""The perturbation kernel's covariance gets this fraction of each variance added."""


def _transition(scaling: float):
    import pyabc
    from scipy import stats

    class RegularisedNormalTransition(pyabc.MultivariateNormalTransition):
        """pyabc's Gaussian kernel with a small ridge, so that it is never singular.

        With fewer effective particles than parameters the weighted covariance is rank
        deficient; a proposal off its support would get density 0 and an infinite weight.
        """

        def fit(self, X, w) -> None:
            super().fit(X, w)
            self.cov = self.cov + np.diag(RIDGE * np.diag(self.cov) + 1e-12)
            self.normal = stats.multivariate_normal(cov=self.cov, allow_singular=True)

    return RegularisedNormalTransition(scaling=scaling)


def _epsilon(alpha: float):
    import pyabc

    class ResumableQuantileEpsilon(pyabc.QuantileEpsilon):
        """Accept everything at generation 0; then a weighted quantile of the last distances.

        On resume (first generation ``t > 0``) the threshold is recomputed from the stored
        population, exactly as the uninterrupted run computed it from the same population.
        """

        def initialize(self, t, get_weighted_distances, get_all_records, max_nr_populations,
                       acceptor_config):  # fmt: skip
            if t > 0:
                self._update(t, get_weighted_distances())

    return ResumableQuantileEpsilon(initial_epsilon=np.inf, alpha=alpha)


def _executor_batch(
    simulate: Callable, priors: Sequence[Prior], run_options: Mapping[str, Any],
    on_batch: Callable[[int], None] | None,
) -> Callable[[list[dict], list[int]], list[dict]]:  # fmt: skip
    """A function running one batch of proposals on an executor, results in proposal order."""
    from openweight_sim.experiments.executors import execute

    def run_batch(drawn: list[dict], seeds: list[int]) -> list[dict]:
        tasks = [
            SimTask(simulate, to_values(priors, pars), seed)
            for pars, seed in zip(drawn, seeds, strict=True)
        ]
        out: list[dict | None] = [None] * len(tasks)
        for i, res in execute(run_sim_task, tasks, **run_options):
            out[i] = res
        if on_batch is not None:
            on_batch(len(tasks))
        return out  # type: ignore[return-value]

    return run_batch


def _quiet_pyabc() -> None:
    for name in ("ABC", "History", "Sampler", "Epsilon", "Distance", "Acceptor"):
        logging.getLogger(f"ABC.{name}" if name != "ABC" else name).setLevel(logging.WARNING)
    logging.getLogger("pyabc").setLevel(logging.WARNING)


def run_abc(
    simulate: Callable[[Mapping[str, float], int], dict],
    distance: Callable[[dict, dict], float],
    observed: dict,
    priors: Sequence[Prior],
    settings: AbcSettings,
    db: str | Path,
    *,
    resume: bool = False,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> AbcResult:
    """Run (or resume) ABC-SMC and return the last generation.

    Args:
        simulate: picklable ``(values by name, seed) -> summary statistics dict``.
        distance: picklable ``(x, x0) -> float`` between summary statistics.
        observed: the observed summary statistics ``x0``.
        priors: one prior per parameter.
        settings: population, generations, stopping rules and root seed.
        db: the SQLite checkpoint file (pyabc History); it must not exist unless ``resume``.
        resume: continue the run stored in ``db`` from its last completed generation.
        executor: ``serial``, ``processes`` or ``dask`` (same results for all).
        workers: parallel workers.
        scheduler: address of a running Dask scheduler (implies ``dask``).
        on_batch: called with the number of simulations after every batch (progress).

    Returns:
        The last generation's particles and a per-generation table.
    """
    import pyabc

    _quiet_pyabc()
    db = Path(db)
    url = f"sqlite:///{db.resolve()}"
    model = _model_class()
    run_options = {"executor": executor, "workers": workers, "scheduler": scheduler}
    sampler = _sampler_class()(
        model,
        _executor_batch(simulate, priors, run_options, on_batch),
        settings.seed,
        settings.batch,
    )
    prior = pyabc.Distribution(**{key(i): p.rv() for i, p in enumerate(priors)})
    abc = pyabc.ABCSMC(
        model,
        prior,
        pyabc.distance.FunctionDistance(distance),
        population_size=settings.population,
        transitions=_transition(settings.kernel_scaling),
        sampler=sampler,
        eps=_epsilon(settings.alpha),
    )
    t0 = time.perf_counter()
    done = 0
    if resume:
        history = abc.load(url, 1)
        done = history.max_t + 1
    else:
        abc.new(url, observed)
    remaining = settings.generations - done
    if remaining > 0:
        saved = np.random.get_state()  # noqa: NPY002 - the sampler seeds the global state
        try:
            with warnings.catch_warnings():  # pyabc's termination check subtracts inf at t=0
                warnings.simplefilter("ignore", RuntimeWarning)
                _run(abc, settings, remaining)
        finally:
            np.random.set_state(saved)  # noqa: NPY002
    return read_result(db, priors, settings, time.perf_counter() - t0, done)


def _run(abc: Any, settings: AbcSettings, remaining: int) -> None:
    abc.run(
        minimum_epsilon=settings.min_epsilon,
        max_nr_populations=remaining,
        min_acceptance_rate=settings.min_acceptance_rate,
        max_total_nr_simulations=settings.max_simulations,
    )


def read_result(
    db: str | Path, priors: Sequence[Prior], settings: AbcSettings, seconds: float = 0.0,
    resumed_from: int = 0,
) -> AbcResult:  # fmt: skip
    """The last generation and the per-generation table stored in a checkpoint."""
    import pyabc

    history = pyabc.History(f"sqlite:///{Path(db).resolve()}", create=False)
    history.id = 1
    particles = population_frame(history.get_population(t=history.max_t), priors)
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].reset_index(drop=True)
    rows = []
    for r in pops.itertuples():
        _, wt = history.get_distribution(m=0, t=int(r.t))
        rows.append(
            {
                "t": int(r.t),
                "epsilon": float(r.epsilon),
                "particles": int(r.particles),
                "simulations": int(r.samples),
                "acceptance_rate": float(r.particles) / float(r.samples),
                "ess": effective_sample_size(np.asarray(wt, float)),
            }
        )
    return AbcResult(particles, pd.DataFrame(rows), list(priors), settings, seconds, resumed_from)


def population_frame(population: Any, priors: Sequence[Prior]) -> pd.DataFrame:
    """A pyabc population as a table: values by name, ``weight`` (sum 1), ``distance``.

    Rows are sorted by the parameter values, so the table does not depend on the order in
    which the database returns particles.
    """
    rows = [
        {**to_values(priors, pt.parameter), "weight": float(pt.weight), "distance": pt.distance}
        for pt in population.particles
    ]
    df = pd.DataFrame(rows, columns=[*(p.name for p in priors), "weight", "distance"])
    df["weight"] = df["weight"] / df["weight"].sum()
    df = df.sort_values([p.name for p in priors], kind="stable")
    return df.reset_index(drop=True)


def max_generation(db: str | Path) -> int:
    """The last completed generation in a checkpoint (-1: none)."""
    import pyabc

    history = pyabc.History(f"sqlite:///{Path(db).resolve()}", create=False)
    history.id = 1
    return int(history.max_t)

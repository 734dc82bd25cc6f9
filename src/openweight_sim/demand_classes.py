"""Demand classes: who buys, for which work, with which tastes (docs/ODD.md, Demand).

The unit of demand is a developer's *workload* (routine chat, coding and agentic work,
batch processing, …): a developer runs one workload of each type in its segment's
portfolio and may serve each with a different model. Developers of a segment differ in
taste (discrete random coefficients on price and quality, :class:`~openweight_sim.scenario.
TasteType`) and in volume (three volume bands, which set the fixed cost of self-hosting
per token). A *demand class* is one (segment, workload type, taste type, volume band);
every developer workload row belongs to one class, and everything the choice model needs
that does not depend on a developer's history is a per-class array here.

The utilities are pure functions of the options and the classes (:func:`class_utility`);
the task-success term is :func:`log_task_success`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openweight_sim.options import Options
from openweight_sim.releases import REFERENCE_ELO
from openweight_sim.scenario import Scenario

BAND_CUTS = (-0.430727, 0.430727)
"""Volume bands: terciles of the standard-normal draw of a developer's log volume."""
BAND_MEANS = (-1.091068, 0.0, 1.091068)
"""Mean standard-normal draw within each tercile (±3·φ(0.4307)): the band's typical volume."""
BAND_NAMES = ("low", "mid", "high")


def log_task_success(
    capability: np.ndarray, difficulty: np.ndarray, scale: np.ndarray, steps: np.ndarray
) -> np.ndarray:
    """Ln P(task succeeds) = steps × ln logistic((capability − difficulty)/scale).

    A task takes ``steps`` steps, each succeeding independently with a logistic
    probability in the distance between the model's capability and the task's difficulty;
    errors compound, so a weak model's success falls geometrically with the steps. The
    log-logistic is computed as ``−log(1 + exp(−x))`` without overflow. Broadcasting
    follows numpy's rules.
    """
    x = (capability - difficulty) / scale
    return -steps * np.logaddexp(0.0, -x)


@dataclass
class ClassArrays:
    """Per-class parameters as arrays of length C (population-wide multipliers applied).

    Attributes:
        segment, workload, taste, band: the class's indices.
        index: class id of each (segment, workload, taste, band), −1 where the segment
            does not run the workload (shape S×W×K×3).
        alpha: price sensitivity (segment × population × workload × taste).
        beta_quality: utility per 100 Elo (segment × population × workload × taste).
        general_weight: weight of general capability in the workload's capability.
        difficulty, success_scale, steps: the workload's task-success parameters.
        band_tokens: base tokens (M per quarter, 2023Q1 demand) of the class's typical row.
        cn_aversion, requires_self_host, mau, self_host_fixed, self_host_util,
        api_constant, open_constant, outside, noncommercial: the segment's parameters.
        names: "segment/workload/taste k/band" per class.
    """

    segment: np.ndarray
    workload: np.ndarray
    taste: np.ndarray
    band: np.ndarray
    index: np.ndarray
    alpha: np.ndarray
    beta_quality: np.ndarray
    general_weight: np.ndarray
    difficulty: np.ndarray
    success_scale: np.ndarray
    steps: np.ndarray
    band_tokens: np.ndarray
    cn_aversion: np.ndarray
    requires_self_host: np.ndarray
    mau: np.ndarray
    self_host_fixed: np.ndarray
    self_host_util: np.ndarray
    api_constant: np.ndarray
    open_constant: np.ndarray
    outside: np.ndarray
    noncommercial: np.ndarray
    names: list[str]

    @property
    def size(self) -> int:
        """Number of classes C."""
        return int(self.alpha.size)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> ClassArrays:
        """Enumerate the classes of a scenario: segment-major, then workload, taste, band."""
        dev = scenario.developers
        seg_keys = list(dev.segments)
        work_keys = list(dev.workloads)
        tastes = dev.taste_types
        index = np.full((len(seg_keys), len(work_keys), len(tastes), len(BAND_NAMES)), -1)
        rows: list[tuple[int, int, int, int]] = []
        for s, key in enumerate(seg_keys):
            for w_key in dev.segment_workloads(key):
                w = work_keys.index(w_key)
                for k in range(len(tastes)):
                    for b in range(len(BAND_NAMES)):
                        index[s, w, k, b] = len(rows)
                        rows.append((s, w, k, b))
        s_i, w_i, k_i, b_i = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
        segs = [dev.segments[k] for k in seg_keys]
        works = [dev.workloads[k] for k in work_keys]

        def seg(attr: str, dtype: type = float) -> np.ndarray:
            return np.array([getattr(segs[i], attr) for i in s_i], dtype=dtype)

        def work(attr: str) -> np.ndarray:
            return np.array([getattr(works[i], attr) for i in w_i], dtype=float)

        taste_price = np.array([tastes[i].price for i in k_i])
        taste_quality = np.array([tastes[i].quality for i in k_i])
        sigma = seg("tokens_sigma")
        return cls(
            segment=s_i,
            workload=w_i,
            taste=k_i,
            band=b_i,
            index=index,
            alpha=seg("price_sensitivity")
            * dev.price_sensitivity
            * work("price_weight")
            * taste_price,
            beta_quality=seg("quality_sensitivity")
            * dev.quality_sensitivity
            * work("quality_weight")
            * taste_quality,
            general_weight=work("general_weight"),
            difficulty=work("difficulty"),
            success_scale=work("success_scale"),
            steps=work("steps"),
            band_tokens=seg("tokens_m")
            * np.exp(sigma * np.array(BAND_MEANS)[b_i])
            * work("volume"),
            cn_aversion=seg("cn_aversion") * dev.cn_aversion,
            requires_self_host=seg("requires_self_host", bool),
            mau=seg("mau"),
            self_host_fixed=seg("self_host_fixed_usd"),
            self_host_util=seg("self_host_utilization"),
            api_constant=seg("api_constant"),
            open_constant=seg("open_constant"),
            outside=seg("outside_utility"),
            noncommercial=seg("noncommercial", bool),
            names=[
                f"{seg_keys[s]}/{work_keys[w]}/taste {k}/{BAND_NAMES[b]}" for s, w, k, b in rows
            ],
        )


def availability(opts: Options, cls: ClassArrays) -> np.ndarray:
    """Which options each class may use (C×J).

    Residency needs rule out every API (self-hosting only); a segment whose products
    have at least the community licence's MAU threshold may not use those weights;
    research-licensed weights are for non-commercial segments only.
    """
    blocked = cls.requires_self_host[:, None] & opts.api[None, :]
    blocked |= (cls.mau[:, None] >= opts.mau_threshold[None, :]) & opts.community[None, :]
    blocked |= ~cls.noncommercial[:, None] & opts.research[None, :]
    return ~blocked


def workload_capability(opts: Options, cls: ClassArrays) -> np.ndarray:
    """Each option's capability for each class's workload, Elo (C×J).

    Q = w·general + (1 − w)·coding, with w the workload's weight on general capability.
    """
    w = cls.general_weight[:, None]
    return w * opts.quality[None, :] + (1.0 - w) * opts.coding[None, :]


def class_utility(
    opts: Options,
    cls: ClassArrays,
    ecosystem: np.ndarray,
    self_price: np.ndarray,
    self_host_overhead: float,
) -> np.ndarray:
    """Mean utility net of price for strategic options, including it for self-hosting (C×J).

    With Q the option's capability for the class's workload (:func:`workload_capability`)
    and the price of a *successful task* ``p·τ / P^k`` (τ tokens per task, P^k the task's
    success probability) entering as ``−α ln``:

        u = β·(Q − 1186)/100 + α·ln P^k − α·ln τ + brand + ecosystem(lab) − aversion·CN
            + API constant + open constant·open − overhead·self-host − outside utility;

    self-hosting also has ``− α·ln(own cost)``, since its price is the developer's own cost
    rather than a firm's choice; for every other option the solver adds ``− α ln p``.
    """
    cap = workload_capability(opts, cls)
    alpha = cls.alpha[:, None]
    u = cls.beta_quality[:, None] * (cap - REFERENCE_ELO) / 100.0
    u += alpha * log_task_success(
        cap, cls.difficulty[:, None], cls.success_scale[:, None], cls.steps[:, None]
    )
    u -= alpha * np.log(opts.tokens_per_task)[None, :]
    u += (opts.brand + ecosystem[opts.lab])[None, :]
    u -= cls.cn_aversion[:, None] * opts.cn[None, :]
    u += cls.api_constant[:, None] * opts.api[None, :]
    u += cls.open_constant[:, None] * opts.open[None, :]
    u -= self_host_overhead * opts.self_hosted[None, :]
    u -= cls.outside[:, None]
    sh = opts.self_hosted
    if sh.any():
        u[:, sh] -= alpha * np.log(self_price[:, sh])
    return u

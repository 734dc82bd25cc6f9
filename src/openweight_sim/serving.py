"""Serving cost: what a token costs the server that produces it, and what self-hosting costs.

Three servers exist: a lab serving its own API, a third-party host, and a developer running
open weights on its own GPUs. All three pay the same GPU-time cost per token
(:func:`openweight_sim.market.serving_cost`, where a mixture-of-experts model's total
parameters slow it down); they differ in efficiency, GPU price and utilisation. Self-hosting
adds the developer's own engineering cost, spread over its own volume (:func:`self_host_price`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from openweight_sim.market import serving_cost
from openweight_sim.releases import Release

if TYPE_CHECKING:
    from openweight_sim.demand_classes import ClassArrays
    from openweight_sim.options import Options
    from openweight_sim.scenario import Technology


@dataclass(frozen=True, slots=True)
class ServingConditions:
    """This quarter's serving technology: GPU rental price and fleet-wide efficiency.

    Attributes:
        technology: the scenario's technology parameters (utilisation, reference throughput,
            MoE penalty).
        gpu_price: rental price of one reference GPU this quarter, USD/hour.
        efficiency: serving-software efficiency relative to the reference quarter.
    """

    technology: Technology
    gpu_price: float
    efficiency: float

    def costs(
        self, releases: Sequence[Release], efficiency: np.ndarray, gpu_factor: np.ndarray
    ) -> np.ndarray:
        """Serving costs (USD per M tokens) of many (release, server) pairs in one call.

        Args:
            releases: the release served, per pair.
            efficiency: the server's own efficiency multiplier, per pair.
            gpu_factor: the server's GPU price relative to the reference, per pair.
        """
        tech = self.technology
        return np.asarray(
            serving_cost(
                self.gpu_price * gpu_factor,
                np.array([r.active_b for r in releases]) * 1e9,
                np.array([r.total_b for r in releases]) * 1e9,
                efficiency=efficiency * self.efficiency,
                utilization=tech.utilization,
                ref_throughput=tech.ref_throughput,
                moe_penalty=tech.moe_penalty,
            ),
            dtype=float,
        )

    def cost(self, release: Release, efficiency: float, gpu_factor: float = 1.0) -> float:
        """Serving cost of one release (USD per M tokens) on a server of this efficiency."""
        return float(self.costs([release], np.array([efficiency]), np.array([gpu_factor]))[0])


def self_host_variable_cost(
    opts: Options, cls: ClassArrays, gpu_cost_full_util: np.ndarray
) -> np.ndarray:
    """Each class's GPU cost of self-hosting each option, USD per M tokens (C×J).

    The GPU cost at full utilisation divided by the class's own utilisation. NaN for
    options that are not self-hosting.
    """
    out = np.full((cls.alpha.size, opts.size), np.nan)
    sh = opts.self_hosted
    if sh.any():
        out[:, sh] = gpu_cost_full_util[sh][None, :] / cls.self_host_util[:, None]
    return out


def self_host_price(
    opts: Options, cls: ClassArrays, gpu_cost_full_util: np.ndarray, tokens: np.ndarray
) -> np.ndarray:
    """Each class's own cost of self-hosting each option, USD per M tokens (C×J).

    GPU cost at the class's utilisation plus its fixed engineering cost per quarter
    spread over the class's typical volume (its volume band). This is the price a
    developer *expects* when choosing; what it pays is the same formula at its own volume
    (:func:`openweight_sim.choice.choose`). NaN for options that are not self-hosting.

    Args:
        opts: the quarter's options; ``opts.cost`` of a self-hosting option is its GPU cost
            at full utilisation.
        cls: the demand classes (utilisation, engineering cost).
        gpu_cost_full_util: GPU cost per option at full utilisation (usually ``opts.cost``).
        tokens: each class's typical tokens per workload this quarter, millions.
    """
    out = self_host_variable_cost(opts, cls, gpu_cost_full_util)
    sh = opts.self_hosted
    if sh.any():
        out[:, sh] += cls.self_host_fixed[:, None] / np.maximum(tokens[:, None], 1e-9)
    return out

"""Serving cost of a model: GPU price, throughput and the mixture-of-experts penalty."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["serving_cost"]


def serving_cost(
    gpu_price_per_hour: ArrayLike,
    active_params: ArrayLike,
    total_params: ArrayLike | None = None,
    *,
    efficiency: ArrayLike = 1.0,
    utilization: ArrayLike = 0.4,
    ref_throughput: float = 1600.0,
    ref_active_params: float = 70e9,
    size_exponent: float = 1.0,
    moe_penalty: float = 0.17,
) -> float | NDArray[np.float64]:
    """Marginal cost of serving a model, in USD per million output tokens.

    Why: hosts compete on price down to this cost, so it anchors every open-weight price.
    Throughput per GPU is
    ``ref_throughput * efficiency * (ref_active_params / active)**size_exponent
    * leverage**(-moe_penalty)`` tokens/s, with ``leverage = total / active`` (1 for a dense
    model), and cost is ``gpu_price / (throughput * 3600) * 1e6 / utilization``.

    Calibration: ``ref_throughput = 1600`` tok/s is a dense 70B model on one H100 in 2024
    (NVIDIA reports 3014 tok/s for Llama-2-70B on H200 with TensorRT-LLM; H200 is about 1.9x
    an H100 on this workload, 3014 / 1.9 ~ 1600). ``moe_penalty = 0.17 = ln(3027/1850) /
    ln(671/37)`` comes from DeepSeek-V3 (37B active, 671B total) serving about 1850 tok/s per
    GPU against the ``1600 * 70/37 = 3027`` a dense 37B model would get: a mixture-of-experts
    model pays for the memory traffic of its total parameters, not only its active ones.

    Args:
        gpu_price_per_hour: rental price of one GPU (USD/hour).
        active_params: parameters active per token.
        total_params: total parameters (mixture of experts); ``None`` for a dense model.
        efficiency: software/hardware efficiency multiplier relative to the 2024 reference.
        utilization: fraction of GPU time that is billed (idle capacity raises unit cost).
        ref_throughput: reference throughput (tokens/s per GPU).
        ref_active_params: parameter count of the reference model.
        size_exponent: elasticity of throughput with respect to model size.
        moe_penalty: elasticity of throughput with respect to total/active leverage.

    Returns:
        USD per million tokens; a float for scalar inputs, else an array.
    """
    price = np.asarray(gpu_price_per_hour, dtype=float)
    active = np.asarray(active_params, dtype=float)
    if np.any(active <= 0):
        raise ValueError("active_params must be > 0")
    leverage = 1.0 if total_params is None else np.asarray(total_params, dtype=float) / active
    if np.any(np.asarray(leverage) < 1.0):
        raise ValueError("total_params must be >= active_params")
    if np.any(np.asarray(utilization) <= 0) or np.any(np.asarray(efficiency) <= 0):
        raise ValueError("utilization and efficiency must be > 0")
    throughput = (
        ref_throughput
        * np.asarray(efficiency, dtype=float)
        * (ref_active_params / active) ** size_exponent
        * np.power(leverage, -moe_penalty)
    )
    cost = price / (throughput * 3600.0) * 1e6 / np.asarray(utilization, dtype=float)
    return float(cost) if np.ndim(cost) == 0 else cost

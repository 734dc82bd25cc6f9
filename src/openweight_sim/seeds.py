"""Seeds for replications and sweep runs, all spawned from one root SeedSequence.

Every run's integer seed is derived as ``SeedSequence(root).spawn(n)[i]`` and recorded
with its results, so any single run can be reproduced on its own, whatever executor or
number of workers produced it.
"""

from __future__ import annotations

import numpy as np


def spawn_seeds(root: int, n: int) -> list[int]:
    """Return ``n`` independent integer seeds spawned from ``SeedSequence(root)``.

    Args:
        root: the root seed (recorded with the results).
        n: number of runs.

    Returns:
        One 63-bit integer seed per run; run ``i`` always gets the same seed.
    """
    children = np.random.SeedSequence(root).spawn(n)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]

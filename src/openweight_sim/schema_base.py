"""Schema building blocks shared by the scenario's parts: quarters, tiers, the strict base model."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")

Quarter = Annotated[str, Field(pattern=r"^\d{4}Q[1-4]$", description="A quarter such as 2025Q1")]
Tier = Literal["frontier", "mid", "small"]
TIERS: tuple[Tier, ...] = ("frontier", "mid", "small")


def quarter_index(label: str) -> int:
    """Return a quarter label's absolute index (year*4 + quarter-1), e.g. 2023Q1 → 8092."""
    m = QUARTER_RE.match(label)
    if not m:
        raise ValueError(f"not a quarter label: {label!r} (expected e.g. 2025Q1)")
    return int(m.group(1)) * 4 + int(m.group(2)) - 1


def quarter_label(index: int) -> str:
    """Inverse of :func:`quarter_index`."""
    return f"{index // 4}Q{index % 4 + 1}"


class Strict(BaseModel):
    """Base model: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

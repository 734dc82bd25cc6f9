"""The quarter's choice set: every option a developer may use, as a struct of arrays.

An *option* is a release reached one way: a lab's own API (closed model, or the lab's
API for its open model), a third-party host serving open weights, or self-hosting the
open weights. All options of one release form a nest (close substitutes); closed
releases are singleton nests. Utilities per segment and the switching costs of groups
of identical developers are computed here, vectorised, for the pricing and choice
phases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from openweight_sim.releases import REFERENCE_ELO, Release
from openweight_sim.scenario import Scenario

CLOSED_API, OPEN_API, HOSTED, SELF_HOST = 0, 1, 2, 3
KIND_NAMES = {
    CLOSED_API: "closed_api",
    OPEN_API: "open_api",
    HOSTED: "hosted",
    SELF_HOST: "self_host",
}


@dataclass
class Options:
    """Arrays of length J describing this quarter's options.

    Attributes:
        key: stable id of each option across quarters.
        kind: CLOSED_API, OPEN_API, HOSTED or SELF_HOST.
        rid: release id; lab / host: indices (host −1 unless HOSTED).
        firm: pricing firm (labs 0..L−1, hosts L.., self-host options unique ids).
        quality, cost: Elo and marginal serving cost (USD/M tokens; self-host: GPU cost).
        open, cn, community, research: release flags.
        brand: utility constant (lab + host).
        active_b, total_b: parameters of the release, billions.
    """

    key: np.ndarray
    kind: np.ndarray
    rid: np.ndarray
    lab: np.ndarray
    host: np.ndarray
    firm: np.ndarray
    quality: np.ndarray
    cost: np.ndarray
    open: np.ndarray
    cn: np.ndarray
    community: np.ndarray
    research: np.ndarray
    brand: np.ndarray
    tier: np.ndarray
    mau_threshold: np.ndarray
    active_b: np.ndarray
    names: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Number of options J."""
        return int(self.key.size)

    @property
    def fixed(self) -> np.ndarray:
        """Options priced at cost by their users (self-hosting): no markup."""
        return self.kind == SELF_HOST

    @property
    def api(self) -> np.ndarray:
        """Options bought per token from a firm."""
        return self.kind != SELF_HOST

    def subset(self, mask: np.ndarray) -> Options:
        """The options where ``mask`` holds."""
        kw = {k: v[mask] for k, v in self.__dict__.items() if isinstance(v, np.ndarray)}
        return Options(**kw, names=[n for n, m in zip(self.names, mask, strict=True) if m])


TIER_CODE = {"frontier": 0, "mid": 1, "small": 2}


def build_options(
    rows: list[tuple[int, int, Release, int, int, float, float, str]],
    mau_threshold: dict[str, float],
) -> Options:
    """Assemble :class:`Options` from rows.

    Args:
        rows: ``(key, kind, release, lab_index, host_index, cost, brand, name)`` per option.
        mau_threshold: community-licence MAU threshold per lab id.
    """
    if not rows:
        rows = []
    key = np.array([r[0] for r in rows], dtype=np.int64)
    kind = np.array([r[1] for r in rows], dtype=np.int8)
    rels = [r[2] for r in rows]
    lab = np.array([r[3] for r in rows], dtype=np.int64)
    host = np.array([r[4] for r in rows], dtype=np.int64)
    return Options(
        key=key,
        kind=kind,
        rid=np.array([r.rid for r in rels], dtype=np.int64),
        lab=lab,
        host=host,
        firm=np.zeros(len(rows), dtype=np.int64),
        quality=np.array([r.quality for r in rels], dtype=float),
        cost=np.array([r[5] for r in rows], dtype=float),
        open=np.array([r.open_weights for r in rels], dtype=bool),
        cn=np.array([r.origin == "CN" for r in rels], dtype=bool),
        community=np.array([r.license == "community" for r in rels], dtype=bool),
        research=np.array([r.license == "research" for r in rels], dtype=bool),
        brand=np.array([r[6] for r in rows], dtype=float),
        tier=np.array([TIER_CODE[r.tier] for r in rels], dtype=np.int8),
        mau_threshold=np.array([mau_threshold.get(r.lab, np.inf) for r in rels], dtype=float),
        active_b=np.array([r.active_b for r in rels], dtype=float),
        names=[r[7] for r in rows],
    )


def assign_firms(opts: Options, n_labs: int) -> None:
    """Pricing firms: a lab owns its API options, a host its hosted ones; self-host is alone."""
    firm = np.where(opts.kind == HOSTED, n_labs + opts.host, opts.lab)
    selfh = opts.kind == SELF_HOST
    firm[selfh] = -1 - np.arange(int(selfh.sum()))
    opts.firm = firm


@dataclass
class SegmentArrays:
    """Per-segment parameters as arrays of length S (population-wide multipliers applied)."""

    alpha: np.ndarray
    beta_quality: np.ndarray
    cn_aversion: np.ndarray
    requires_self_host: np.ndarray
    mau: np.ndarray
    self_host_fixed: np.ndarray
    self_host_util: np.ndarray
    api_constant: np.ndarray
    open_constant: np.ndarray
    outside: np.ndarray
    hobbyist_research: np.ndarray

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> SegmentArrays:
        """Read the segments of a scenario."""
        dev = scenario.developers
        segs = list(dev.segments.values())
        names = list(dev.segments)

        def arr(attr: str) -> np.ndarray:
            return np.array([getattr(s, attr) for s in segs], dtype=float)

        return cls(
            alpha=arr("price_sensitivity") * dev.price_sensitivity,
            beta_quality=arr("quality_sensitivity") * dev.quality_sensitivity,
            cn_aversion=arr("cn_aversion") * dev.cn_aversion,
            requires_self_host=np.array([s.requires_self_host for s in segs]),
            mau=arr("mau"),
            self_host_fixed=arr("self_host_fixed_usd"),
            self_host_util=arr("self_host_utilization"),
            api_constant=arr("api_constant"),
            open_constant=arr("open_constant"),
            outside=arr("outside_utility"),
            hobbyist_research=np.array(["hobby" in n for n in names]),
        )


def availability(opts: Options, seg: SegmentArrays) -> np.ndarray:
    """Which options each segment may use (S×J).

    Residency needs rule out every API (self-hosting only); a segment whose products
    have at least the community licence's MAU threshold may not use those weights;
    research-licensed weights are for non-commercial (hobbyist) use only.
    """
    blocked = seg.requires_self_host[:, None] & opts.api[None, :]
    blocked |= (seg.mau[:, None] >= opts.mau_threshold[None, :]) & opts.community[None, :]
    blocked |= ~seg.hobbyist_research[:, None] & opts.research[None, :]
    return ~blocked


def self_host_price(
    opts: Options, seg: SegmentArrays, gpu_cost_full_util: np.ndarray, median_tokens: np.ndarray
) -> np.ndarray:
    """Each segment's own cost of self-hosting each option, USD per M tokens (S×J).

    GPU cost at the segment's utilisation plus its fixed engineering cost per quarter
    spread over its volume. NaN for options that are not self-hosting.
    """
    out = np.full((seg.alpha.size, opts.size), np.nan)
    sh = opts.fixed
    if sh.any():
        gpu = gpu_cost_full_util[sh][None, :] / seg.self_host_util[:, None]
        fixed = seg.self_host_fixed[:, None] / np.maximum(median_tokens[:, None], 1e-9)
        out[:, sh] = gpu + fixed
    return out


def segment_utility(
    opts: Options,
    seg: SegmentArrays,
    ecosystem: np.ndarray,
    self_price: np.ndarray,
    self_host_overhead: float,
) -> np.ndarray:
    """Mean utility net of price for strategic options, including it for self-hosting (S×J).

    u = β_q·(quality − 1186)/100 + brand + ecosystem(lab) − aversion·CN + API constant
        + open constant·open
        − overhead·self-host − outside utility; self-hosting also − α·ln(own cost),
    since its price is the developer's own cost rather than a firm's choice.
    """
    q = (opts.quality - REFERENCE_ELO) / 100.0
    u = seg.beta_quality[:, None] * q[None, :]
    u = u + (opts.brand + ecosystem[opts.lab])[None, :]
    u = u - seg.cn_aversion[:, None] * opts.cn[None, :]
    u = u + seg.api_constant[:, None] * opts.api[None, :]
    u = u + seg.open_constant[:, None] * opts.open[None, :]
    u = u - self_host_overhead * opts.fixed[None, :]
    u = u - seg.outside[:, None]
    sh = opts.fixed
    if sh.any():
        u[:, sh] -= seg.alpha[:, None] * np.log(self_price[:, sh])
    return u


def switching_cost(
    opts: Options,
    current_col: np.ndarray,
    current_lab: np.ndarray,
    finetuned: np.ndarray,
    switching: float,
    host_switching: float,
    lock_in: float,
) -> np.ndarray:
    """Switching cost of each group of developers for each option (G×J).

    Staying put costs nothing; moving within the same lab's family (another host, the
    lab's successor model) costs ``host_switching``; moving to another lab costs
    ``switching`` plus ``lock_in`` if the developer fine-tuned on its family. A
    developer with no current family pays nothing.
    """
    same_lab = opts.lab[None, :] == current_lab[:, None]
    none = (current_lab < 0)[:, None]
    cost = np.where(
        same_lab, host_switching, switching + lock_in * finetuned[:, None].astype(float)
    )
    cost = np.where(none, 0.0, cost)
    stay = np.arange(opts.size)[None, :] == current_col[:, None]
    return np.where(stay, 0.0, cost)

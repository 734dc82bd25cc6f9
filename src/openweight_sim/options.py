"""The quarter's choice set: every option a developer may use, as a struct of arrays.

An *option* is a release reached one way: a lab's own API (closed model, or the lab's
API for its open model), a third-party host serving open weights, or self-hosting the
open weights. All options of one release form a nest (close substitutes); closed
releases are singleton nests (or share one nest, for the closed frontier tier, when the
scenario says so). The switching costs of groups of identical developers are computed
here, vectorised; the demand classes' utilities are in :mod:`openweight_sim.demand_classes`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from openweight_sim.releases import Release, coding_from_general

if TYPE_CHECKING:
    from openweight_sim.scenario import Host, Lab

CLOSED_API, OPEN_API, HOSTED, SELF_HOST = 0, 1, 2, 3
"""Option kinds: a closed model's API, a lab's API for its open model, a host, self-hosting."""
NO_CHOICE = -1
"""Developer has no current option (new adopter, or its model was retired)."""
OUTSIDE = -2
"""Developer chose not to use an LLM this quarter (the outside option)."""
TIER_CODE = {"frontier": 0, "mid": 1, "small": 2}


class Option(NamedTuple):
    """One option as the model builds it: a release reached one way.

    (A named tuple rather than a frozen dataclass: a quarter builds a few hundred, twice,
    and a tuple is several times cheaper to create.)

    Attributes:
        key: stable id of the option across quarters (see :class:`OfferCatalogue`).
        kind: CLOSED_API, OPEN_API, HOSTED or SELF_HOST.
        release: the release offered.
        lab: index of the release's lab.
        host: index of the host (−1 unless HOSTED).
        brand: utility constant (lab brand, plus host brand, minus licence friction).
        name: display name, e.g. ``"Llama 3 70B (Together)"``.
        server_efficiency: efficiency of whoever serves it (lab, host; 1 for self-hosting).
        gpu_price_factor: the server's GPU price relative to the reference.
        cost_multiplier: multiplies the serving cost; a self-hosting option's cost is at full
            utilisation (segments divide by their own), so it carries the reference one.
    """

    key: int
    kind: int
    release: Release
    lab: int
    host: int
    brand: float
    name: str
    server_efficiency: float
    gpu_price_factor: float = 1.0
    cost_multiplier: float = 1.0


@dataclass
class Options:
    """Arrays of length J describing this quarter's options.

    Attributes:
        key: stable id of each option across quarters.
        kind: CLOSED_API, OPEN_API, HOSTED or SELF_HOST.
        rid: release id; lab / host: indices (host −1 unless HOSTED).
        firm: pricing firm (labs 0..L−1, hosts L.., self-host options unique ids).
        quality, cost: Elo and marginal serving cost (USD/M tokens; self-host: GPU cost).
        coding: coding/agentic capability, Elo (the release's second capability domain).
        tokens_per_task: tokens a task takes on the option's model relative to a standard
            model (reasoning models emit more).
        nest: nest id of each option: its release (the lab's API, hosts and self-hosting of
            one model are close substitutes), or one shared nest for the closed frontier
            APIs when ``pricing.closed_frontier_nest``.
        open, cn, community, research: release flags.
        brand: utility constant (lab + host).
        tier: tier code (0 frontier, 1 mid, 2 small).
        mau_threshold: the community licence's MAU threshold of the release's lab.
        active_b: active parameters of the release, billions.
        names: display names.
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
    coding: np.ndarray
    tokens_per_task: np.ndarray
    nest: np.ndarray
    names: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Number of options J."""
        return int(self.key.size)

    @property
    def self_hosted(self) -> np.ndarray:
        """Self-hosting options: priced at their own cost by their users, no markup."""
        return self.kind == SELF_HOST

    @property
    def api(self) -> np.ndarray:
        """Options bought per token from a firm."""
        return self.kind != SELF_HOST


def build_options(
    items: Sequence[Option],
    mau_threshold: Mapping[str, float],
    cost: np.ndarray,
    n_labs: int,
    *,
    reasoning_token_factor: float = 1.0,
    closed_frontier_nest: bool = False,
) -> Options:
    """Assemble :class:`Options` (struct of arrays) from the quarter's options.

    Args:
        items: the options, in column order.
        mau_threshold: community-licence MAU threshold per lab id.
        cost: marginal serving cost per option, USD per M tokens.
        n_labs: number of labs (hosts' pricing-firm ids follow the labs').
        reasoning_token_factor: tokens per task of a reasoning model vs a standard one.
        closed_frontier_nest: put every closed frontier-tier API in one shared nest.
    """
    rels = [o.release for o in items]
    kind = np.array([o.kind for o in items], dtype=np.int8)
    rid = np.array([r.rid for r in rels], dtype=np.int64)
    tier = np.array([TIER_CODE[r.tier] for r in rels], dtype=np.int8)
    nest = rid.copy()
    if closed_frontier_nest:
        # one id no release has: frontier closed APIs are close substitutes for each other
        nest[(kind == CLOSED_API) & (tier == 0)] = -1
    opts = Options(
        key=np.array([o.key for o in items], dtype=np.int64),
        kind=kind,
        rid=rid,
        lab=np.array([o.lab for o in items], dtype=np.int64),
        host=np.array([o.host for o in items], dtype=np.int64),
        firm=np.zeros(len(items), dtype=np.int64),
        quality=np.array([r.quality for r in rels], dtype=float),
        cost=np.asarray(cost, dtype=float),
        open=np.array([r.open_weights for r in rels], dtype=bool),
        cn=np.array([r.origin == "CN" for r in rels], dtype=bool),
        community=np.array([r.license == "community" for r in rels], dtype=bool),
        research=np.array([r.license == "research" for r in rels], dtype=bool),
        brand=np.array([o.brand for o in items], dtype=float),
        tier=tier,
        mau_threshold=np.array([mau_threshold.get(r.lab, np.inf) for r in rels], dtype=float),
        active_b=np.array([r.active_b for r in rels], dtype=float),
        coding=np.array(
            [r.coding if r.coding == r.coding else coding_from_general(r.quality) for r in rels],
            dtype=float,
        ),
        tokens_per_task=np.array(
            [reasoning_token_factor if r.reasoning else 1.0 for r in rels], dtype=float
        ),
        nest=nest,
        names=[o.name for o in items],
    )
    assign_firms(opts, n_labs)
    return opts


def assign_firms(opts: Options, n_labs: int) -> None:
    """Pricing firms: a lab owns its API options, a host its hosted ones; self-host is alone."""
    firm = np.where(opts.kind == HOSTED, n_labs + opts.host, opts.lab)
    selfh = opts.kind == SELF_HOST
    firm[selfh] = -1 - np.arange(int(selfh.sum()))
    opts.firm = firm


class OfferCatalogue:
    """Stable ids and names of options (kind, release, host) across quarters.

    A developer's current option is stored as this id, so it survives the option's column
    moving between quarters.
    """

    def __init__(self) -> None:
        self._keys: dict[tuple[int, int, int], int] = {}
        self._names: list[str] = []

    def __len__(self) -> int:
        return len(self._keys)

    def key(self, kind: int, release: Release, host: int, via: str) -> int:
        """Id of the option (kind, release, host), registered under "<release> (<via>)"."""
        k = (kind, release.rid, host)
        if k not in self._keys:
            self._keys[k] = len(self._keys)
            self._names.append(f"{release.name} ({via})")
        return self._keys[k]

    def name(self, key: int) -> str | None:
        """Name of an option by id (None for no choice, "outside" for no LLM)."""
        if key == NO_CHOICE:
            return None
        if key == OUTSIDE:
            return "outside"
        return self._names[key]


def quarter_options(
    catalogue: OfferCatalogue,
    releases: Sequence[Release],
    labs: Mapping[str, Lab],
    hosts: Sequence[tuple[Host, Collection[int]]],
    utilization: float,
    candidates: set[tuple[int, int]] | None = None,
) -> list[Option]:
    """Every way to use each active release this quarter, in column order.

    Per release (by id): the lab's API if it runs one (for open weights, only if it sells
    them per token: ``open_api``); for open weights, each host that
    serves it (or is testing entry: ``candidates`` holds (host index, release id)), then
    self-hosting.

    Args:
        catalogue: the stable ids of options.
        releases: the active releases, sorted by id.
        labs: each lab's parameters by id, in index order.
        hosts: each host's parameters and the release ids it serves, in index order.
        utilization: the reference utilisation (self-hosting's cost is at full utilisation).
        candidates: hosted offers under test by the entry phase.
    """
    lab_of = {key: (i, spec) for i, (key, spec) in enumerate(labs.items())}
    out: list[Option] = []
    for rel in releases:
        li, spec = lab_of[rel.lab]
        if spec.first_party_api and (spec.open_api or not rel.open_weights):
            kind = OPEN_API if rel.open_weights else CLOSED_API
            out.append(
                Option(
                    key=catalogue.key(kind, rel, -1, "API"),
                    kind=kind,
                    release=rel,
                    lab=li,
                    host=-1,
                    brand=spec.brand,
                    name=f"{rel.name} (API)",
                    server_efficiency=spec.serving_efficiency,
                )
            )
        if not rel.open_weights:
            continue
        for hi, (host, serving) in enumerate(hosts):
            if rel.rid in serving or (candidates and (hi, rel.rid) in candidates):
                out.append(
                    Option(
                        key=catalogue.key(HOSTED, rel, hi, host.name),
                        kind=HOSTED,
                        release=rel,
                        lab=li,
                        host=hi,
                        brand=spec.brand + host.brand - spec.license_friction,
                        name=f"{rel.name} ({host.name})",
                        server_efficiency=host.efficiency,
                        gpu_price_factor=host.gpu_price_factor,
                    )
                )
        # Self-hosting: GPU cost at full utilisation; segments divide by their own.
        out.append(
            Option(
                key=catalogue.key(SELF_HOST, rel, -1, "self-hosted"),
                kind=SELF_HOST,
                release=rel,
                lab=li,
                host=-1,
                brand=spec.brand - spec.license_friction,
                name=f"{rel.name} (self-hosted)",
                server_efficiency=1.0,
                gpu_price_factor=1.0,
                cost_multiplier=utilization,
            )
        )
    return out


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

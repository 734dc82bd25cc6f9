"""Host entry and exit: candidates, the entry test, ranking, loss-driven exit, retirement."""

from __future__ import annotations

import mesa
import numpy as np
import pytest

from openweight_sim import OpenWeightMarket
from openweight_sim.hosts import HostingProvider, enter, entry_candidates, retire
from openweight_sim.options import HOSTED, SELF_HOST, Options
from openweight_sim.releases import Release
from openweight_sim.scenario import load_scenario


@pytest.fixture(scope="module")
def sc():
    return load_scenario("baseline")


def host(sc, key="together", index=0, **changes) -> HostingProvider:
    spec = sc.hosts[key].model_copy(update=changes)
    return HostingProvider(mesa.Model(rng=0), key, spec, index=index)


def rel(rid, quarter=10, *, open_weights=True, license="permissive", origin="US"):
    return Release(
        rid=rid,
        lab="x",
        name=f"r{rid}",
        quarter=quarter,
        tier="mid",
        quality=1200.0,
        total_b=70.0,
        active_b=70.0,
        open_weights=open_weights,
        license=license,
        origin=origin,
    )


def test_entry_candidates_recent_servable_releases(sc):
    releases = {
        0: rel(0, quarter=10),  # released this quarter
        1: rel(1, quarter=9),  # within the two-quarter window
        2: rel(2, quarter=8),  # too old
        3: rel(3, quarter=10, license="research"),  # research licence: no host
        4: rel(4, quarter=10, origin="CN"),  # Chinese origin
        5: rel(5, quarter=10, open_weights=False, license="proprietary"),
    }
    us_only = host(sc, "aws_bedrock", index=0)
    assert not us_only.spec.serves_cn_models
    anyone = host(sc, "together", index=1)
    anyone.serving.add(1)  # already served: not a candidate
    got = entry_candidates([us_only, anyone], releases, releases.keys(), q=10, window=2)
    assert got == [(0, 0), (0, 1), (1, 0), (1, 4)]


def test_capacity_stops_candidates_and_entry(sc):
    h = host(sc, max_models=1)
    assert h.may_serve(rel(0))
    h.serving.add(9)
    assert not h.may_serve(rel(0))
    assert not h.decide_entry(0, 1e12)


def test_entry_needs_profit_over_payback_to_beat_onboarding(sc):
    h = host(sc)
    spec = h.spec
    # (profit − fixed) × payback must exceed onboarding
    edge = spec.fixed_cost_usd + spec.onboarding_cost_usd / spec.payback_quarters
    assert not h.decide_entry(0, edge)
    assert h.serving == set() and h.onboarding_spend == 0.0
    assert h.decide_entry(0, edge * 1.01)
    assert h.serving == {0} and h.losses == {0: 0}
    assert h.onboarding_spend == spec.onboarding_cost_usd


def options_for(pairs: list[tuple[int, int]]) -> Options:
    """Hosted options (host, release) plus one self-hosting option."""
    kinds = [HOSTED] * len(pairs) + [SELF_HOST]
    n = len(kinds)
    return Options(
        key=np.arange(n),
        kind=np.array(kinds, dtype=np.int8),
        rid=np.array([r for _h, r in pairs] + [0]),
        lab=np.zeros(n, dtype=np.int64),
        host=np.array([h for h, _r in pairs] + [-1]),
        firm=np.arange(n),
        quality=np.zeros(n),
        cost=np.zeros(n),
        open=np.ones(n, dtype=bool),
        cn=np.zeros(n, dtype=bool),
        community=np.zeros(n, dtype=bool),
        research=np.zeros(n, dtype=bool),
        brand=np.zeros(n),
        tier=np.zeros(n, dtype=np.int8),
        mau_threshold=np.full(n, np.inf),
        active_b=np.zeros(n),
        coding=np.zeros(n),
        tokens_per_task=np.ones(n),
        nest=np.array([r for _h, r in pairs] + [0]),
    )


def test_enter_gives_capacity_to_the_most_profitable_candidate(sc):
    h = host(sc, max_models=1)
    opts = options_for([(0, 1), (0, 2)])
    big = 1e9
    enter([h], opts, [(0, 1), (0, 2)], np.array([big, 2 * big, 5 * big]))
    assert h.serving == {2}  # release 2 beat release 1; the self-host option is no offer
    # an offer that is not a candidate is not entered
    h2 = host(sc)
    enter([h2], opts, [(0, 1)], np.array([big, 2 * big, 0.0]))
    assert h2.serving == {1}


def test_exit_after_drop_after_losing_quarters(sc):
    h = host(sc, drop_after=3)
    h.serving.update({1, 2})
    assert h.review({1: -1.0, 2: 5.0}) == []
    assert h.review({1: -1.0, 2: -5.0}) == []
    assert h.review({1: 3.0, 2: -5.0}) == []  # a profitable quarter resets release 1
    assert h.losses == {1: 0, 2: 2}
    # a served release that sold nothing lost its fixed cost
    assert h.review({1: 3.0}) == [2]
    assert h.serving == {1} and 2 not in h.losses


def test_retire_drops_inactive_releases(sc):
    a, b = host(sc), host(sc, "groq", index=1)
    a.serving.update({1, 2})
    a.losses.update({1: 1, 2: 0})
    b.serving.add(3)
    retire([a, b], active=[2, 5])
    assert a.serving == {2} and a.losses == {2: 0}
    assert b.serving == set()


def test_hosts_enter_and_leave_in_a_run():
    m = OpenWeightMarket("baseline", rng=0, **{"developers.count": 2_000})
    served, entries, exits = [], 0, 0
    for _ in range(16):
        before = {k: set(h.serving) for k, h in m.hosts.items()}
        m.step()
        for k, h in m.hosts.items():
            entries += len(h.serving - before[k])
            exits += len(before[k] - h.serving)
            assert len(h.serving) <= h.spec.max_models
            assert h.serving <= set(m.active.values())  # only active releases are served
            for rid in h.serving:  # licence and origin policy hold for every served model
                r = m.releases[rid]
                assert r.open_weights and r.license != "research"
                assert h.spec.serves_cn_models or r.origin != "CN"
        served.append(sum(len(h.serving) for h in m.hosts.values()))
    assert entries > 0 and exits > 0
    assert max(served) > 0

"""Option building and availability: the quarter's choice set, its costs and who may use it."""

from __future__ import annotations

import numpy as np
import pytest

from openweight_sim.demand_classes import ClassArrays, availability
from openweight_sim.market import serving_cost
from openweight_sim.options import (
    CLOSED_API,
    HOSTED,
    NO_CHOICE,
    OPEN_API,
    OUTSIDE,
    SELF_HOST,
    OfferCatalogue,
    build_options,
    quarter_options,
)
from openweight_sim.releases import Release
from openweight_sim.scenario import load_scenario
from openweight_sim.serving import ServingConditions, self_host_price


@pytest.fixture(scope="module")
def sc():
    return load_scenario("baseline")


def release(rid: int, lab: str, *, open_weights: bool, license: str = "permissive", **kw):
    fields = {
        "name": f"{lab}-{rid}",
        "quarter": 0,
        "tier": "frontier",
        "quality": 1200.0,
        "total_b": 70.0,
        "active_b": 70.0,
        "origin": "US",
    }
    fields.update(kw)
    return Release(
        rid=rid,
        lab=lab,
        open_weights=open_weights,
        license=license if open_weights else "proprietary",
        **fields,
    )


def hosts_of(sc, serving: dict[str, set[int]]):
    return [(spec, serving.get(k, set())) for k, spec in sc.hosts.items()]


def test_closed_release_with_api_has_one_option(sc):
    rel = release(0, "openai", open_weights=False)
    items = quarter_options(OfferCatalogue(), [rel], sc.labs, hosts_of(sc, {}), 0.4)
    assert [(o.kind, o.name) for o in items] == [(CLOSED_API, f"{rel.name} (API)")]
    assert items[0].server_efficiency == sc.labs["openai"].serving_efficiency
    assert items[0].brand == sc.labs["openai"].brand


def test_open_release_api_hosts_and_self_hosting_in_order(sc):
    rel = release(0, "mistral", open_weights=True)
    hosts = hosts_of(sc, {"groq": {0}, "together": {0}})
    items = quarter_options(OfferCatalogue(), [rel], sc.labs, hosts, 0.4)
    kinds = [o.kind for o in items]
    assert kinds == [OPEN_API, HOSTED, HOSTED, SELF_HOST]
    # hosts in the scenario's order (together before groq), each with its host index
    host_keys = list(sc.hosts)
    assert [host_keys[o.host] for o in items if o.kind == HOSTED] == ["together", "groq"]
    lab, groq = sc.labs["mistral"], sc.hosts["groq"]
    hosted = items[2]
    assert hosted.name == f"{rel.name} (Groq)"
    assert hosted.brand == lab.brand + groq.brand - lab.license_friction
    assert (hosted.server_efficiency, hosted.gpu_price_factor) == (3.0, 3.5)
    selfh = items[-1]
    assert selfh.brand == lab.brand - lab.license_friction
    assert selfh.cost_multiplier == 0.4  # GPU cost at full utilisation
    assert items[0].cost_multiplier == hosted.cost_multiplier == 1.0


def test_lab_without_api_is_reached_only_through_hosts_and_self_hosting(sc):
    assert not sc.labs["meta"].first_party_api
    rel = release(0, "meta", open_weights=True, license="community")
    items = quarter_options(OfferCatalogue(), [rel], sc.labs, hosts_of(sc, {}), 0.4)
    assert [o.kind for o in items] == [SELF_HOST]
    # an entry candidate adds a hosted offer under test
    cand = {(list(sc.hosts).index("fireworks"), 0)}
    items = quarter_options(OfferCatalogue(), [rel], sc.labs, hosts_of(sc, {}), 0.4, cand)
    assert [o.kind for o in items] == [HOSTED, SELF_HOST]


def test_offer_ids_are_stable_and_named():
    cat = OfferCatalogue()
    a, b = release(0, "x", open_weights=True), release(1, "y", open_weights=False)
    k1 = cat.key(SELF_HOST, a, -1, "self-hosted")
    k2 = cat.key(CLOSED_API, b, -1, "API")
    assert (k1, k2) == (0, 1)
    assert cat.key(SELF_HOST, a, -1, "self-hosted") == k1  # same option, same id
    assert cat.key(HOSTED, a, 2, "Groq") == 2  # another host is another option
    assert len(cat) == 3
    assert cat.name(k1) == "x-0 (self-hosted)"
    assert cat.name(NO_CHOICE) is None
    assert cat.name(OUTSIDE) == "outside"


def test_build_options_arrays_and_pricing_firms(sc):
    rels = [
        release(0, "openai", open_weights=False),
        release(1, "deepseek", open_weights=True, origin="CN"),
    ]
    hosts = hosts_of(sc, {"together": {1}, "fireworks": {1}})
    items = quarter_options(OfferCatalogue(), rels, sc.labs, hosts, 0.4)
    cost = np.arange(len(items), dtype=float) + 1.0
    mau = {k: lab.mau_threshold for k, lab in sc.labs.items()}
    opts = build_options(items, mau, cost, n_labs=len(sc.labs))
    labs = list(sc.labs)
    assert opts.size == 5
    np.testing.assert_array_equal(opts.kind, [CLOSED_API, OPEN_API, HOSTED, HOSTED, SELF_HOST])
    np.testing.assert_array_equal(opts.rid, [0, 1, 1, 1, 1])
    np.testing.assert_array_equal(opts.cost, cost)
    np.testing.assert_array_equal(opts.cn, [False, True, True, True, True])
    np.testing.assert_array_equal(opts.self_hosted, [False, False, False, False, True])
    np.testing.assert_array_equal(opts.api, [True, True, True, True, False])
    # a lab prices its API options, a host its hosted ones, self-hosting is nobody's
    L = len(labs)
    assert opts.firm[0] == labs.index("openai") and opts.firm[1] == labs.index("deepseek")
    assert list(opts.firm[2:4]) == [L + 0, L + 1]
    assert opts.firm[4] < 0
    assert opts.names == [o.name for o in items]


def one_option_each(sc, *rels):
    items = quarter_options(OfferCatalogue(), list(rels), sc.labs, hosts_of(sc, {}), 0.4)
    mau = {k: lab.mau_threshold for k, lab in sc.labs.items()}
    return build_options(items, mau, np.ones(len(items)), len(sc.labs))


def test_licence_threshold_excludes_segments_at_or_above_it(sc):
    seg = ClassArrays.from_scenario(sc)
    names = list(sc.developers.segments)
    opts = one_option_each(sc, release(0, "meta", open_weights=True, license="community"))
    ok = availability(opts, seg)[:, 0]  # the self-hosting option of Llama, per class
    threshold = sc.labs["meta"].mau_threshold
    for c in range(seg.size):
        name = names[seg.segment[c]]
        mau = sc.developers.segments[name].mau
        assert ok[c] == (mau < threshold), seg.names[c]
    assert not ok[seg.segment == names.index("platform")].any()  # 1e9 MAU >= 700M
    # at exactly the threshold the licence excludes the segment
    seg.mau[:] = threshold
    assert not availability(opts, seg)[:, 0].any()
    # a permissive licence has no threshold
    perm = one_option_each(sc, release(1, "deepseek", open_weights=True))
    assert perm.kind[-1] == SELF_HOST
    assert availability(perm, ClassArrays.from_scenario(sc))[:, -1].all()


def test_residency_rules_out_every_api(sc):
    seg = ClassArrays.from_scenario(sc)
    names = list(sc.developers.segments)
    reg = seg.segment == names.index("regulated")
    opts = one_option_each(
        sc,
        release(0, "openai", open_weights=False),
        release(1, "mistral", open_weights=True),
    )
    avail = availability(opts, seg)
    assert reg.any()
    for row in avail[reg]:
        np.testing.assert_array_equal(row, ~opts.api)  # self-hosting only
    assert avail[seg.segment == names.index("startup")].all()


def test_research_weights_only_for_noncommercial_segments(sc):
    seg = ClassArrays.from_scenario(sc)
    opts = one_option_each(sc, release(0, "mistral", open_weights=True, license="research"))
    allowed = availability(opts, seg)[:, -1]
    noncommercial = [s.noncommercial for s in sc.developers.segments.values()]
    np.testing.assert_array_equal(allowed, np.array(noncommercial)[seg.segment])
    assert noncommercial == [n == "hobbyist" for n in sc.developers.segments]  # baseline's role


def test_serving_cost_of_options_and_self_hosting(sc):
    tech = sc.technology
    cond = ServingConditions(tech, gpu_price=2.0, efficiency=1.5)
    dense = release(0, "x", open_weights=True, total_b=70.0, active_b=70.0)
    moe = release(1, "x", open_weights=True, total_b=560.0, active_b=70.0)
    got = cond.costs([dense, moe], np.array([1.0, 1.0]), np.array([1.0, 1.0]))
    want = serving_cost(
        2.0,
        np.array([70e9, 70e9]),
        np.array([70e9, 560e9]),
        efficiency=1.5,
        utilization=tech.utilization,
        ref_throughput=tech.ref_throughput,
        moe_penalty=tech.moe_penalty,
    )
    np.testing.assert_array_equal(got, want)
    assert got[1] > got[0]  # a mixture of experts pays for its total parameters
    assert cond.cost(dense, 2.0, 0.5) == pytest.approx(got[0] / 2.0 * 0.5)
    # self-hosting: GPU cost at the class's utilisation plus engineering cost per token
    opts = one_option_each(sc, release(2, "mistral", open_weights=True))
    seg = ClassArrays.from_scenario(sc)
    assert list(opts.kind) == [OPEN_API, SELF_HOST]
    gpu = np.array([10.0, 2.0])  # per option at full utilisation
    price = self_host_price(opts, seg, gpu, seg.band_tokens)
    assert np.isnan(price[:, 0]).all()  # only self-hosting has an own cost
    want = gpu[1] / seg.self_host_util + seg.self_host_fixed / seg.band_tokens
    np.testing.assert_allclose(price[:, 1], want, rtol=1e-15)


def test_a_lab_may_keep_its_open_weights_off_its_own_api(sc):
    google = sc.labs["google"]
    assert google.first_party_api and not google.open_api  # baseline: Gemma only via hosts
    gemma = release(0, "google", open_weights=True)
    gemini = release(1, "google", open_weights=False)
    hosts = hosts_of(sc, {"together": {0}})
    items = quarter_options(OfferCatalogue(), [gemma, gemini], sc.labs, hosts, 0.4)
    assert [(o.kind, o.release.rid) for o in items] == [
        (HOSTED, 0),
        (SELF_HOST, 0),
        (CLOSED_API, 1),
    ]
    # a lab that sells its open weights per token (Mistral) keeps its API option
    mistral = release(2, "mistral", open_weights=True)
    assert sc.labs["mistral"].open_api
    kinds = [o.kind for o in quarter_options(OfferCatalogue(), [mistral], sc.labs, [], 0.4)]
    assert kinds == [OPEN_API, SELF_HOST]

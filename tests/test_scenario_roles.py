"""Scenario data, not code, names the labs and segments the reports and rules single out."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from openweight_sim import OpenWeightMarket
from openweight_sim.options import CLOSED_API
from openweight_sim.scenario import ScenarioError, load_scenario

SMALL = {"developers.count": 600, "end": "2024Q2"}


def test_baseline_names_todays_labs_and_segments():
    sc = load_scenario("baseline")
    assert sc.reporting.flagship_lab == "openai"
    assert sc.reporting.enterprise_share_labs == ["openai", "anthropic", "google"]
    assert sc.meta_payoff.lab == "meta"
    segs = sc.developers.segments
    assert [k for k, s in segs.items() if s.enterprise] == ["enterprise"]
    assert [k for k, s in segs.items() if s.noncommercial] == ["hobbyist"]


def test_flagship_price_follows_the_configured_lab():
    over = {**SMALL, "reporting.flagship_lab": "anthropic"}
    m = OpenWeightMarket("baseline", rng=0, **over)
    for _ in range(4):
        m.step()
        rec = m.record
        opts = rec.options
        anth = (opts.kind == CLOSED_API) & (opts.lab == m.lab_index["anthropic"]) & (opts.tier == 0)
        want = float(rec.prices[anth].max()) if anth.any() else float("nan")
        np.testing.assert_equal(m.book.closed_flagship_price, want)


def test_enterprise_columns_follow_the_configured_labs_and_segment():
    over = {**SMALL, "reporting.enterprise_share_labs": ["google"]}
    df = OpenWeightMarket("baseline", rng=0, **over).run_model().quarters_frame()
    assert "enterprise_spend_share_google" in df.columns
    assert "enterprise_spend_share_openai" not in df.columns
    assert df["enterprise_spend_share_google"].between(0, 1).all()
    # no enterprise segment: the enterprise columns are undefined
    off = {**SMALL, "developers.segments.enterprise.enterprise": False}
    df = OpenWeightMarket("baseline", rng=0, **off).run_model().quarters_frame()
    assert df["enterprise_spend_share_openai"].isna().all()
    assert df["open_share_enterprise_workloads"].isna().all()


def _noncommercial_segments(model: OpenWeightMarket) -> list[bool]:
    """Per segment, whether its demand classes are non-commercial (all classes agree)."""
    cls = model.classes
    return [
        bool(
            cls.noncommercial[cls.segment == s].all() and cls.noncommercial[cls.segment == s].any()
        )
        for s in range(len(model.config.developers.segments))
    ]


def test_noncommercial_role_decides_who_may_use_research_weights():
    base = _noncommercial_segments(OpenWeightMarket("baseline", rng=0, **SMALL))
    moved = _noncommercial_segments(
        OpenWeightMarket(
            "baseline",
            rng=0,
            **{
                **SMALL,
                "developers.segments.hobbyist.noncommercial": False,
                "developers.segments.startup.noncommercial": True,
            },
        )
    )
    assert base == [True, False, False, False, False]
    assert moved == [False, True, False, False, False]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"reporting.flagship_lab": "nobody"}, "reporting.flagship_lab: 'nobody' is not a lab"),
        (
            {"reporting.enterprise_share_labs": ["openai", "x"]},
            "reporting.enterprise_share_labs: 'x' is not a lab",
        ),
        (
            {"developers.segments.startup.enterprise": True},
            "developers: segments: at most one may be the enterprise segment",
        ),
    ],
)
def test_bad_roles_are_rejected(override, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario("baseline", override)


def test_cli_rejects_an_unknown_flagship_lab(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: baseline\nname: x\nreporting:\n  flagship_lab: nobody\n")
    out = tmp_path / "out"
    res = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", "run", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: ")
    assert lines[0].endswith("reporting.flagship_lab: 'nobody' is not a lab")
    assert not out.exists()

"""The dashboard (openweight_sim.app) without a browser: model wrapper, figures, components.

Components are rendered with ``solara.render`` and driven through their widgets, as Mesa's
own SolaraViz tests do; ``openweight-sim dashboard`` is checked without starting a server.
"""

from __future__ import annotations

import subprocess
import sys

import ipyvuetify as vw
import ipywidgets as widgets
import pandas as pd
import pytest
import solara
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import _build_model_init_kwargs, _check_model_params

from openweight_sim import OpenWeightMarket, app, load_scenario
from openweight_sim.scenario import get_dotted

pytestmark = pytest.mark.slow  # Solara sessions with every figure: not in `make test-fast`

SMALL = 1000  # developers: fast runs


@pytest.fixture(autouse=True)
def _overlay_on():
    """Every test starts (and leaves) the counterfactual overlay switched on."""
    app.show_counterfactual.set(True)
    yield
    app.show_counterfactual.set(True)


# --------------------------------------------------------------------------- parameters


def test_model_params_fit_mesa_and_default_to_the_baseline():
    params = app.model_params()
    _check_model_params(app.DashboardMarket.__init__, params)  # Mesa's own check
    assert set(app.SLIDER_PATHS) <= set(params)
    assert params["scenario_name"]["values"] == sorted(params["scenario_name"]["values"])
    assert "no_open_weights" in params["scenario_name"]["values"]
    baseline = load_scenario("baseline").model_dump()
    for key, path in app.SLIDER_PATHS.items():
        spec = params[key]
        if key == "llama_mau_threshold":
            assert app.MAU_CHOICES[spec["value"]] == get_dotted(baseline, path)
            continue
        assert spec.value == pytest.approx(get_dotted(baseline, path)), key
        assert spec.min <= spec.value <= spec.max, key


def test_reset_builds_the_model_from_the_sidebar_values_only():
    """Mesa's Reset must not inject a ``scenario`` keyword (Mesa reserves model.scenario)."""
    model = app.DashboardMarket(developers=SMALL)
    values = {
        k: (v.value if hasattr(v, "value") else v["value"]) for k, v in app.model_params().items()
    }
    kwargs = _build_model_init_kwargs(
        model, values, add_scenario_when_empty=True, require_model_accepts_scenario=True
    )
    assert kwargs == values
    rebuilt = type(model)(**kwargs)
    assert rebuilt.config.name == "baseline"
    assert rebuilt.overrides == {"developers.count": app.DEFAULT_DEVELOPERS}


def test_sliders_at_the_baseline_keep_the_chosen_scenarios_settings():
    surge = app.DashboardMarket("china_open_surge", developers=SMALL)
    assert surge.config.developers.cn_aversion == pytest.approx(0.5)  # the scenario's own value
    moved = app.DashboardMarket("china_open_surge", cn_aversion=2.0, developers=SMALL)
    assert moved.config.developers.cn_aversion == pytest.approx(2.0)
    assert moved.overrides["developers.cn_aversion"] == pytest.approx(2.0)


def test_slider_overrides_map_to_dotted_paths():
    assert app.slider_overrides({}) == {}
    assert app.slider_overrides({"meta_release_interval": 2, "llama_mau_threshold": "700M"}) == {}
    over = app.slider_overrides(
        {
            "meta_release_interval": 5.0,
            "llama_mau_threshold": "10M",
            "frontier_growth": 40,
            "efficiency_growth": 0.5,
        }
    )
    assert over == {
        "labs.meta.release_interval": 5,
        "labs.meta.mau_threshold": 1e7,
        "technology.frontier_growth": 40.0,
    }
    assert isinstance(over["labs.meta.release_interval"], int)
    model = app.DashboardMarket(
        llama_mau_threshold="10M", meta_release_interval=5, developers=SMALL
    )
    assert model.config.labs["meta"].mau_threshold == 1e7
    assert model.config.labs["meta"].release_interval == 5
    changed = {label: value for label, value, flag in model.settings() if flag}
    assert changed == {
        "Meta: new Llama generation every": "5 quarters",
        "Llama licence threshold": "10M MAU",
    }


# --------------------------------------------------------------------------- counterfactual


def _strip(dump: dict) -> dict:
    return {k: v for k, v in dump.items() if k not in ("name", "description")}


def test_counterfactual_of_the_baseline_is_the_bundled_no_open_weights():
    cf = app.counterfactual_scenario(load_scenario("baseline"))
    assert _strip(cf.model_dump()) == _strip(load_scenario("no_open_weights").model_dump())


def test_counterfactual_keeps_the_scenario_and_closes_every_lab():
    race = load_scenario("capability_race")
    cf = app.counterfactual_scenario(race)
    assert cf.technology.frontier_growth == race.technology.frontier_growth
    assert all(lab.policy == "closed" and not lab.open_history for lab in cf.labs.values())
    consolidates = app.counterfactual_scenario(load_scenario("meta_consolidates"))
    assert consolidates.labs["meta"].policy_changes == []


def test_counterfactual_runs_in_lockstep_with_the_same_seed():
    model = app.DashboardMarket(developers=SMALL, rng=7, counterfactual=True)
    for _ in range(3):
        model.step()
    cf = model.counterfactual_frame()
    assert len(cf) == len(model.frame()) == 3
    reference = OpenWeightMarket("no_open_weights", rng=7, **{"developers.count": SMALL})
    reference.run_model(max_steps=3)
    pd.testing.assert_frame_equal(cf, reference.quarters_frame())
    assert (cf["share_open_tokens"].fillna(0) == 0).all()


def test_counterfactual_created_late_catches_up():
    late = app.DashboardMarket(developers=SMALL, rng=3)
    for _ in range(4):
        late.step()
    assert late.counterfactual is None
    early = app.DashboardMarket(developers=SMALL, rng=3, counterfactual=True)
    for _ in range(4):
        early.step()
    pd.testing.assert_frame_equal(late.counterfactual_frame(), early.counterfactual_frame())
    late.step()
    assert len(late.counterfactual_frame()) == 5  # kept in lockstep from then on


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize("name", list(app.FIGURES))
def test_figures_draw_before_and_after_stepping(name):
    model = app.DashboardMarket(developers=SMALL)
    empty = app.FIGURES[name](model.frame(), None, model.config, model.quarters)
    assert isinstance(empty, Figure)
    assert app.NO_DATA in [t.get_text() for t in empty.axes[0].texts]
    assert empty.axes[0].get_xlim() == (-0.5, len(model.quarters) - 0.5)  # whole horizon
    png0 = app.figure_png(model, name, overlay=False)
    assert png0.startswith(b"\x89PNG")
    model.step()
    model.step()
    png2 = app.figure_png(model, name, overlay=False)
    assert png2 != png0
    fig = app.FIGURES[name](
        model.frame(), model.counterfactual_frame(), model.config, model.quarters
    )
    dashed = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert dashed, "the counterfactual is drawn dashed"
    assert fig.legends, "every panel has a legend"


def test_price_panel_uses_a_log_axis_in_usd():
    model = app.DashboardMarket(developers=SMALL)
    model.step()
    fig = app.price_figure(model.frame(), None, model.config, model.quarters)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert "USD per million tokens" in ax.get_ylabel()


def test_summary_lists_headlines_counterfactual_and_settings():
    model = app.DashboardMarket(developers=SMALL, price_sensitivity=1.5)
    text = app.summary_html(model, overlay=True)
    assert "not started" in text
    assert "<b>Developers' price sensitivity: ×1.5</b>" in text
    model.step()
    text = app.summary_html(model, overlay=True)
    assert "2023Q1" in text and "quarter 1 of 20" in text
    assert "Without open weights" in text
    assert "Open-weight share of tokens" in text
    assert "Without open weights" not in app.summary_html(model, overlay=False)


# --------------------------------------------------------------------------- components


@solara.component
def _App():
    """The page inside Solara's app layout, as ``solara run`` serves it."""
    with solara.AppLayout():
        app.Page()


def _images(rc) -> dict[str, bytes]:
    out = {}
    for w in rc.find(widgets.Image).widgets:
        for cls in w._dom_classes:
            if cls.startswith("owsim-plot-"):
                out[cls.removeprefix("owsim-plot-")] = bytes(w.value)
    return out


def _summary(rc) -> str:
    return "".join(
        w.unsafe_innerHTML
        for w in rc.find(solara.widgets.HTML).widgets
        if w.unsafe_innerHTML and "Scenario" in w.unsafe_innerHTML
    )


def _slider(rc, label: str):
    return rc.find(vw.Slider, label=label).widget


def test_page_renders_controls_sliders_and_all_panels():
    _, rc = solara.render(_App(), handle_error=False)
    for name in ("Reset", "Step"):
        rc.find(vw.Btn, children=[name]).assert_single()
    rc.find(vw.Btn, children=["▶"]).assert_single()
    labels = {w.label for w in rc.find(vw.Slider).widgets}
    expected = {
        "Meta: quarters per release",
        "Meta: MoE leverage (×)",
        "CN-origin aversion (×)",
        "Closed frontier Elo/quarter",
        "Price sensitivity (×)",
        "Switching cost",
        "Efficiency gain per year",
        "Developers",
        "Random seed",
    }
    assert expected <= labels
    selects = {w.label: w for w in rc.find(vw.Select).widgets}
    assert selects["Scenario"].v_model == "baseline"
    assert selects["Llama licence threshold (monthly active users)"].v_model == "700M"
    assert set(_images(rc)) == set(app.FIGURES)
    rc.find(vw.Switch).assert_single()
    assert "not started" in _summary(rc)


def test_step_redraws_every_panel_and_the_summary():
    _, rc = solara.render(_App(), handle_error=False)
    before = _images(rc)
    rc.find(vw.Btn, children=["Step"]).widget.click()
    after = _images(rc)
    assert all(after[name] != before[name] for name in app.FIGURES)
    assert "quarter 1 of 20" in _summary(rc)


def test_slider_then_reset_applies_the_new_setting():
    _, rc = solara.render(_App(), handle_error=False)
    step = rc.find(vw.Btn, children=["Step"]).widget
    step.click()
    base = _images(rc)
    _slider(rc, "Price sensitivity (×)").v_model = 1.8
    assert "quarter 1 of 20" in _summary(rc)  # applied on Reset, as in every Mesa app
    rc.find(vw.Btn, children=["Reset"]).widget.click()
    assert "not started" in _summary(rc)
    assert "price sensitivity: ×1.8</b>" in _summary(rc)
    step.click()
    moved = _images(rc)
    assert moved["prices"] != base["prices"] or moved["lab-shares"] != base["lab-shares"]


def test_scenario_picker_and_overlay_switch():
    _, rc = solara.render(_App(), handle_error=False)
    scenario = next(w for w in rc.find(vw.Select).widgets if w.label == "Scenario")
    scenario.v_model = "capability_race"
    rc.find(vw.Btn, children=["Reset"]).widget.click()
    rc.find(vw.Btn, children=["Step"]).widget.click()
    assert "<code>capability_race</code>" in _summary(rc)
    assert "Without open weights" in _summary(rc)
    with_overlay = _images(rc)
    rc.find(vw.Switch).widget.v_model = False
    assert app.show_counterfactual.value is False
    assert "Without open weights" not in _summary(rc)
    assert _images(rc)["prices"] != with_overlay["prices"]


# --------------------------------------------------------------------------- command line


def test_dashboard_subcommand_defaults_and_server_command(monkeypatch):
    from openweight_sim import dashboard
    from openweight_sim.cli import build_parser, main

    args = build_parser().parse_args(["dashboard"])
    assert (args.host, args.port, args.func) == ("127.0.0.1", 8765, dashboard.cmd_dashboard)
    cmd = dashboard.server_command("127.0.0.1", 9999)
    assert cmd[:5] == [sys.executable, "-m", "solara", "run", "openweight_sim.app"]
    assert cmd[5:9] == ["--host", "127.0.0.1", "--port", "9999"]
    assert "--no-check-version" in cmd  # no call to PyPI at start-up
    env = dashboard.server_env({"PATH": "/bin"})
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    assert env["SOLARA_ASSETS_PROXY"] == "True"

    calls = []

    class FakePopen:
        def __init__(self, cmd, env):
            calls.append((cmd, env))

        def wait(self, timeout=None):
            return 3

    monkeypatch.setattr(dashboard.subprocess, "Popen", FakePopen)
    assert dashboard.preflight() is None
    assert main(["dashboard", "--port", "9999"]) == 3  # the server's exit status
    assert calls[0][0] == cmd
    assert main(["dashboard", "--port", "nope"]) == 2


def test_dashboard_refuses_vue3_widgets(monkeypatch, capsys):
    """With ipyvue 3 Mesa's SolaraViz shows no plots (mesa#3806): say so, start nothing."""
    from openweight_sim import dashboard
    from openweight_sim.cli import main

    monkeypatch.setattr(dashboard, "_major", lambda package: 3)
    monkeypatch.setattr(dashboard.subprocess, "Popen", lambda *a, **k: pytest.fail("started"))
    assert main(["dashboard"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: dashboard: the dashboard needs ipyvue<2")
    assert len(err.strip().splitlines()) == 1


def test_cli_import_stays_light():
    code = (
        "import sys, openweight_sim.cli, openweight_sim.dashboard;"
        "heavy = [m for m in ('solara', 'mesa.visualization') if m in sys.modules];"
        "sys.exit(1 if heavy else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

"""The dashboard (openweight_sim.app) without a browser: model wrapper, figures, components.

Components are rendered with ``solara.render`` and driven through their widgets, as Mesa's
own SolaraViz tests do; ``openweight-sim dashboard`` is checked without starting a server.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import ipyvuetify as vw
import ipywidgets as widgets
import pandas as pd
import pytest
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.solara_viz import _build_model_init_kwargs, _check_model_params

from openweight_sim import OpenWeightMarket, app, load_scenario
from openweight_sim.dashboard import controls
from openweight_sim.dashboard.figures import PAIRED
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


def vuetify_round(value: float, low: float, high: float, step: float) -> float:
    """What the browser's slider (Vuetify 2 ``VSlider.roundValue``) makes of a value."""
    text = repr(float(step)).removesuffix(".0")  # JavaScript's Number.toString
    decimals = len(text) - text.index(".") - 1 if "." in text else 0
    offset = math.fmod(low, step)
    snapped = math.floor((value - offset) / step + 0.5) * step + offset  # Math.round
    return float(f"{min(snapped, high):.{decimals}f}")  # parseFloat(toFixed(decimals))


def test_sliders_start_at_the_exact_baseline_values_and_the_browser_keeps_them():
    """A calibrated 1.331 on a 0.1 grid became 1.3 on Reset; the grid now holds it."""
    params = app.model_params()
    baseline = load_scenario("baseline").model_dump()
    off_grid = 0
    for key, path in app.SLIDER_PATHS.items():
        spec = params[key]
        if key == "llama_mau_threshold":
            continue
        value = get_dotted(baseline, path)
        assert spec.value == value, key  # exactly, not approximately
        assert vuetify_round(spec.value, spec.min, spec.max, spec.step) == value, key
        default = controls.SLIDERS[key][3]
        on_default_grid = vuetify_round(value, spec.min, spec.max, default) == value
        # a finer step exactly where the calibrated value is off the slider's default grid
        assert (spec.step < default) == (not on_default_grid), key
        off_grid += not on_default_grid
    assert off_grid >= 1  # calibrated values (switching cost 0.6628) need a finer step
    assert app.exact_step(1.331, 0.5, 0.1) == 0.001
    assert app.exact_step(1.3, 0.5, 0.1) == 0.1
    assert app.exact_step(25.0, 0.0, 2.0) == 1.0


def test_reset_without_touching_anything_changes_no_setting():
    model = app.DashboardMarket(developers=SMALL)
    values = {
        k: (v.value if hasattr(v, "value") else v["value"]) for k, v in app.model_params().items()
    }
    rebuilt = app.DashboardMarket(**{**values, "developers": SMALL})
    assert rebuilt.config.model_dump() == model.config.model_dump()
    assert not [label for label, _, changed in rebuilt.settings() if changed]
    shown = dict((label, value) for label, value, _ in rebuilt.settings())
    dev = load_scenario("baseline").developers
    assert shown["Developers' price sensitivity"] == f"×{dev.price_sensitivity:g}"
    assert shown["Cost of switching model family"] == f"{dev.switching_cost:g}"


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
    empty = app.FIGURES[name](model.frame(), model.config, model.quarters)
    assert isinstance(empty, Figure)
    assert app.NO_DATA in [t.get_text() for t in empty.axes[0].texts]
    assert empty.axes[0].get_xlim() == (-0.5, len(model.quarters) - 0.5)  # whole horizon
    png0 = app.figure_png(model, name, overlay=False)
    assert png0.startswith(b"\x89PNG")
    model.step()
    model.step()
    png2 = app.figure_png(model, name, overlay=False)
    assert png2 != png0
    if name in PAIRED:  # a difference of two runs: the overlay toggle does not apply
        assert app.figure_png(model, name, overlay=True) == png2
        return
    fig = app.FIGURES[name](
        model.frame(), model.config, model.quarters, overlay=model.counterfactual_frame()
    )
    dashed = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert dashed, "the counterfactual is drawn dashed"
    assert fig.legends, "every panel has a legend"


def test_price_panel_uses_a_log_axis_in_usd():
    model = app.DashboardMarket(developers=SMALL)
    model.step()
    fig = app.price_panel(model.frame(), model.config, model.quarters)
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


def test_reset_in_the_page_keeps_every_baseline_setting():
    ps = load_scenario("baseline").developers.price_sensitivity
    _, rc = solara.render(_App(), handle_error=False)
    rc.find(vw.Btn, children=["Step"]).widget.click()
    assert _slider(rc, "Price sensitivity (×)").v_model == ps
    rc.find(vw.Btn, children=["Reset"]).widget.click()
    assert "not started" in _summary(rc)
    assert _slider(rc, "Price sensitivity (×)").v_model == ps
    settings = _summary(rc).split("Settings in effect", 1)[1]
    assert f"Developers' price sensitivity: ×{ps:g}" in settings
    assert settings.count("<b>") == 1  # only the legend's "<b>bold</b> = changed"


# --------------------------------------------------------------------------- Mesa's SolaraViz


def test_the_model_accepts_the_scenario_object_solaraviz_reset_passes():
    """Mesa 3.5's Reset passes a ``mesa`` Scenario as ``scenario``: build it exactly so."""
    model = OpenWeightMarket("baseline", rng=3, **{"developers.count": SMALL})
    params = {"rng": 3, "developers.count": SMALL}
    kwargs = _build_model_init_kwargs(
        model, params, add_scenario_when_empty=True, require_model_accepts_scenario=True
    )
    assert type(kwargs["scenario"]).__module__.startswith("mesa.")
    rebuilt = type(model)(**kwargs)
    assert rebuilt.config.name == "baseline"
    assert rebuilt.config.developers.count == SMALL
    model.run_model(max_steps=2)
    rebuilt.run_model(max_steps=2)
    pd.testing.assert_frame_equal(rebuilt.quarters_frame(), model.quarters_frame())
    seeded = type(model)(
        **_build_model_init_kwargs(
            model, {}, add_scenario_when_empty=True, require_model_accepts_scenario=True
        )
        | {"developers.count": SMALL}
    )
    assert seeded.config.name == "baseline"


def test_mesa_solaraviz_runs_the_model_directly_reset_included():
    model = solara.reactive(OpenWeightMarket("baseline", rng=5, **{"developers.count": SMALL}))

    @solara.component
    def Viz():
        with solara.AppLayout():
            SolaraViz(model, model_params={"rng": 5, "developers.count": SMALL})

    _, rc = solara.render(Viz(), handle_error=False)
    rc.find(vw.Btn, children=["Step"]).widget.click()
    assert model.value.steps == 1
    first = model.value
    rc.find(vw.Btn, children=["Reset"]).widget.click()
    assert model.value is not first and model.value.steps == 0
    assert model.value.config.developers.count == SMALL
    rc.find(vw.Btn, children=["Step"]).widget.click()
    assert model.value.steps == 1
    pd.testing.assert_frame_equal(model.value.quarters_frame(), first.quarters_frame())


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
    new = 2.4  # not the baseline's value
    assert load_scenario("baseline").developers.price_sensitivity != new
    _slider(rc, "Price sensitivity (×)").v_model = new
    assert "quarter 1 of 20" in _summary(rc)  # applied on Reset, as in every Mesa app
    rc.find(vw.Btn, children=["Reset"]).widget.click()
    assert "not started" in _summary(rc)
    assert f"price sensitivity: ×{new:g}</b>" in _summary(rc)
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
    from openweight_sim.dashboard import server

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
        def __init__(self, cmd, env, preexec_fn=None):
            calls.append((cmd, env))

        def poll(self):
            return 3

        def wait(self, timeout=None):
            return 3

    monkeypatch.setattr(server.subprocess, "Popen", FakePopen)
    assert dashboard.preflight() is None
    assert main(["dashboard", "--port", "9999"]) == 3  # the server's exit status
    assert calls[0][0] == cmd
    assert main(["dashboard", "--port", "nope"]) == 2


def test_dashboard_refuses_vue3_widgets(monkeypatch, capsys):
    """With ipyvue 3 Mesa's SolaraViz shows no plots (mesa#3806): say so, start nothing."""
    from openweight_sim.cli import main
    from openweight_sim.dashboard import server

    monkeypatch.setattr(server, "_major", lambda package: 3)
    monkeypatch.setattr(server.subprocess, "Popen", lambda *a, **k: pytest.fail("started"))
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


# --------------------------------------------------------------------------- signals


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        state = next(
            line
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("State:")
        )
    except (OSError, StopIteration):
        return False
    return "Z" not in state.split()[1]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in status:
            found.add(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_dashboard_command_stops_its_server_on_a_signal(tmp_path, signum):
    """Today's bug: SIGTERM left the Solara child serving the port ("address already in use")."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "openweight_sim.cli", "dashboard", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[0].decode()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, "dashboard not up after 120 s"
            time.sleep(0.5)
        server = _children(proc.pid)
        assert len(server) == 1  # the `solara run` child
        os.kill(proc.pid, signum)  # to the command only, not to its process group
        expected = 130 if signum == signal.SIGINT else 128 + signum  # as a shell reports it
        assert proc.wait(timeout=15) == expected
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (any(map(_alive, server)) or not _port_free(port)):
            time.sleep(0.1)
        assert not [pid for pid in server if _alive(pid)], "the server outlived the command"
        assert _port_free(port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --------------------------------------------------------------------------- browser test in CI


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_browser_test_without_chromium_fails_in_ci_and_skips_locally(tmp_path, ci, outcome):
    browser_test = Path(__file__).with_name("test_dashboard_browser.py")
    env = {**os.environ, "CI": ci, "OWSIM_CHROMIUM": str(tmp_path / "no-chromium")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(browser_test)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert outcome in run.stdout, run.stdout + run.stderr
    assert run.returncode == (1 if ci else 0)  # CI: the run fails (error at set-up)
    if ci:
        assert "required in CI" in run.stdout


def test_dashboard_on_a_busy_port_is_one_line_before_starting():
    import socket
    import subprocess
    import sys

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = subprocess.run(
            [sys.executable, "-m", "openweight_sim.cli", "dashboard", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip().splitlines() == [
        f"error: dashboard: --host 127.0.0.1 --port {port}: cannot listen there (already in "
        "use); choose another"
    ]

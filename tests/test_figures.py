"""Every figure of every results directory kind: drawn, titled, labelled, legible.

The commands (``run``, ``run --replications``, ``compare``, ``validate``, ``sweep``,
``analyze``) run once, small, through the command line under umask 022; ``plot`` then
redraws each directory. Every figure that ``plot`` draws is inspected as a matplotlib
Figure (captured at ``savefig``): a title, labelled axes with units, a legend wherever more
than one series is named, and no legend inside the data area of the axes.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from openweight_sim import plots
from openweight_sim.experiments import plots as xplots
from openweight_sim.outdir import write_marker
from openweight_sim.redraw import redraw

pytestmark = pytest.mark.slow

SMALL = ["--set", "developers.count=300", "--set", "end=2025Q4"]
SWEEP = """\
name: figs
scenario: baseline
constants: {developers.count: 300, end: 2025Q4}
design: {method: %s, samples: %d, seed: 3}
parameters:
  developers.price_sensitivity: [1.5, 2.5]
  developers.switching_cost: [0.5, 3.0]
replications: 1
outputs: [price_closed@2025Q4, share_open_tokens@2025Q4]
"""
UNITS = re.compile(
    r"USD|Elo|[Ss]hare|0–1|count|Runs|Quarter|Position|Coverage|Density|variance|μ\*|σ"
    r"|model units|Parameter"
)
"""A unit, a unit-free scale or a category list that every axis label must name."""


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    res = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Path]:
    """One results directory of each kind, written by the command line."""
    tmp = tmp_path_factory.mktemp("figs")
    (tmp / "sobol.yaml").write_text(SWEEP % ("sobol", 4))
    (tmp / "lhs.yaml").write_text(SWEEP % ("lhs", 8))
    _cli("run", "baseline", *SMALL, "--out", "run", cwd=tmp)
    _cli("run", "baseline", *SMALL, "--replications", "2", "--out", "reps", cwd=tmp)
    _cli("compare", "baseline", *SMALL, "--replications", "2", "--out", "cmp", cwd=tmp)
    _cli("validate", "baseline", *SMALL, "--replications", "2", "--out", "val", cwd=tmp)
    _cli("sweep", "sobol.yaml", "--out", "sobol", "--no-progress", cwd=tmp)
    _cli("analyze", "sobol", "--method", "sobol", cwd=tmp)
    lhs = _cli("sweep", "lhs.yaml", "--out", "lhs", "--no-progress", cwd=tmp)
    hint = next(line for line in lhs.stdout.splitlines() if line.startswith("next: "))
    argv = shlex.split(hint.removeprefix("next: "))
    assert argv[:2] == ["openweight-sim", "analyze"] and "--threshold" in argv
    _cli(*argv[1:], cwd=tmp)  # the printed PRIM command works as printed
    return {
        "run": tmp / "run",
        "reps": tmp / "reps",
        "compare": tmp / "cmp",
        "validate": tmp / "val",
        "sweep": tmp / "sobol",
        "sobol": tmp / "sobol" / "analysis-sobol",
        "prim": tmp / "lhs" / "analysis-prim",
    }


def _captured(directory: Path, monkeypatch) -> dict[str, Figure]:
    """The figures ``redraw`` saves for ``directory``, by file name (drawn in-process)."""
    figures: dict[str, Figure] = {}
    save = Figure.savefig

    def keep(fig, fname, *args, **kwargs):
        figures[Path(fname).name] = fig
        return save(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    paths = redraw(directory)
    assert sorted(p.name for p in paths) == sorted(figures)
    return figures


def _data_axes(fig: Figure) -> list:
    """Axes that hold data (not colour bars)."""
    return [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]


def _named_series(ax) -> list[str]:
    return [lab for lab in ax.get_legend_handles_labels()[1] if not lab.startswith("_")]


def _legend_outside_data(ax) -> bool:
    """The legend's box lies outside the axes' data area (or there is none)."""
    legend = ax.get_legend()
    if legend is None:
        return True
    canvas = FigureCanvasAgg(ax.figure)  # a closed pyplot figure keeps no drawing canvas
    canvas.draw()
    r = canvas.get_renderer()
    box, area = legend.get_window_extent(r), ax.get_window_extent(r)
    overlap_w = min(box.x1, area.x1) - max(box.x0, area.x0)
    overlap_h = min(box.y1, area.y1) - max(box.y0, area.y0)
    return overlap_w <= 1 or overlap_h <= 1


def check_figure(name: str, fig: Figure) -> None:
    """A title, labelled axes with units, a legend for several series, none over the data."""
    suptitle = fig._suptitle.get_text() if fig._suptitle else ""
    data = _data_axes(fig)
    twins = {ax for ax in data for t in ax.get_shared_x_axes().get_siblings(ax) if t is not ax}
    titled = [bool(ax.get_title(loc="left") or ax.get_title()) for ax in data if ax not in twins]
    titled += [any(ax.get_title(loc="left") for ax in twins)] if twins else []
    assert suptitle or all(titled), f"{name}: untitled axes"
    for ax in _data_axes(fig):
        if ax in twins and not ax.get_title(loc="left"):  # a right-hand axis of a twin pair
            assert UNITS.search(ax.get_ylabel()), f"{name}: right axis without unit"
            continue
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            if label or ax.get_yticklabels():
                assert UNITS.search(label or ""), f"{name}: axis label {label!r} names no unit"
        pair = [ax, *(t for t in twins if t in ax.get_shared_x_axes().get_siblings(ax))]
        series = [s for a in dict.fromkeys(pair) for s in _named_series(a)]
        if len(series) > 1:
            legends = [a.get_legend() for a in pair] + list(fig.legends)
            assert any(lg is not None for lg in legends), f"{name}: {len(series)} series, no legend"
        assert _legend_outside_data(ax), f"{name}: the legend covers the data"


EXPECTED = {
    "run": {f"{k}.png" for k in plots.PLOTS},
    "reps": {f"{k}.png" for k in plots.PLOTS} | {f"fan_{c}.png" for c in xplots.FAN_COLUMNS},
    "compare": {f"fan_{c}.png" for c in xplots.FAN_COLUMNS},
    "validate": {"validation.png"},
    "sweep": {
        "sweep_outputs.png",
        "sobol_price_closed_2025Q4.png",
        "sobol_share_open_tokens_2025Q4.png",
    },
    "sobol": {"sobol_price_closed_2025Q4.png", "sobol_share_open_tokens_2025Q4.png"},
    "prim": {"prim_tradeoff.png", "prim_boxes.png"},
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_plot_redraws_every_figure_of_each_kind_and_each_reads_well(results, kind, monkeypatch):
    d = results[kind]
    written = {p.name for p in d.rglob("*.png")}
    res = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", "plot", str(d)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    printed = {Path(line).name for line in res.stdout.split()}
    assert printed == written, "plot redraws exactly the figures the command drew"
    # fan charts of a quantity undefined in every run (none here) would be left out
    assert EXPECTED[kind] - printed <= {f"fan_{c}.png" for c in xplots.FAN_COLUMNS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = _captured(d, monkeypatch)
    assert set(figures) == printed
    for name, fig in figures.items():
        check_figure(f"{kind}/{name}", fig)


def test_compare_fans_name_both_scenarios(results, monkeypatch):
    figures = _captured(results["compare"], monkeypatch)
    for name, fig in figures.items():
        ax = fig.axes[0]
        title = ax.get_title(loc="left")
        assert "baseline (A) vs baseline_no_open_weights (B)" in title, name
        labels = " ".join(_named_series(ax))
        assert "baseline:" in labels and "baseline_no_open_weights:" in labels, name


def test_time_plots_show_the_history_boundary_above_the_data(results, monkeypatch):
    figures = _captured(results["reps"], monkeypatch)
    for name, fig in figures.items():
        ax = fig.axes[0]
        texts = [t.get_text() for t in ax.texts]
        assert "history" in texts and "projection" in texts, name
        spans = [p for p in ax.patches if p.get_hatch()]
        assert spans, f"{name}: no hatched history"
        # drawn above filled areas and bars, so stacked areas cannot hide it
        fills = [c.get_zorder() for c in ax.collections] + [
            p.get_zorder() for p in ax.patches if not p.get_hatch()
        ]
        assert all(spans[0].get_zorder() > z for z in fills), name


def test_every_lab_has_its_own_colour_and_every_colour_is_distinct():
    colours = list(plots.LAB_COLORS.values())
    assert len(set(colours)) == len(colours)
    assert set(colours) - {"#555555"} <= set(plots.OKABE_ITO.values())


def test_meta_payoff_titles_say_level_and_cumulative(results, monkeypatch):
    figures = _captured(results["run"], monkeypatch)
    level = figures["meta_payoff.png"].axes[0]
    assert "payoff per quarter" in level.get_title(loc="left")
    assert "not" in level.get_ylabel() or "level" in level.get_ylabel()
    cum = figures["meta_payoff_cumulative.png"].axes[0]
    assert "cumulative" in cum.get_title(loc="left")
    q = pd.read_csv(results["run"] / "quarters.csv")
    net = next(ln for ln in cum.get_lines() if ln.get_label() == "Net payoff")
    assert np.allclose(net.get_ydata(), q["meta_net_payoff"].cumsum() / 1e9)


def test_morris_figure_reads_well():
    t = pd.DataFrame(
        {
            "output": "y",
            "parameter": ["a", "b", "c"],
            "mu_star": [0.5, 0.2, 0.05],
            "mu_star_conf": [0.1, 0.05, 0.02],
            "sigma": [0.4, 0.1, 0.01],
            "mu": [0.3, -0.1, 0.0],
        }
    )
    check_figure("morris", xplots.morris_figure(t, "y"))


def test_prim_tradeoff_colours_a_count_on_a_discrete_bar():
    traj = pd.DataFrame(
        {
            "coverage": np.linspace(1, 0.3, 6),
            "density": np.linspace(0.3, 0.9, 6),
            "n_restricted": [0, 1, 1, 2, 3, 3],
        }
    )
    fig = xplots.prim_tradeoff_figure(traj, 3, "x < 1")
    bar = next(ax for ax in fig.axes if hasattr(ax, "_colorbar"))._colorbar
    assert list(bar.get_ticks()) == [0, 1, 2, 3]
    assert bar.cmap.N == 4  # one colour per count


def _sobol_table(s1, s1_conf, st, st_conf) -> pd.DataFrame:
    t = pd.DataFrame({"output": "y", "parameter": ["a", "b"], "S1": s1, "ST": st})
    for k, conf in (("S1", s1_conf), ("ST", st_conf)):
        t[f"{k}_conf"] = conf
        t[f"{k}_lo"], t[f"{k}_hi"] = t[k] - t[f"{k}_conf"], t[k] + t[f"{k}_conf"]
    return t


def test_sobol_warns_on_wide_intervals_and_s1_above_st_on_figure_and_cli(results):
    bad = _sobol_table([0.9, 0.1], [0.05, 0.4], [0.5, 0.2], [0.05, 0.4])
    notes = xplots.sobol_warnings(bad, "y", 512)
    assert any("S1 > ST" in n and n.endswith("for a: estimation noise") for n in notes)
    assert any("wide" in n for n in notes)
    assert not any("N =" in n for n in notes)
    assert "S1 > ST" in xplots.sobol_figure(bad, "y", 512)._supxlabel.get_text()
    good = _sobol_table([0.6, 0.1], 0.05, [0.7, 0.2], 0.05)
    assert xplots.sobol_warnings(good, "y", 512) == []
    assert xplots.sobol_figure(good, "y", 512)._supxlabel is None
    assert xplots.sobol_warnings(good, "y", 32) == ["N = 32 base samples (< 64): indices are rough"]
    # the fixture's sweep has N = 4: analyze said so
    text = (results["sobol"] / "sobol.txt").read_text()
    assert "warning: not trustworthy at this sample size: N = 4 base samples (< 64)" in text


def test_validation_log_panels_have_several_labelled_ticks(results, monkeypatch):
    fig = _captured(results["validate"], monkeypatch)["validation.png"]
    for ax in _data_axes(fig):
        if ax.get_yscale() == "log":
            lo, hi = ax.get_ylim()
            shown = [
                t for t in ax.get_yticklabels() if t.get_text() and lo <= t.get_position()[1] <= hi
            ]
            assert len(shown) >= 3, ax.get_title(loc="left")


def test_unicode_scenario_name_renders_without_glyph_warnings(tmp_path):
    name = "Szenario–Öffnung 开放"
    (tmp_path / "u.yaml").write_text(f'extends: baseline\nname: "{name}"\n', encoding="utf-8")
    res = subprocess.run(
        [sys.executable, "-m", "openweight_sim.cli", "run", "u.yaml", *SMALL, "--out", "u"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "Glyph" not in res.stderr and "warn" not in res.stderr.lower(), res.stderr
    assert plots.display_text(name).startswith("Szenario–Öffnung ")  # DejaVu draws these
    df = pd.read_csv(tmp_path / "u" / "quarters.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.price_plot(df, name)
        fig.canvas.draw()  # glyphs are looked up when drawn


def test_results_directories_respect_the_umask(results):
    for d in results.values():
        for p in [d, *d.rglob("*")]:
            mode = p.stat().st_mode & 0o777
            if p.name.endswith(".lock"):
                continue
            assert mode == (0o755 if p.is_dir() else 0o644), f"{p}: {oct(mode)}"


def test_plot_of_a_kind_without_figures_or_an_old_analysis_is_one_line_exit_2(tmp_path):
    calib, old = tmp_path / "calib", tmp_path / "old"
    for d, kind in ((calib, "calibration"), (old, "analysis")):
        d.mkdir()
        write_marker(d, kind)
    cases = {
        calib: "holds calibration results, which have no figures",
        old: "analysis.json: missing or unreadable; re-run analyze to redraw",
    }
    for d, expected in cases.items():
        before = sorted(p.name for p in d.iterdir())
        res = subprocess.run(
            [sys.executable, "-m", "openweight_sim.cli", "plot", str(d)],
            capture_output=True,
            text=True,
        )
        assert res.returncode == 2 and expected in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
        assert sorted(p.name for p in d.iterdir()) == before

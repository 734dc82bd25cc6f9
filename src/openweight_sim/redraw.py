"""Redraw the figures of a results directory of any kind from the tables it holds.

``openweight-sim plot DIR`` calls :func:`redraw`. Each kind of results directory (see
:mod:`openweight_sim.outdir`) has one redraw function here that reads the directory's own
tables and draws the same figures, into the same files, as the command that wrote it:

* ``run``: the run plots of replication 0, and the fan charts if replicated;
* ``compare``: the fan charts of both scenarios;
* ``validation``: ``validation.png``;
* ``sweep``: the distribution of each output (``plots/sweep_outputs.png``) and the figures
  of every analysis directory inside it;
* ``analysis``: the Sobol, Morris or PRIM figures (``analysis.json`` says which);
* ``calibration`` has no figure of its own: a one-line error says so.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from openweight_sim.columns import SUMMARY
from openweight_sim.inputs import ScenarioError
from openweight_sim.outdir import results_kind

ANALYSIS_META = "analysis.json"
"""What ``analyze`` records for its figures to be redrawn (method, N, PRIM's question)."""


def read_table(
    path: Path,
    needed: set[str] | frozenset[str] = frozenset(),
    what: str = "the table plot expects",
) -> pd.DataFrame:
    """A CSV table of ours, or a one-line error saying why it cannot be used.

    Args:
        path: the CSV file.
        needed: columns the table must have.
        what: what the table should be, for the error (``not <what> (missing columns …)``).
    """
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise ScenarioError(
            str(path), "", "missing (the results directory is incomplete)"
        ) from None
    except (UnicodeDecodeError, ValueError, OSError) as exc:  # pandas parser errors too
        raise ScenarioError(str(path), "", f"unreadable: {exc}".splitlines()[0]) from None
    missing = sorted(set(needed) - set(df.columns))
    if missing or df.empty:
        why = f"missing columns {', '.join(missing)}" if missing else "no rows"
        raise ScenarioError(str(path), "", f"not {what} ({why})")
    return df


def read_quarters(path: Path) -> pd.DataFrame:
    """A ``quarters`` table of ours (it has ``quarter`` and the summary columns)."""
    return read_table(path, {"quarter", *SUMMARY}, "a run's quarters table")


def _metadata(d: Path) -> dict:
    """``metadata.json`` of a results directory ({} if absent or unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads((d / "metadata.json").read_text())
        if isinstance(meta, dict):
            return meta
    return {}


def _scenario_field(meta: dict, key: str, field: str):
    value = meta.get(key)
    return value.get(field) if isinstance(value, dict) else None


def _history(meta: dict, key: str = "scenario") -> str | None:
    """The last quarter of replayed history recorded for a scenario (None: no history)."""
    from openweight_sim.figstyle import HISTORY_UNTIL

    if not meta:
        return HISTORY_UNTIL
    if not _scenario_field(meta, key, "history"):
        return None
    return _scenario_field(meta, key, "history_until") or HISTORY_UNTIL


def redraw_run(d: Path) -> list[Path]:
    """Run plots of the first replication, and fan charts over all of them if replicated."""
    from openweight_sim.experiments.plots import plot_fans
    from openweight_sim.plots import plot_run

    df = read_quarters(d / "quarters.csv")
    meta = _metadata(d)
    name = _scenario_field(meta, "scenario", "name") or d.name
    paths = []
    if "replication" in df and (df["replication"] != df["replication"].iloc[0]).any():
        paths += plot_fans(df, d / "plots", name, _history(meta))
        df = df[df["replication"] == df["replication"].min()]
    return paths + plot_run(df.reset_index(drop=True), d / "plots", name, history=_history(meta))


def redraw_compare(d: Path) -> list[Path]:
    """Fan charts of scenarios A and B."""
    from openweight_sim.experiments.plots import plot_compare_fans

    qa, qb = read_quarters(d / "quarters_a.csv"), read_quarters(d / "quarters_b.csv")
    meta = _metadata(d)
    name_a = _scenario_field(meta, "scenario_a", "name") or "A"
    name_b = _scenario_field(meta, "scenario_b", "name") or "B"
    return plot_compare_fans(qa, qb, d / "plots", name_a, name_b, _history(meta, "scenario_a"))


def redraw_validation(d: Path) -> list[Path]:
    """``validation.png`` from the stored replications and scorecard."""
    from openweight_sim.calibration.plots import plot_validation, validation_title

    sim = read_quarters(d / "quarters.csv")
    card = read_table(d / "scorecard.csv", {"metric", "period", "observed", "low", "high"})
    meta = _metadata(d)
    name = _scenario_field(meta, "scenario", "name") or d.name
    n = sim["replication"].nunique() if "replication" in sim else 1
    return [plot_validation(sim, card, d / "validation.png", validation_title(name, n))]


def redraw_analysis(d: Path) -> list[Path]:
    """The figures of an ``analyze`` directory, as ``analysis.json`` describes them."""
    from openweight_sim.experiments import plots

    try:
        meta = json.loads((d / ANALYSIS_META).read_text())
        method = meta["method"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ScenarioError(
            str(d / ANALYSIS_META), "", "missing or unreadable; re-run analyze to redraw"
        ) from None
    out = d / "plots"
    if method in ("sobol", "morris"):
        table = read_table(d / f"{method}.csv", {"output", "parameter"})
        paths = []
        for o in dict.fromkeys(table["output"]):
            t = table[table["output"] == o]
            key = "ST" if method == "sobol" else "mu_star"
            if t[key].isna().all():
                continue  # analyze draws no figure of an undefined output either
            if method == "sobol":
                fig = plots.sobol_figure(table, o, meta.get("n_base"))
            else:
                fig = plots.morris_figure(table, o)
            paths.append(plots.save_figure(fig, out / f"{method}_{plots.slug(o)}.png"))
        return paths
    if meta.get("boxes") == 0:
        return []  # no point met the condition: analyze drew no figure
    traj = read_table(d / "prim_trajectory.csv", {"coverage", "density", "n_restricted", "box"})
    table = read_table(d / "prim_boxes.csv", {"box", "coverage", "density", "parameter"})
    first = traj[traj["box"] == 1].reset_index(drop=True)
    question = meta.get("question", "")
    bounds = {k: tuple(v) for k, v in meta.get("bounds", {}).items()}
    return [
        plots.save_figure(
            plots.prim_tradeoff_figure(first, int(meta.get("selected", 0)), question),
            out / "prim_tradeoff.png",
        ),
        plots.save_figure(plots.prim_boxes_figure(table, bounds, question), out / "prim_boxes.png"),
    ]


def redraw_sweep(d: Path) -> list[Path]:
    """The sweep's output distributions, then the figures of each analysis inside it."""
    from openweight_sim.experiments.plots import save_figure, sweep_outputs_figure
    from openweight_sim.experiments.sweep import open_sweep

    sweep = open_sweep(d)
    fig = sweep_outputs_figure(sweep.results, sweep.outputs, sweep.spec.name or d.name)
    paths = [save_figure(fig, d / "plots" / "sweep_outputs.png")]
    for sub in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if results_kind(sub) == "analysis":
            paths += redraw_analysis(sub)
    return paths


REDRAW: dict[str, Callable[[Path], list[Path]]] = {
    "run": redraw_run,
    "compare": redraw_compare,
    "validation": redraw_validation,
    "sweep": redraw_sweep,
    "analysis": redraw_analysis,
}
"""The redraw function of each kind of results directory that has figures."""


def redraw(directory: str | Path) -> list[Path]:
    """Redraw every figure of a results directory; returns the PNGs written.

    Raises:
        ScenarioError: not a results directory, a kind without figures, or a table that
            cannot be read (one line, for the command line).
    """
    d = Path(directory)
    if not d.is_dir():
        raise ScenarioError(str(d), "", "no such directory")
    kind = results_kind(d)
    if kind is None:
        raise ScenarioError(str(d), "", "is not an openweight-sim results directory")
    if kind not in REDRAW:
        raise ScenarioError(
            str(d),
            "",
            f"holds {kind} results, which have no figures (plot redraws "
            f"{', '.join(REDRAW)} directories)",
        )
    return REDRAW[kind](d)

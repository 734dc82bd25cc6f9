"""``openweight-sim run``, ``plot``, ``schema`` and ``scenarios``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from openweight_sim.cli.common import (
    add_executor_arguments,
    metadata,
    overrides_from,
    run_options,
)
from openweight_sim.cli.predictive import add_posterior_arguments, run_with_posterior
from openweight_sim.columns import SUMMARY, column
from openweight_sim.outdir import add_force_flag, out_dir_for
from openweight_sim.scenario import (
    ScenarioError,
    bundled_names,
    load_scenario,
    scenario_json_schema,
)

SUMMARY_COLUMNS = SUMMARY
"""Rows of the summary table (names in :mod:`openweight_sim.columns`)."""


def year_end_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of each year's last quarter (Q4, or the final quarter if the run ends earlier)."""
    from openweight_sim.experiments.compare import year_end_quarters

    return df[df["quarter"].isin(year_end_quarters(df["quarter"]))]


def summary_table(df: pd.DataFrame) -> str:
    """A short text table of the key outputs at each year's end."""
    rows = year_end_rows(df)
    lines = [f"{'':28}" + "".join(f"{q:>10}" for q in rows["quarter"])]
    for col in map(column, SUMMARY_COLUMNS):
        cells = "".join(col.format(v) for v in rows[col.name].to_numpy(dtype=float))
        lines.append(f"{col.heading:28}{cells}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario (optionally replicated) and write tables, metadata and plots."""
    from openweight_sim.experiments.plots import plot_fans
    from openweight_sim.experiments.replicate import bands
    from openweight_sim.io import atomic_dir, write_json, write_table
    from openweight_sim.market import impossible_market_warning
    from openweight_sim.plots import plot_run
    from openweight_sim.runs import run_replications

    scenario = load_scenario(args.scenario, overrides_from(args))
    if args.posterior or args.draws is not None:
        return run_with_posterior(args, scenario)
    out = out_dir_for(args, Path("results") / scenario.name, "run")
    started = time.perf_counter()
    with atomic_dir(out, "run") as tmp:
        (reps,) = run_replications(
            [scenario], args.replications, args.seed, tables=True, **run_options(args)
        )
        for name, table in reps.tables.items():
            write_table(table, tmp, name)
        allq, first = reps.quarters, reps.first
        write_table(allq, tmp, "quarters")
        if args.replications > 1:
            write_table(bands(allq), tmp, "bands")
            plot_fans(allq, tmp / "plots", scenario.name)
        plot_run(first, tmp / "plots", scenario.name)
        write_json(
            tmp / "metadata.json", metadata(scenario, reps.seeds_record(), " ".join(sys.argv))
        )
    elapsed = time.perf_counter() - started
    print(
        f"{scenario.name}: {args.replications} run(s) of {len(first)} quarters, "
        f"{scenario.developers.count:,} developers, in {elapsed:.1f} s (seed {args.seed})"
    )
    print(
        summary_table(
            allq.groupby("quarter", sort=False).mean(numeric_only=True).reset_index()
            if args.replications > 1
            else first
        )
    )
    warning = impossible_market_warning(allq)
    if warning:
        print(warning)
    tables = "quarters.csv, labs.csv, hosts.csv, offers.csv, demand.csv, plots/*.png"
    print(f"results: {out}/ ({tables})")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the scenario JSON Schema."""
    print(json.dumps(scenario_json_schema(), indent=2))
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    """List the bundled scenarios with their descriptions."""
    for name in bundled_names():
        sc = load_scenario(name)
        print(f"{name:24} {sc.start}–{sc.end}  {sc.description}")
    return 0


PLOTTABLE = ("run", "compare")
"""Kinds of results directory whose plots ``plot`` redraws from their tables."""


def _plottable_kind(d: Path) -> str:
    """The kind of a results directory ``plot`` can redraw, or a one-line error."""
    from openweight_sim.outdir import results_kind

    if not d.is_dir():
        raise ScenarioError(str(d), "", "no such directory")
    kind = results_kind(d)
    if kind is None:
        raise ScenarioError(
            str(d), "", "is not an openweight-sim results directory (plot redraws a run's plots)"
        )
    if kind not in PLOTTABLE:
        raise ScenarioError(
            str(d),
            "",
            f"holds {kind} results; plot redraws the plots of a run or compare directory "
            f"(re-run the {kind} command to redraw its own)",
        )
    return kind


def _read_quarters(path: Path) -> pd.DataFrame:
    """A ``quarters`` table of ours, or a one-line error saying why it cannot be used."""
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise ScenarioError(
            str(path), "", "missing (the results directory is incomplete)"
        ) from None
    except (UnicodeDecodeError, ValueError, OSError) as exc:  # pandas parser errors too
        raise ScenarioError(str(path), "", f"unreadable: {exc}".splitlines()[0]) from None
    needed = {"quarter", *SUMMARY}
    missing = sorted(needed - set(df.columns))
    if missing or df.empty:
        what = f"missing columns {', '.join(missing)}" if missing else "no rows"
        raise ScenarioError(str(path), "", f"not a run's quarters table ({what})")
    return df


def _metadata_names(d: Path, *keys: str) -> list[str | None]:
    """Scenario names recorded in ``metadata.json`` under ``keys`` (None where absent)."""
    names: list[str | None] = [None] * len(keys)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        meta = json.loads((d / "metadata.json").read_text())
        names = [meta.get(k, {}).get("name") for k in keys]
    return names


def cmd_plot(args: argparse.Namespace) -> int:
    """Redraw the plots of a run directory (fan charts too, if replicated) or of a compare."""
    from openweight_sim.experiments.plots import plot_compare_fans, plot_fans
    from openweight_sim.plots import plot_run

    d = Path(args.results_dir)
    kind = _plottable_kind(d)
    paths = []
    if kind == "compare":
        qa, qb = _read_quarters(d / "quarters_a.csv"), _read_quarters(d / "quarters_b.csv")
        name_a, name_b = _metadata_names(d, "scenario_a", "scenario_b")
        paths += plot_compare_fans(qa, qb, d / "plots", name_a or "A", name_b or "B")
    else:
        df = _read_quarters(d / "quarters.csv")
        name = _metadata_names(d, "scenario")[0] or d.name
        if "replication" in df and (df["replication"] != df["replication"].iloc[0]).any():
            paths += plot_fans(df, d / "plots", name)
            df = df[df["replication"] == df["replication"].min()]
        paths += plot_run(df.reset_index(drop=True), d / "plots", name)
    for p in paths:
        print(p)
    return 0


def register(sub: Any) -> None:
    """Add ``run``, ``schema``, ``scenarios`` and ``plot`` to the ``openweight-sim`` parser."""
    p = sub.add_parser("run", help="run a scenario and write results and plots")
    p.add_argument("scenario", help="bundled name (see `scenarios`) or path to a YAML file")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a parameter")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument(
        "--replications",
        type=int,
        default=1,
        help="runs with seeds spawned from --seed (default 1); >1 adds bands and fan charts",
    )
    p.add_argument("--out", help="results directory (default results/<scenario>)")
    add_force_flag(p)
    add_executor_arguments(p)
    add_posterior_arguments(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("schema", help="print the scenario JSON Schema")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("scenarios", help="list bundled scenarios")
    p.set_defaults(func=cmd_scenarios)
    p = sub.add_parser("plot", help="redraw the plots of a results directory")
    p.add_argument("results_dir")
    p.set_defaults(func=cmd_plot)

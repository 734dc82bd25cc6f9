"""``openweight-sim run``, ``plot``, ``schema`` and ``scenarios``."""

from __future__ import annotations

import argparse
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
        history = scenario.history_until if scenario.history else None
        if args.replications > 1:
            write_table(bands(allq), tmp, "bands")
            plot_fans(allq, tmp / "plots", scenario.name, history)
        plot_run(first, tmp / "plots", scenario.name, history=history)
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


def cmd_plot(args: argparse.Namespace) -> int:
    """Redraw the figures of a results directory of any kind (see :mod:`openweight_sim.redraw`)."""
    from openweight_sim.redraw import redraw

    for p in redraw(args.results_dir):
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
    p = sub.add_parser(
        "plot",
        help="redraw the figures of a results directory (run, compare, validate, sweep, analyze)",
    )
    p.add_argument("results_dir")
    p.set_defaults(func=cmd_plot)

"""Command line: ``openweight-sim run | compare | sweep | analyze | validate | ...``.

Every command validates its input before writing anything. Bad input exits with status 2
and one line ``error: <file>: <field>: <problem>`` on stderr, with no traceback and no
results directory left behind (results are written to a temporary name, then renamed).
Command groups living in other modules register themselves through ``register(sub)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from openweight_sim import __version__
from openweight_sim.clierrors import guard_main, validate_numbers
from openweight_sim.outdir import add_force_flag, out_dir_for
from openweight_sim.scenario import (
    Scenario,
    ScenarioError,
    bundled_names,
    load_scenario,
    parse_override,
    scenario_json_schema,
)

PLUGINS = (
    "openweight_sim.experiments.commands",
    "openweight_sim.calibration.commands",
    "openweight_sim.dashboard",
)
SUMMARY_COLUMNS = {
    "price_closed": ("Closed API price", "USD/M"),
    "price_open_hosted": ("Hosted open price", "USD/M"),
    "price_gpt4_level": ("GPT-4-level price", "USD/M"),
    "share_open_tokens": ("Open share of tokens", ""),
    "share_open_tokens_cn": ("CN open share of tokens", ""),
    "share_open_spend": ("Open share of spend", ""),
    "quality_gap": ("Quality gap", "Elo"),
    "closed_gross_margin": ("Closed gross margin", ""),
    "meta_net_payoff": ("Meta net payoff", "USD bn/q"),
}


class CliError(Exception):
    """A usage problem reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{self.prog}: {message}")


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """Parse ``--set PATH=VALUE`` options into an overrides mapping."""
    return dict(parse_override(s) for s in (getattr(args, "set", None) or []))


def year_end_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of each year's last quarter (Q4), or the final quarter if the run ends earlier."""
    q4 = df[df["quarter"].str.endswith("Q4")]
    if df["quarter"].iloc[-1] not in set(q4["quarter"]):
        q4 = pd.concat([q4, df.tail(1)])
    return q4


def summary_table(df: pd.DataFrame) -> str:
    """A short text table of the key outputs at each year's end."""
    rows = year_end_rows(df)
    lines = [f"{'':28}" + "".join(f"{q:>10}" for q in rows["quarter"])]
    for col, (label, unit) in SUMMARY_COLUMNS.items():
        vals = rows[col].to_numpy(dtype=float)
        if col == "meta_net_payoff":
            vals = vals / 1e9
        name = f"{label} ({unit})" if unit else label
        fmt = "{:>10.3g}" if unit else "{:>10.1%}"
        cells = "".join("{:>10}".format("–") if pd.isna(v) else fmt.format(v) for v in vals)
        lines.append(f"{name:28}{cells}")
    return "\n".join(lines)


def metadata(scenario: Scenario, seeds: dict[str, Any], command: str) -> dict[str, Any]:
    """What a results directory needs to be reproduced."""
    import mesa
    import numpy as np

    return {
        "openweight_sim_version": __version__,
        "command": command,
        "created_unix": time.time(),
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "seeds": seeds,
        "scenario": scenario.model_dump(mode="json"),
    }


def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario (optionally replicated) and write tables, metadata and plots."""
    from openweight_sim.io import atomic_dir, write_json, write_table
    from openweight_sim.model import OpenWeightMarket
    from openweight_sim.plots import plot_run
    from openweight_sim.seeds import spawn_seeds

    if args.replications < 1:
        raise CliError("run: --replications must be >= 1")
    scenario = load_scenario(args.scenario, overrides_from(args))
    out = out_dir_for(args, Path("results") / scenario.name, "run")
    seeds = spawn_seeds(args.seed, args.replications)
    started = time.perf_counter()
    with atomic_dir(out, "run") as tmp:
        frames = []
        for i, s in enumerate(seeds):
            model = OpenWeightMarket(scenario, rng=s).run_model()
            df = model.quarters_frame()
            if i == 0:
                first = df
                write_table(model.labs_frame(), tmp, "labs")
                write_table(model.hosts_frame(), tmp, "hosts")
                write_table(model.offers_frame(), tmp, "offers")
                write_table(model.releases_frame(), tmp, "releases")
            df.insert(0, "seed", s)
            df.insert(0, "replication", i)
            frames.append(df)
        allq = pd.concat(frames, ignore_index=True)
        write_table(allq, tmp, "quarters")
        if args.replications > 1:
            from openweight_sim.experiments.replicate import bands

            write_table(bands(allq), tmp, "bands")
            try:
                from openweight_sim.experiments.plots import plot_fans
            except ImportError:  # pragma: no cover - fan charts arrive with experiments
                plot_fans = None
            if plot_fans is not None:
                plot_fans(allq, tmp / "plots", scenario.name)
        plot_run(first, tmp / "plots", scenario.name)
        seeds_meta = {"root": args.seed, "replications": args.replications, "run_seeds": seeds}
        write_json(tmp / "metadata.json", metadata(scenario, seeds_meta, " ".join(sys.argv)))
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
    print(f"results: {out}/ (quarters.csv, labs.csv, hosts.csv, offers.csv, plots/*.png)")
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
    """Redraw the plots of a results directory."""
    from openweight_sim.plots import plot_run

    d = Path(args.results_dir)
    path = d / "quarters.csv"
    if not path.exists():
        raise ScenarioError(str(d), "", "no quarters.csv here (not a results directory)")
    df = pd.read_csv(path)
    if "replication" in df:
        df = df[df["replication"] == df["replication"].min()]
    name = d.name
    meta = d / "metadata.json"
    if meta.exists():
        name = json.loads(meta.read_text()).get("scenario", {}).get("name", name)
    for p in plot_run(df.reset_index(drop=True), d / "plots", name):
        print(p)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``openweight-sim`` argument parser with every subcommand."""
    parser = _Parser(
        prog="openweight-sim",
        description="Agent-based simulation of the AI model market (open weights, hosting "
        "price competition, the commoditize-your-complement thesis).",
    )
    parser.add_argument("--version", action="version", version=f"openweight-sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="run a scenario and write results and plots")
    p.add_argument("scenario", help="bundled name (see `scenarios`) or path to a YAML file")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a parameter")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument("--replications", type=int, default=1)
    p.add_argument("--out", help="results directory (default results/<scenario>)")
    add_force_flag(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("schema", help="print the scenario JSON Schema")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("scenarios", help="list bundled scenarios")
    p.set_defaults(func=cmd_scenarios)
    p = sub.add_parser("plot", help="redraw the plots of a results directory")
    p.add_argument("results_dir")
    p.set_defaults(func=cmd_plot)

    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not exc.name or not name.startswith(exc.name):
                raise
            continue
        module.register(sub)
    return validate_numbers(parser)


@guard_main
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``openweight-sim`` console script."""
    import matplotlib

    matplotlib.use("Agg")  # the CLI only writes files; notebooks keep their own backend
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

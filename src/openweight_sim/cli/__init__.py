"""Command line: ``openweight-sim run | compare | sweep | analyze | validate | ...``.

Every command validates its input before writing anything. Bad input exits with status 2
and one line ``error: <file>: <field>: <problem>`` on stderr, with no traceback and no
results directory left behind (results are written to a temporary name, then renamed).

Each command group lives in its own module with a ``register(sub)`` function, and
:func:`build_parser` registers them explicitly: :mod:`~openweight_sim.cli.run` (``run``,
``schema``, ``scenarios``, ``plot``), :mod:`~openweight_sim.cli.experiments` (``compare``,
``sweep``, ``analyze``), :mod:`~openweight_sim.cli.meta` (``meta``),
:mod:`~openweight_sim.cli.calibration` (``validate``,
``calibrate``) and :mod:`openweight_sim.dashboard` (``dashboard``). The command modules
import their shared pieces from :mod:`~openweight_sim.cli.common`, never this package.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from openweight_sim import __version__, dashboard
from openweight_sim.cli import calibration, experiments, meta, posterior, run
from openweight_sim.cli.common import (
    CliError,
    _Parser,
    check_executor_options,
    metadata,
    overrides_from,
)
from openweight_sim.cli.run import SUMMARY_COLUMNS, summary_table, year_end_rows
from openweight_sim.clierrors import guard_main, validate_numbers
from openweight_sim.scenario import ScenarioError

__all__ = [
    "SUMMARY_COLUMNS",
    "CliError",
    "build_parser",
    "main",
    "metadata",
    "overrides_from",
    "summary_table",
    "year_end_rows",
]

COMMAND_GROUPS = (run, experiments, meta, calibration, posterior, dashboard)
"""Modules whose ``register(sub)`` adds their subcommands, in ``--help`` order."""


def build_parser() -> argparse.ArgumentParser:
    """The ``openweight-sim`` argument parser with every subcommand."""
    parser = _Parser(
        prog="openweight-sim",
        description="Agent-based simulation of the AI model market (open weights, hosting "
        "price competition, the commoditize-your-complement thesis).",
    )
    parser.add_argument("--version", action="version", version=f"openweight-sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    for group in COMMAND_GROUPS:
        group.register(sub)
    return validate_numbers(parser)


@guard_main
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``openweight-sim`` console script."""
    import matplotlib

    matplotlib.use("Agg")  # the CLI only writes files; notebooks keep their own backend
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if hasattr(args, "executor"):
            check_executor_options(args)  # before anything is written
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

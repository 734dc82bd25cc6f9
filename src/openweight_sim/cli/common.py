"""Shared pieces of the command line: the one-line error, the parser, overrides, metadata.

Every command validates its input before writing anything. Bad input exits with status 2
and one line ``error: <file>: <field>: <problem>`` on stderr, with no traceback and no
results directory left behind (results are written to a temporary name, then renamed).
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

from openweight_sim import __version__
from openweight_sim.experiments.executors import EXECUTORS
from openweight_sim.scenario import Scenario, parse_override


class CliError(Exception):
    """A usage problem reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{self.prog}: {message}")


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """Parse ``--set PATH=VALUE`` options into an overrides mapping."""
    return dict(parse_override(s) for s in (getattr(args, "set", None) or []))


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers`` and ``--scheduler``: where a command's runs go."""
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="serial",
        help="serial (default), processes (local process pool), dask; same results for all",
    )
    p.add_argument("--workers", type=int, help="processes or Dask workers (default: CPUs)")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running Dask scheduler (implies --executor dask)",
    )


def check_executor_options(args: argparse.Namespace) -> None:
    """Refuse executor options that would be silently ignored (one line, exit status 2)."""
    cluster = getattr(args, "scheduler", None) or getattr(args, "scheduler_file", None)
    if cluster and args.executor == "processes":
        raise CliError("--scheduler sends the runs to a Dask cluster; drop --executor processes")
    if args.workers is not None and args.executor == "serial" and not cluster:
        raise CliError("--workers needs --executor processes or dask (serial runs use one worker)")


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The executor options of :func:`add_executor_arguments` as keyword arguments.

    ``main`` has already refused combinations that would be ignored
    (:func:`check_executor_options`).
    """
    return {"executor": args.executor, "workers": args.workers, "scheduler": args.scheduler}


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

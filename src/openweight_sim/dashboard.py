"""``openweight-sim dashboard``: serve the interactive dashboard (:mod:`openweight_sim.app`).

This module is imported by every CLI call, so it stays light: Solara and Mesa's
visualization are imported only by the server process it starts.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import subprocess
import sys

APP_MODULE = "openweight_sim.app"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

OFFLINE_ENV = {
    # Serve Solara's front-end (/_solara/cdn/...) from the installed solara-assets package.
    "SOLARA_ASSETS_PROXY": "True",
    # No usage telemetry: the dashboard must not call out to the internet.
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
}
"""Environment of the server process: everything local, nothing sent out."""


def server_command(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> list[str]:
    """The command line that serves the dashboard with ``solara run``.

    Args:
        host: interface to listen on (default loopback only).
        port: TCP port.
    """
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        APP_MODULE,
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
        "--no-check-version",  # no call to PyPI at start-up
    ]


def server_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: ``base`` (default: this process's) plus :data:`OFFLINE_ENV`."""
    env = dict(os.environ if base is None else base)
    env.update(OFFLINE_ENV)
    return env


def _major(package: str) -> int | None:
    try:
        return int(importlib.metadata.version(package).split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None


def preflight() -> str | None:
    """What would keep the dashboard from working, or None.

    Mesa 3.5's SolaraViz lays its plots out with a Vue 2 grid: with ipyvue/ipyvuetify 2 or
    later (Vue 3) the page shows the sidebar and no plots (mesa issue #3806). Mesa's
    visualization also imports altair.
    """
    for package in ("ipyvue", "ipyvuetify"):
        major = _major(package)
        if major is not None and major >= 2:
            return (
                f"the dashboard needs {package}<2 (Mesa's SolaraViz plot grid is Vue 2 only); "
                "run: pip install 'ipyvue<2' 'ipyvuetify<2'"
            )
    for module in ("solara", "altair"):
        if importlib.util.find_spec(module) is None:
            return f"the dashboard needs {module}; run: pip install {module}"
    return None


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Run the dashboard server until interrupted; returns its exit status."""
    problem = preflight()
    if problem:
        print(f"error: dashboard: {problem}", file=sys.stderr)
        return 2
    cmd = server_command(args.host, args.port)
    print(f"openweight-sim dashboard: http://{args.host}:{args.port}  (Ctrl-C to stop)")
    sys.stdout.flush()
    proc = subprocess.Popen(cmd, env=server_env())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 130


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``dashboard`` subcommand to the CLI."""
    p = subparsers.add_parser(
        "dashboard",
        help="serve the interactive dashboard (Mesa SolaraViz, works offline)",
        description="Serve the interactive dashboard: pick a scenario, move sliders, step or "
        "play the model and compare with the no-open-weights counterfactual. Works without "
        "internet access.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"interface (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.set_defaults(func=cmd_dashboard)

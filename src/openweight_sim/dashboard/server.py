"""``openweight-sim dashboard``: serve the interactive dashboard (:mod:`openweight_sim.app`).

The command runs ``solara run`` as a child process and stays its parent until the server
ends: Ctrl-C (SIGINT), SIGTERM and SIGHUP stop the child (SIGTERM, then SIGKILL after
:data:`STOP_TIMEOUT_S`) before the command returns, and on Linux the kernel kills the child
if the command itself is killed, so no server is left holding the port.

This module is imported by every CLI call, so it stays light: Solara and Mesa's
visualization are imported only by the server process it starts.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from openweight_sim.processes import set_parent_death_signal

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

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that stop the dashboard (besides SIGINT, which Python raises as KeyboardInterrupt)."""

STOP_TIMEOUT_S = 10.0
"""How long the server may take to stop on SIGTERM before it is killed."""


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


def address_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (checked before starting it), or None."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return f"--host {host}: not an address of this machine ({exc})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            return f"--host {host} --port {port}: cannot listen there ({reason}); choose another"
    return None


class Stopped(Exception):
    """The dashboard command received a stop signal (SIGTERM or SIGHUP)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, _frame: object) -> None:
    raise Stopped(signum)


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Inside the block, SIGTERM and SIGHUP raise :class:`Stopped` (main thread only)."""
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server process: SIGTERM, then SIGKILL if it is still up after a while."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _child_setup() -> None:  # pragma: no cover - runs in the child, before exec
    set_parent_death_signal(signal.SIGTERM)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Run the dashboard server until it ends or is stopped; returns its exit status.

    Stopped by Ctrl-C the status is 130; by SIGTERM or SIGHUP, 128 + the signal number,
    as a shell reports a process killed by it.
    """
    problem = preflight() or address_problem(args.host, args.port)
    if problem:
        print(f"error: dashboard: {problem}", file=sys.stderr)
        return 2
    cmd = server_command(args.host, args.port)
    print(f"openweight-sim dashboard: http://{args.host}:{args.port}  (Ctrl-C to stop)")
    sys.stdout.flush()
    proc = None
    try:
        with stop_signals_raise():
            proc = subprocess.Popen(cmd, env=server_env(), preexec_fn=_child_setup)
            return proc.wait()
    except KeyboardInterrupt:
        return 130
    except Stopped as stop:
        return 128 + stop.signum
    finally:
        if proc is not None:
            stop_server(proc)


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

"""Regenerate docs/dashboard.png: the dashboard after a full baseline run, in Chromium.

Usage (from the repository root; ``make dashboard-screenshot`` runs exactly this)::

    python scripts/dashboard_screenshot.py [--out docs/dashboard.png]

Starts the dashboard server as ``openweight-sim dashboard`` does (127.0.0.1, a free port),
opens it in Debian's headless chromium (``apt-get install -y chromium``) through
Playwright, plays the baseline to its last quarter with the no-open-weights counterfactual
overlaid, and writes a screenshot of the whole page. Needs no internet access.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from openweight_sim.dashboard import server_command, server_env
from openweight_sim.dashboard.server import stop_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1600, "height": 1450}
WAIT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"error: dashboard server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"error: dashboard server not up after {timeout_s:.0f} s")


def _shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            page.wait_for_selector("text=not started")
            page.get_by_role("button", name="▶").click()
            page.wait_for_selector("text=(quarter 20 of 20)")
            page.wait_for_timeout(3000)  # the last redraw of every panel
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    """Serve the dashboard, screenshot it after a full run, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM}: not installed (apt-get install -y chromium)", file=sys.stderr)
        return 2
    port = _free_port()
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.Popen(
            server_command("127.0.0.1", port),
            env=server_env(),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            _wait_until_up(url, proc)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            _shoot(url, args.out)
        finally:
            stop_server(proc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

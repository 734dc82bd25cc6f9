"""End-to-end: the dashboard served by ``solara run`` in Debian's headless Chromium, offline.

Starts the server exactly as ``openweight-sim dashboard`` does (on 127.0.0.1, a free port),
drives Chromium through Playwright, steps the model, moves a slider, and checks that the
plots change, that every request stayed on 127.0.0.1 and that no asset failed to load.
Writes a screenshot of the page to ``tmp_path/dashboard.png``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", None}  # None: data: and blob: URLs
PLOTS = ("lab-shares", "open-share", "prices", "quality-gap", "meta-payoff")
WAIT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (/usr/bin/chromium); "
        "`apt-get install -y chromium` (.ci/run does it)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """The dashboard server on 127.0.0.1 and a free port; terminated afterwards."""
    from openweight_sim.dashboard import server_command, server_env

    port = _free_port()
    cwd = tmp_path_factory.mktemp("dashboard-server")
    log = (cwd / "server.log").open("wb")
    proc = subprocess.Popen(
        server_command("127.0.0.1", port),
        env=server_env(),
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"server exited ({proc.returncode}): {(cwd / 'server.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not up after 90 s: {(cwd / 'server.log').read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def _plot_images(page) -> dict[str, bytes]:
    """The pixels of each plot panel, as shown (retried while a panel is being redrawn)."""
    shots = {}
    for name in PLOTS:
        for attempt in range(5):
            try:
                shots[name] = page.locator(f"img.owsim-plot-{name}").screenshot(timeout=10_000)
                break
            except Exception:
                if attempt == 4:
                    raise
                page.wait_for_timeout(500)
    return shots


def _quarter(page) -> int:
    """The number of quarters simulated, read from the summary card."""
    text = page.locator(".owsim-summary").inner_text()
    match = re.search(r"quarter (\d+) of 20", text)
    return int(match.group(1)) if match else 0


def _step_to(page, quarter: int) -> None:
    """Press Step until the summary says ``quarter N of 20``."""
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(f"text=(quarter {quarter} of 20)", timeout=WAIT_MS)


@pytest.mark.timeout(240)
def test_dashboard_offline_in_chromium(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    failed: list[tuple[str, str | None]] = []
    http_errors: list[tuple[int, str]] = []
    page_errors: list[str] = []

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1450})
            page.set_default_timeout(WAIT_MS)
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append((r.url, r.failure)))
            page.on(
                "response",
                lambda r: http_errors.append((r.status, r.url)) if r.status >= 400 else None,
            )
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            page.goto(server, timeout=WAIT_MS)
            # The page first shows "Loading app" while the websocket connects.
            page.wait_for_selector("text=Model Parameters")
            page.wait_for_selector("text=Price sensitivity (×)")
            for name in PLOTS:
                page.wait_for_selector(f"img.owsim-plot-{name}")
            page.wait_for_selector("text=not started")
            empty = _plot_images(page)

            # Step: the plots fill in.
            _step_to(page, 1)
            _step_to(page, 2)
            page.wait_for_timeout(500)
            baseline_q2 = _plot_images(page)
            for name in PLOTS:
                assert baseline_q2[name] != empty[name], f"{name} did not change when stepping"

            # Move the price-sensitivity slider up five steps of 0.1 with the keyboard (from
            # the calibrated baseline value, snapped to the slider's grid), then Reset.
            slider = page.locator(
                ".v-input", has=page.locator("label", has_text="Price sensitivity")
            )
            thumb = slider.locator("[role=slider]")
            before = thumb.get_attribute("aria-valuenow")
            thumb.focus()
            for _ in range(5):
                page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "([el, v]) => el.getAttribute('aria-valuenow') !== v",
                arg=[thumb.element_handle(), before],
            )
            moved = round(float(before) + 0.5, 1)
            assert float(thumb.get_attribute("aria-valuenow")) == pytest.approx(moved)
            page.get_by_role("button", name="Reset").click()
            page.wait_for_selector("text=not started")
            page.wait_for_selector(f"b:has-text('Price sensitivity: ×{moved:.1f}')")

            _step_to(page, 1)
            _step_to(page, 2)
            page.wait_for_timeout(500)
            moved_q2 = _plot_images(page)
            changed = [name for name in PLOTS if moved_q2[name] != baseline_q2[name]]
            assert "prices" in changed or "lab-shares" in changed, (
                f"no price or share plot responded to the slider (changed: {changed})"
            )

            # Play a few quarters, then pause: the run stops where it is.
            page.get_by_role("button", name="▶").click()
            page.wait_for_selector("text=(quarter 5 of 20)", timeout=60_000)
            page.get_by_role("button", name="❚❚").click()
            page.wait_for_selector("button:has-text('▶')")
            page.wait_for_timeout(1500)
            paused_at = _quarter(page)
            page.wait_for_timeout(1500)
            assert _quarter(page) == paused_at >= 5
            played = _plot_images(page)
            for name in PLOTS:
                assert played[name] != moved_q2[name], f"{name} did not change when playing"
            page.screenshot(path=str(tmp_path / "dashboard.png"))
            assert (tmp_path / "dashboard.png").stat().st_size > 50_000
        finally:
            browser.close()

    external = sorted({u for u in requests if urlparse(u).hostname not in LOCAL_HOSTS})
    assert not external, f"requests left 127.0.0.1: {external[:5]}"
    assert not failed, f"failed requests: {failed[:5]}"
    assert not http_errors, f"HTTP errors: {http_errors[:5]}"
    assert not page_errors, f"errors in the page: {page_errors[:5]}"
    if os.environ.get("OWSIM_DASHBOARD_SCREENSHOT"):
        Path(os.environ["OWSIM_DASHBOARD_SCREENSHOT"]).write_bytes(
            (tmp_path / "dashboard.png").read_bytes()
        )

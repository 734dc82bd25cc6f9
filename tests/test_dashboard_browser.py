"""End-to-end: the dashboard served by ``solara run`` in Debian's headless Chromium, offline.

Starts the server exactly as ``openweight-sim dashboard`` does (on 127.0.0.1, a free port),
drives Chromium through Playwright, steps the model, presses Reset without touching anything
(every slider keeps the baseline's exact value), moves a slider, and checks that the plots
change, that every request stayed on 127.0.0.1 and that no asset failed to load. Writes its
screenshot to pytest's temporary directory only; ``docs/dashboard.png`` is made by
``make dashboard-screenshot`` (scripts/dashboard_screenshot.py).

Without Debian's chromium (or Playwright) the test is skipped locally but fails in CI
(``CI`` set, as ``.ci/run`` does), so a CI machine cannot silently skip it.
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

from openweight_sim.scenario import load_scenario

CHROMIUM = Path(os.environ.get("OWSIM_CHROMIUM", "/usr/bin/chromium"))
"""Debian's chromium (``OWSIM_CHROMIUM`` names another binary)."""
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

pytestmark = pytest.mark.browser


def _missing(what: str) -> None:
    """Skip locally; fail in CI, where the browser test must run."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{what} (required in CI)", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's chromium (skipped without it locally, failed in CI)."""
    if not CHROMIUM.exists():
        _missing(
            f"Debian's chromium is not installed ({CHROMIUM}); "
            "`apt-get install -y chromium` (.ci/run does it)"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def sync_api(chromium: Path):
    """Playwright's synchronous API (skipped without it locally, failed in CI)."""
    try:
        from playwright import sync_api
    except ImportError:
        _missing("playwright is not installed (pip install playwright)")
    return sync_api


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, chromium: Path):
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


def _calibrated_range(column: str, quarter: str) -> str:
    """The summary card's "calibrated range" cell, from the bundled posterior's bands."""
    from openweight_sim.dashboard.summary import HEADLINES, posterior_bands

    bands = posterior_bands("baseline")
    row = bands[(bands["column"] == column) & (bands["quarter"] == quarter)].iloc[0]
    fmt = {c: f for c, _, f in HEADLINES}[column]
    return f"{fmt(float(row['lo']))}–{fmt(float(row['hi']))}"


def _quarter(page) -> int:
    """The number of quarters simulated, read from the summary card."""
    text = page.locator(".owsim-summary").inner_text()
    match = re.search(r"quarter (\d+) of 20", text)
    return int(match.group(1)) if match else 0


def _step_to(page, quarter: int) -> None:
    """Press Step until the summary says ``quarter N of 20``."""
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(f"text=(quarter {quarter} of 20)", timeout=WAIT_MS)


def _reset_keeps_the_baseline(page):
    """Reset without touching anything: the calibrated values stay exactly as they are.

    The sliders once snapped 1.331 to 1.3 and 1.664 to 1.7 and marked them as changed from
    the baseline. Returns the price-sensitivity slider's thumb.
    """
    ps = f"{load_scenario('baseline').developers.price_sensitivity:g}"  # the calibrated value
    slider = page.locator(".v-input", has=page.locator("label", has_text="Price sensitivity"))
    thumb = slider.locator("[role=slider]")
    assert thumb.get_attribute("aria-valuenow") == ps
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector("text=not started")
    page.wait_for_timeout(500)
    assert thumb.get_attribute("aria-valuenow") == ps
    settings = page.locator(".owsim-settings")
    assert f"price sensitivity: ×{ps}" in settings.inner_text()
    switching = f"{load_scenario('baseline').developers.switching_cost:g}"
    assert f"Cost of switching model family: {switching}" in settings.inner_text()
    assert settings.locator("b").count() == 1  # only the legend's "bold = changed"
    return thumb


def _play_and_pause(page) -> None:
    """Play a few quarters, then pause: the run stops where it is."""
    page.get_by_role("button", name="▶").click()
    page.wait_for_selector("text=(quarter 5 of 20)", timeout=60_000)
    page.get_by_role("button", name="❚❚").click()
    page.wait_for_selector("button:has-text('▶')")
    page.wait_for_timeout(1500)
    paused_at = _quarter(page)
    page.wait_for_timeout(1500)
    assert _quarter(page) == paused_at >= 5


@pytest.mark.timeout(240)
def test_dashboard_offline_in_chromium(server: str, sync_api, chromium: Path, tmp_path: Path):
    requests: list[str] = []
    failed: list[tuple[str, str | None]] = []
    http_errors: list[tuple[int, str]] = []
    page_errors: list[str] = []

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS
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
            # the summary card shows the bundled posterior's range for this quarter
            headlines = page.locator(".owsim-headlines").inner_text()
            assert "Calibrated range, 95%" in headlines
            assert _calibrated_range("price_closed", "2023Q2") in headlines

            thumb = _reset_keeps_the_baseline(page)

            # Move the price-sensitivity slider to its maximum with the keyboard, then Reset.
            thumb.focus()
            page.keyboard.press("End")
            ps = f"{load_scenario('baseline').developers.price_sensitivity:g}"
            page.wait_for_function(
                f"el => el.getAttribute('aria-valuenow') !== '{ps}'", arg=thumb.element_handle()
            )
            moved = float(thumb.get_attribute("aria-valuenow"))
            assert moved == 2.0
            page.get_by_role("button", name="Reset").click()
            page.wait_for_selector("text=not started")
            page.wait_for_selector(f"b:has-text('Price sensitivity: ×{moved:g}')")

            _step_to(page, 1)
            _step_to(page, 2)
            page.wait_for_timeout(500)
            moved_q2 = _plot_images(page)
            changed = [name for name in PLOTS if moved_q2[name] != baseline_q2[name]]
            assert "prices" in changed or "lab-shares" in changed, (
                f"no price or share plot responded to the slider (changed: {changed})"
            )

            _play_and_pause(page)
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

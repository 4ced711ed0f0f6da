"""A real browser drives the running app: headless Chromium through chromedriver.

It signs in, edits an SLO objective and saves; the new version must be in the SLO store.
Screenshots of the overview and the detail page are kept under `test-artifacts/`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from slopipe.config import load_settings
from slopipe.slo.store import SloStore
from tests.ui.conftest import EDITORS, subprocess_env

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SLO = "checkout-latency"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
        reason="needs Debian's chromium and chromium-driver (make test installs them)",
    ),
]
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(ui_config: Path, tmp_path: Path):
    """`slopipe ui` on a free loopback port, in its own process group."""
    port = _free_port()
    env = subprocess_env()
    command = [sys.executable, "-m", "slopipe.cli.main", "ui", "--port", str(port)]
    log = (tmp_path / "streamlit.log").open("w")
    process = subprocess.Popen(
        [*command, "--config", str(ui_config)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "slopipe ui exited early"
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"slopipe ui did not become healthy at {url}")


@pytest.fixture
def browser(tmp_path: Path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1600,1300",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    # An explicit driver path: selenium-manager must not download anything.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_text(driver, text: str, seconds: float = 90) -> None:
    WebDriverWait(driver, seconds).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), text)
    )


def _wait_idle(driver, seconds: float = 90) -> None:
    """Until Streamlit has finished running the script (no status widget saying Running)."""
    time.sleep(0.5)
    WebDriverWait(driver, seconds).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
    )


def _input(driver, label: str):
    return WebDriverWait(driver, 60).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, f'input[aria-label="{label}"]'))
    )


def _button(driver, text: str):
    xpath = f'//button[.//p[normalize-space()="{text}"] or normalize-space()="{text}"]'
    return WebDriverWait(driver, 60).until(ec.element_to_be_clickable((By.XPATH, xpath)))


def _charts_drawn(driver, at_least: int, seconds: float = 90) -> None:
    WebDriverWait(driver, seconds).until(
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, ".vega-embed canvas, .vega-embed svg")) >= at_least
        )
    )


def test_an_editor_signs_in_edits_an_objective_and_the_store_has_the_new_version(
    server, browser, ui_config
):
    ARTIFACTS.mkdir(exist_ok=True)

    # The overview, as a viewer sees it
    browser.get(f"{server}/?page=overview")
    _wait_text(browser, "SLO overview")
    _wait_text(browser, "3 of 3 SLO objectives")
    _charts_drawn(browser, 1)
    _wait_idle(browser)
    browser.save_screenshot(str(ARTIFACTS / "ui-overview.png"))

    # The detail page of one SLO
    browser.get(f"{server}/?page=detail&slo={SLO}")
    _wait_text(browser, "Alert history", seconds=120)
    _charts_drawn(browser, 6)
    _wait_idle(browser, seconds=120)
    browser.save_screenshot(str(ARTIFACTS / "ui-detail.png"))

    # Sign in as an editor on the edit page
    browser.get(f"{server}/?page=edit&slo={SLO}")
    _wait_text(browser, "Edit SLO")
    _input(browser, "Editor name").send_keys("ann")
    _input(browser, "Password").send_keys(EDITORS["ann"])
    _button(browser, "Sign in").click()
    _wait_text(browser, "Signed in as")

    # Change the objective from 99 % to 98.5 %, see the preview, give a reason, save
    objective = _input(browser, "Objective % (p99 under 300 ms)")
    objective.send_keys(Keys.CONTROL, "a")
    objective.send_keys("98.5", Keys.TAB)
    _wait_text(browser, "What if", seconds=120)
    _wait_text(browser, "budget left now", seconds=120)  # the replay is done
    _wait_idle(browser, seconds=120)
    reason = _input(browser, "Reason for the change (required)")
    reason.send_keys("p99 tolerates one more slow slice in 200", Keys.TAB)
    _wait_idle(browser)
    _button(browser, "Save as a new version (after 1)").click()
    _wait_text(browser, f"Saved {SLO} version 2 by ann")
    browser.save_screenshot(str(ARTIFACTS / "ui-edit-saved.png"))

    store = SloStore(load_settings(ui_config).slo_db_url)
    newest = store.history(SLO)[-1]
    assert (newest.version, newest.author) == (2, "ann")
    assert newest.reason == "p99 tolerates one more slow slice in 200"
    assert newest.document["spec"]["objectives"][0]["target"] == pytest.approx(0.985)

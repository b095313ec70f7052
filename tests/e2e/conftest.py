"""End-to-end fixtures: real `maas` processes training real Keras models on tiny data, and a headless Chromium
(Debian's `chromium` + `chromium-driver`, driven by Selenium) for the dashboard's tests."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One embedded-mode service (API + 1 worker slot) shared by a module's tests."""
    data_dir = tmp_path_factory.mktemp("maas")
    srv = Server(data_dir / "data", data_dir / "server.log")
    yield srv
    srv.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server named by MAAS_TEST_DATABASE_URL (`.ci/run` starts one)."""
    base = os.environ.get("MAAS_TEST_DATABASE_URL")
    if not base:
        pytest.skip("MAAS_TEST_DATABASE_URL is not set: no PostgreSQL server to test against (.ci/run starts one)")
    import psycopg

    name = f"maas_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium per dashboard module; selenium is imported here, not at the top, so that the other
    end-to-end tests run without it."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("Chromium or chromedriver is missing: apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(driver: Any, condition: Any, timeout: float = 120) -> Any:
    """Wait until `condition` holds; the page re-renders as live data arrives, so an element found a moment
    ago may be gone: that only means "look again"."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(
        driver, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
    ).until(condition)


def screenshot(driver: Any, path: Path, *, copy_to: str = "MAAS_DASHBOARD_SCREENSHOT") -> None:
    """Save the page to `path` (a blank page would be smaller), and copy it where the `copy_to` variable says."""
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    if target := os.environ.get(copy_to):
        shutil.copyfile(path, target)


@pytest.fixture
def sourced(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """A server that may register datasets from the `sources` folder it is given with (MAAS_DATASET_SOURCES)."""
    sources = tmp_path / "sources"
    sources.mkdir()
    server = Server(tmp_path / "data", tmp_path / "server.log", MAAS_DATASET_SOURCES=f"file://{sources}/")
    yield server, sources
    server.stop()

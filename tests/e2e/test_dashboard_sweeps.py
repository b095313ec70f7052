"""The dashboard's Sweeps page in headless Chromium against a live `maas serve`: a tiny iris sweep watched from the
page until it ends; then one scatter point per finished trial on every parameter's plot (a log axis for the
learning rate, a column per optimizer), the best trial ringed and its row highlighted, the published version
shown. A screenshot goes to tmp_path (and to $MAAS_DASHBOARD_SWEEPS_SCREENSHOT when set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import screenshot, wait_for
from tests.e2e.server import Server
from tests.e2e.test_cli_sweeps import iris_sweep

pytestmark = pytest.mark.browser

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture
def sweep_id(server: Server) -> str:
    """A started three-trial iris sweep (it runs while the test watches it)."""
    response = server.http.post("/sweeps", json=iris_sweep("iris-sweep-ui", trials=3))
    assert response.status_code == 202, response.text
    return response.json()["id"]


def points(driver: Any, path: str) -> dict[int, str]:
    """The scatter points of one parameter's plot: trial number -> the point's classes."""
    circles = driver.find_elements(By.CSS_SELECTOR, f'svg.scatter[data-param="{path}"] circle.point')
    return {int(c.get_attribute("data-trial")): c.get_attribute("class") for c in circles}


def test_the_sweeps_page_plots_every_finished_trial_and_the_published_version(
    server: Server,
    browser: Any,
    sweep_id: str,
    tmp_path: Path,
) -> None:
    browser.get(f"{server.url}/ui/#/sweeps/{sweep_id}")  # opened while the sweep runs: the page polls it
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".sweep-header .status-succeeded"), timeout=240)
    done = server.http.get(f"/sweeps/{sweep_id}").json()
    finished = {t["number"]: t["state"] for t in done["trials"] if t["state"] in ("complete", "pruned")}
    best = done["best"]["number"]

    assert done["status"] == "succeeded" and len(finished) == 3
    for path in ("optimizer.learning_rate", "optimizer.name"):
        plotted = points(browser, path)
        assert set(plotted) == set(finished), path
        assert all(finished[trial] in classes.split() for trial, classes in plotted.items())
        assert "best" in plotted[best].split()
    learning_rate = browser.find_element(By.CSS_SELECTOR, 'svg.scatter[data-param="optimizer.learning_rate"]')
    optimizer = browser.find_element(By.CSS_SELECTOR, 'svg.scatter[data-param="optimizer.name"]')
    assert "log scale" in learning_rate.text
    assert {"adam", "rmsprop"} <= set(optimizer.text.split())
    assert browser.find_element(By.ID, "sweep-model").text == "published: iris-sweep-ui v1 production"
    header = browser.find_element(By.CSS_SELECTOR, "#trial-table thead").text.split()
    assert header == ["#", "STATE", "optimizer.learning_rate", "optimizer.name", "val_accuracy", "EPOCHS", "JOB"]
    best_row = browser.find_element(By.CSS_SELECTOR, "#trial-table tr.best")
    assert best_row.get_attribute("data-trial") == str(best)
    assert f"trial {best}, val_accuracy" in browser.find_element(By.ID, "sweep-best").text

    row = f'tr[data-sweep-id="{sweep_id}"]'  # the list refreshes on its own clock: wait for it to catch up
    wait_for(browser, lambda d: "succeeded" in d.find_element(By.CSS_SELECTOR, row).text)
    assert "iris-sweep-ui" in browser.find_element(By.CSS_SELECTOR, row).text
    screenshot(browser, tmp_path / "sweep.png", copy_to="MAAS_DASHBOARD_SWEEPS_SCREENSHOT")

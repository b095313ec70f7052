"""The web dashboard in headless Chromium (Debian's `chromium` + `chromium-driver`, driven by Selenium) against a
live `maas serve`: a job's loss curve drawn live and after the fact, the playground's predictions, moving an
alias, and the API-key prompt. Screenshots go to tmp_path (and to $MAAS_DASHBOARD_SCREENSHOT when set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import screenshot, wait_for
from tests.e2e.server import Server
from tests.support import iris_spec

pytestmark = pytest.mark.browser

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402

EPOCHS = 6


@pytest.fixture(scope="module")
def iris_job(server: Server) -> dict[str, Any]:
    """A queued iris job (it trains while the first test watches it)."""
    spec = iris_spec(EPOCHS, model_name="iris-ui", fit={"epochs": EPOCHS, "batch_size": 16, "validation_split": 0.2})
    return server.train(spec)


def curve_points(driver: Any, series: str) -> int:
    lines = driver.find_elements(By.CSS_SELECTOR, f'[data-chart="loss"] polyline[data-series="{series}"]')
    return len(lines[0].get_attribute("points").split()) if lines else 0


def test_the_jobs_page_draws_the_loss_curve_live_and_for_the_finished_job(
    server: Server, browser: Any, iris_job: dict[str, Any], tmp_path: Path
) -> None:
    browser.get(f"{server.url}/ui/#/jobs/{iris_job['id']}")  # opened while the job is queued or running
    wait_for(browser, lambda d: curve_points(d, "loss") == EPOCHS)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".job-header .status-succeeded"))
    server.wait_finished(iris_job["id"])

    browser.refresh()  # the finished job, drawn from scratch
    wait_for(browser, lambda d: curve_points(d, "loss") == EPOCHS and curve_points(d, "val_loss") == EPOCHS)
    row_text = wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-job-id="{iris_job["id"]}"]').text or None
    )
    assert "succeeded" in row_text and "iris-ui" in row_text and f"{EPOCHS}/{EPOCHS}" in row_text
    assert "v1" in browser.find_element(By.CSS_SELECTOR, ".job-header").text
    screenshot(browser, tmp_path / "jobs.png")


def test_the_playground_returns_a_prediction(server: Server, browser: Any, iris_job: dict[str, Any]) -> None:
    server.wait_finished(iris_job["id"])
    browser.get(f"{server.url}/ui/#/playground?model=iris-ui")
    wait_for(browser, lambda d: "setosa" in d.find_element(By.ID, "pg-info").text)
    instances = browser.find_element(By.ID, "pg-instances")
    instances.clear()
    instances.send_keys("[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]")
    browser.find_element(By.ID, "pg-predict").click()

    rows = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#pg-result tr.prediction"))
    classes = [row.find_element(By.CSS_SELECTOR, ".class").text for row in rows]
    assert len(classes) == 2 and set(classes) <= {"setosa", "versicolor", "virginica"}
    assert "iris-ui v1" in browser.find_element(By.ID, "pg-result").text


def test_the_models_page_points_an_alias_at_a_version(server: Server, browser: Any, iris_job: dict[str, Any]) -> None:
    server.wait_finished(iris_job["id"])
    browser.get(f"{server.url}/ui/#/models/iris-ui")
    form = wait_for(browser, lambda d: d.find_elements(By.ID, "alias-form"))[0]
    alias = form.find_element(By.NAME, "alias")
    alias.clear()
    alias.send_keys("production")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    wait_for(browser, lambda d: "production" in d.find_element(By.CSS_SELECTOR, "ul.aliases").text)
    assert server.http.get("/models/iris-ui").json()["aliases"] == {"production": 1}
    worst = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#drift tr[data-window='24']"))[0]
    assert "no data" in worst.text  # nothing logged yet: the drift card says so rather than fail


def test_a_401_asks_for_the_api_key_and_then_shows_the_data(browser: Any, tmp_path: Path) -> None:
    locked = Server(tmp_path / "data", tmp_path / "server.log", MAAS_API_KEYS="ui-key:admin", MAAS_WORKERS="0")
    try:
        browser.get(f"{locked.url}/ui/#/models")
        dialog = wait_for(browser, lambda d: d.find_element(By.ID, "key-dialog").get_attribute("open") is not None)
        assert dialog
        browser.find_element(By.ID, "key-input").send_keys("ui-key")
        browser.find_element(By.CSS_SELECTOR, "#key-form button[value=ok]").click()

        wait_for(browser, lambda d: "No models yet" in d.find_element(By.ID, "main").text)
        assert browser.execute_script("return sessionStorage.getItem('maas.apiKey')") == "ui-key"
    finally:
        locked.stop()

"""The dashboard's evaluation card in headless Chromium against a live `maas serve`: a digits model evaluated
through the real API, its confusion matrix drawn as a heat map whose cells read the evaluation's counts, beside
the version's metrics. A screenshot goes to tmp_path (and to $MAAS_DASHBOARD_SCREENSHOT when set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import screenshot, wait_for
from tests.e2e.server import Server
from tests.support import digits_spec

pytestmark = pytest.mark.browser

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402

LABELS = [str(digit) for digit in range(10)]


@pytest.fixture(scope="module")
def evaluation(server: Server) -> dict[str, Any]:
    """digits-ui v1 (2 epochs) and its finished evaluation on the whole digits set."""
    spec = digits_spec(model_name="digits-ui", fit={"epochs": 2, "batch_size": 64, "validation_split": 0.1})
    server.wait_finished(server.train(spec)["id"])
    response = server.http.post("/models/digits-ui/versions/1/evaluations", json={"dataset": {"builtin": "digits"}})
    assert response.status_code == 202, response.text
    server.wait_finished(response.json()["id"])
    [found] = server.http.get("/models/digits-ui/versions/1/evaluations").json()
    return found


def test_the_version_shows_its_confusion_matrix_as_a_heat_map(
    server: Server, browser: Any, evaluation: dict[str, Any], tmp_path: Path
) -> None:
    browser.get(f"{server.url}/ui/#/models/digits-ui?version=1")
    cells = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#evaluations svg.heatmap g.cell"))

    matrix = evaluation["confusion_matrix"]
    assert matrix["labels"] == LABELS
    shown = {(c.get_attribute("data-true"), c.get_attribute("data-predicted")): int(c.text) for c in cells}
    expected = {(t, p): matrix["matrix"][i][j] for i, t in enumerate(LABELS) for j, p in enumerate(LABELS)}
    assert shown == expected and sum(shown.values()) == 1797
    for axis in ("true", "predicted"):
        ticks = browser.find_elements(By.CSS_SELECTOR, f'#evaluations svg.heatmap text[data-axis="{axis}"]')
        assert [tick.text for tick in ticks] == LABELS

    card = browser.find_element(By.ID, "evaluations").text
    assert "builtin digits · 1797 rows" in card
    accuracy = browser.find_element(By.CSS_SELECTOR, '#evaluations tr[data-metric="accuracy"]').text.split()
    assert accuracy[0] == "accuracy" and float(accuracy[2]) == pytest.approx(evaluation["metrics"]["accuracy"], 1e-3)
    support = browser.find_element(By.CSS_SELECTOR, '#evaluations tr[data-class="3"]').text.split()[-1]
    assert int(support) == evaluation["per_class"]["3"]["support"] == sum(matrix["matrix"][3])
    screenshot(browser, tmp_path / "evaluation.png")

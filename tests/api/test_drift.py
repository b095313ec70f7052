"""Drift: inputs drawn from a version's training data are not drifted, inputs with one feature shifted by two
standard deviations are, naming that feature; the gauges and a signed `drift.detected` delivery follow the
standard check, on request and from the periodic check; bad windows, unknown versions and versions without a
baseline say what was wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.datasets.builtin import load_builtin
from app.main import create_app
from app.registry import open_registry
from app.settings import Settings
from app.webhooks.signing import verify
from tests.api.test_webhooks import SECRET, Receiver, subscribe

MODEL = "iris-mlp"
SHIFTED = 2  # petal length


@pytest.fixture(scope="module")
def iris_x() -> np.ndarray:
    return load_builtin("iris").x


def training_rows(x: np.ndarray, count: int = 600, seed: int = 0) -> np.ndarray:
    """Rows drawn (with replacement) from the training data."""
    return x[np.random.default_rng(seed).integers(0, len(x), count)]


def shifted_rows(x: np.ndarray) -> np.ndarray:
    rows = training_rows(x, seed=1).copy()
    rows[:, SHIFTED] += 2 * x[:, SHIFTED].std()
    return rows


def log_predictions(client: TestClient, version: int, rows: np.ndarray) -> None:
    assert client.put(f"/models/{MODEL}/monitoring", json={"log_sample_rate": 1.0}).status_code == 200
    for chunk in np.array_split(rows, 6):
        body = {"model": MODEL, "version": version, "instances": chunk.tolist()}
        assert client.post("/predict", json=body).status_code == 200


def drift(client: TestClient, version: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"/models/{MODEL}/versions/{version}/drift", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def app_client(trained_registry: Path, tmp_path: Path, **settings: Any) -> TestClient:
    data_dir = tmp_path / "data"
    shutil.copytree(trained_registry, data_dir)
    base = {"data_dir": data_dir, "workers": 0, "prewarm": False, "webhook_hosts": "127.0.0.1", "webhook_poll_s": 0.05}
    return TestClient(create_app(Settings(**(base | settings))))


def gauges(client: TestClient) -> dict[tuple[str, str, str], float]:
    found = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name in ("maas_drift_max_psi", "maas_drifted_features"):
            for sample in family.samples:
                found[(family.name, sample.labels["model"], sample.labels["version"])] = sample.value
    return found


def test_training_like_inputs_are_not_drifted_and_a_shifted_feature_is(served: TestClient, iris_x: np.ndarray) -> None:
    log_predictions(served, 1, training_rows(iris_x))
    calm = drift(served, 1)
    assert set(calm) >= {"baseline", "window", "features", "prediction_psi", "drifted"}
    dataset = served.get(f"/models/{MODEL}/versions/1").json()["dataset"]
    assert calm["baseline"] == {"dataset_sha256": dataset["sha256"], "rows": 150}
    assert set(calm["window"]) == {"from", "to", "rows"} and calm["window"]["rows"] == 600
    assert [f["feature"] for f in calm["features"]] == ["0", "1", "2", "3"]
    for feature in calm["features"]:
        assert feature["psi"] < 0.2 and feature["ks_pvalue"] > 0.01 and not feature["drifted"], feature
    assert calm["prediction_psi"] < 0.2 and calm["drifted"] is False

    log_predictions(served, 2, shifted_rows(iris_x))
    shifted = drift(served, 2)
    assert [f["feature"] for f in shifted["features"] if f["drifted"]] == [str(SHIFTED)]
    worst = shifted["features"][SHIFTED]
    assert worst["psi"] > 1 and worst["ks_statistic"] > 0.5 and worst["ks_pvalue"] < 1e-6
    assert shifted["drifted"] is True and isinstance(shifted["prediction_psi"], float)

    lenient = drift(served, 2, psi_threshold=1000)
    assert lenient["drifted"] is False and lenient["thresholds"] == {"psi": 1000, "ks_pvalue": None}
    strict = drift(served, 1, psi_threshold=1000, ks_pvalue_threshold=0.999)
    assert strict["drifted"] is True  # a p-value threshold near 1 calls even training-like inputs drifted


def test_the_gauges_say_each_versions_worst_psi_and_drifted_features(served: TestClient, iris_x: np.ndarray) -> None:
    log_predictions(served, 1, training_rows(iris_x))
    log_predictions(served, 2, shifted_rows(iris_x))
    assert gauges(served) == {}  # nothing checked yet
    calm, shifted = drift(served, 1), drift(served, 2)
    found = gauges(served)
    assert found[("maas_drift_max_psi", MODEL, "1")] == pytest.approx(max(f["psi"] for f in calm["features"]))
    assert found[("maas_drifted_features", MODEL, "1")] == 0
    assert found[("maas_drift_max_psi", MODEL, "2")] == pytest.approx(shifted["features"][SHIFTED]["psi"])
    assert found[("maas_drifted_features", MODEL, "2")] == 1
    drift(served, 1, hours=1, psi_threshold=0.0001)  # not the standard check: the gauges stay
    assert gauges(served) == found


def test_drift_turning_true_is_delivered_signed_once(
    trained_registry: Path, tmp_path: Path, iris_x: np.ndarray
) -> None:
    receiver = Receiver([])
    with app_client(trained_registry, tmp_path, drift_check_s=0) as client:
        hook = subscribe(client, receiver.url, ["drift.detected"])
        log_predictions(client, 1, training_rows(iris_x))
        assert drift(client, 1)["drifted"] is False
        assert client.get(f"/webhooks/{hook['id']}/deliveries").json() == []
        log_predictions(client, 1, shifted_rows(iris_x))
        assert drift(client, 1)["drifted"] is True
        headers, body, _ = receiver.next()
        assert verify(SECRET, body, headers["Maas-Signature"])
        event = json.loads(body)
        assert event["type"] == "drift.detected"
        assert (event["data"]["name"], event["data"]["version"], event["data"]["drifted"]) == (MODEL, 1, True)
        assert [f["feature"] for f in event["data"]["features"] if f["drifted"]] == [str(SHIFTED)]
        assert drift(client, 1)["drifted"] is True  # still drifted: no second event
        assert len(client.get(f"/webhooks/{hook['id']}/deliveries").json()) == 1


def test_the_periodic_check_notices_drift_without_a_request(
    trained_registry: Path, tmp_path: Path, iris_x: np.ndarray
) -> None:
    receiver = Receiver([])
    with app_client(trained_registry, tmp_path, drift_check_s=0.1) as client:
        subscribe(client, receiver.url, ["drift.detected"])
        log_predictions(client, 2, shifted_rows(iris_x))
        headers, body, _ = receiver.next()
        assert verify(SECRET, body, headers["Maas-Signature"])
        assert json.loads(body)["data"]["version"] == 2
        assert gauges(client)[("maas_drifted_features", MODEL, "2")] == 1


def test_a_window_without_logged_rows_has_null_statistics(served: TestClient) -> None:
    quiet = drift(served, 1)
    assert quiet["window"]["rows"] == 0 and quiet["drifted"] is False and quiet["prediction_psi"] is None
    assert all(f["psi"] is None and f["ks_pvalue"] is None and not f["drifted"] for f in quiet["features"])


def test_bad_drift_requests_say_what_was_wrong(served: TestClient, trained_registry: Path) -> None:
    assert served.get("/models/nope/versions/1/drift").status_code == 404
    missing = served.get(f"/models/{MODEL}/versions/9/drift")
    assert missing.status_code == 404 and "no version 9" in missing.json()["detail"]
    for hours in (0, -1, 10**6):
        response = served.get(f"/models/{MODEL}/versions/1/drift", params={"hours": hours})
        assert response.status_code == 422, hours
        assert "hours" in response.text
    assert served.get(f"/models/{MODEL}/versions/1/drift", params={"psi_threshold": 0}).status_code == 422


def test_a_version_without_a_baseline_is_a_conflict(served: TestClient) -> None:
    registry = served.app.state.settings.resolved_registry_dir  # type: ignore[attr-defined]
    (registry / MODEL / "1" / "baseline.json").unlink()  # as a version published before baselines
    response = served.get(f"/models/{MODEL}/versions/1/drift")
    assert response.status_code == 409
    assert "no drift baseline" in response.json()["detail"]


def test_drift_reads_the_baseline_from_an_s3_registry(
    trained_registry: Path, tmp_path: Path, s3_bucket: str, iris_x: np.ndarray
) -> None:
    settings = Settings(data_dir=tmp_path / "data", registry_dir=f"{s3_bucket}/registry", workers=0, prewarm=False)
    remote = open_registry(settings.registry_location, settings.cache_dir)
    published = trained_registry / "registry" / MODEL / "1"
    staged = remote.new_staging_dir()
    shutil.copytree(published, staged, dirs_exist_ok=True)
    remote.publish(MODEL, staged, json.loads((published / "metadata.json").read_text()))
    with TestClient(create_app(settings)) as client:
        log_predictions(client, 1, shifted_rows(iris_x))
        report = drift(client, 1)
    assert report["baseline"]["rows"] == 150 and report["window"]["rows"] == 600
    assert [f["feature"] for f in report["features"] if f["drifted"]] == [str(SHIFTED)]

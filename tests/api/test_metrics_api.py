"""/metrics: Prometheus text with requests and latency per route and model, batching, loaded models and jobs."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support import iris_spec

ROW = [5.1, 3.5, 1.4, 0.2]


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def test_requests_latency_batches_and_loaded_models_per_route_and_model(served: TestClient) -> None:
    for _ in range(3):
        served.post("/predict", json={"model": "iris-mlp", "version": 1, "instances": [ROW, ROW]})
    served.post("/v1/models/iris-mlp:predict", json={"instances": [ROW]})
    served.post("/v1/models/iris-mlp:predict", json={"instances": [[1.0]]})
    found = samples(served)

    predict = {"method": "POST", "route": "/predict", "model": "iris-mlp"}
    assert value(found, "maas_http_requests_total", **predict, status="200") == 3
    assert value(found, "maas_http_request_duration_seconds_count", **predict) == 3
    v1 = {"method": "POST", "route": "/v1/models/{name}:predict", "model": "iris-mlp"}
    assert value(found, "maas_http_requests_total", **v1, status="200") == 1
    assert value(found, "maas_http_requests_total", **v1, status="400") == 1
    assert value(found, "maas_batch_size_count", model="iris-mlp", version="1") == 3
    assert value(found, "maas_batch_size_sum", model="iris-mlp", version="1") == 6
    assert value(found, "maas_batch_queue_delay_seconds_count", model="iris-mlp", version="2") == 1
    assert value(found, "maas_models_loaded") == 2
    assert value(found, "maas_model_loaded", model="iris-mlp", version="2", runtime="onnxruntime") == 1


def test_jobs_by_status_are_counted(client: TestClient) -> None:
    for _ in range(2):
        assert client.post("/train", json=iris_spec()).status_code == 202  # no workers here: they stay queued
    found = samples(client)
    assert value(found, "maas_jobs", status="queued") == 2
    for status in ("running", "succeeded", "failed", "cancelled"):
        assert value(found, "maas_jobs", status=status) == 0
    assert value(found, "maas_models_loaded") == 0

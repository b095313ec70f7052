"""Payload logging: sampled requests read back equal what was sent, per version; off by default; a full queue
drops and counts, never blocking an answer."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from app.main import create_app
from app.serving.payload_log import Record
from app.settings import Settings

MODEL = "iris-mlp"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def payloads(client: TestClient, version: int, limit: int = 100) -> list[dict[str, object]]:
    response = client.get(f"/models/{MODEL}/versions/{version}/payloads", params={"limit": limit})
    assert response.status_code == 200, response.text
    return list(response.json())


def test_logged_payloads_read_back_equal_what_was_sent(served: TestClient) -> None:
    assert served.get(f"/models/{MODEL}/monitoring").json() == {"log_sample_rate": 0.0}
    served.post("/predict", json={"model": MODEL, "version": 1, "instances": ROWS})
    assert payloads(served, 1) == []  # off by default
    assert served.put(f"/models/{MODEL}/monitoring", json={"log_sample_rate": 1.0}).status_code == 200
    served.put(f"/models/{MODEL}/aliases/production", json={"version": 1})
    sent = []
    for i in range(5):
        rows = [[value + i for value in row] for row in ROWS]
        body = {"model": MODEL, "alias": "production", "instances": rows}
        answer = served.post("/predict", json=body, headers={"X-Request-Id": f"p-{i}"}).json()
        sent.append((f"p-{i}", rows, answer["predictions"]))
    v1 = served.post(f"/v1/models/{MODEL}/versions/1:predict", json={"instances": ROWS}).json()
    logged = payloads(served, 1)
    assert len(logged) == 6
    assert logged[0]["alias"] is None and logged[0]["inputs"] == ROWS
    assert logged[0]["outputs"] == v1["predictions"]
    for record, (request_id, rows, predictions) in zip(reversed(logged[1:]), sent, strict=True):
        assert (record["request_id"], record["alias"], record["version"]) == (request_id, "production", 1)
        assert record["inputs"] == rows
        assert record["outputs"] == predictions
        assert record["latency_ms"] > 0
    assert len(payloads(served, 1, limit=2)) == 2
    assert payloads(served, 2) == []


def test_a_sample_rate_outside_0_to_1_is_refused(served: TestClient) -> None:
    assert served.put(f"/models/{MODEL}/monitoring", json={"log_sample_rate": 1.5}).status_code == 422
    assert served.put("/models/nope/monitoring", json={"log_sample_rate": 0.5}).status_code == 404


def test_a_full_queue_drops_and_counts_without_blocking(trained_registry: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "small-queue"
    shutil.copytree(trained_registry, data_dir)
    settings = Settings(data_dir=data_dir, workers=0, prewarm=False, payload_queue=1, payload_flush_s=60)
    with TestClient(create_app(settings)) as client:
        client.put(f"/models/{MODEL}/monitoring", json={"log_sample_rate": 1.0})
        log = client.app.state.serving.payloads  # type: ignore[attr-defined]
        record = Record(MODEL, 1, None, None, datetime.now(UTC), 1.0, np.zeros((1, 4)), np.zeros((1, 3)))
        started = time.perf_counter()
        for _ in range(2000):  # far faster than one writer thread drains
            log.add(record)
        assert time.perf_counter() - started < 1.0
        for _ in range(5):
            assert client.post("/predict", json={"model": MODEL, "instances": ROWS}).status_code == 200
        assert log.dropped > 0
        assert f"maas_payload_log_dropped_total {float(log.dropped)}" in client.get("/metrics").text

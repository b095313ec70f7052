"""Limits that keep one client from hurting the service: body size, queue length."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.api.test_train_api import assert_problem
from tests.support import iris_spec


def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=0, prewarm=False, max_request_mb=0.01)  # ~10 KiB
    big = iris_spec(dataset={"inline": {"x": [[0.0] * 4] * 2000, "y": [0] * 2000}})
    with TestClient(create_app(settings)) as client:
        body = assert_problem(client.post("/train", json=big), 413)
        assert "MAAS_MAX_REQUEST_MB" in body["detail"]

        def chunks():  # no Content-Length: the cap is enforced while the body streams in
            yield b'{"model_name": "x", "padding": "'
            for _ in range(100):
                yield b"a" * 1024
            yield b'"}'

        streamed = client.post("/train", content=chunks(), headers={"content-type": "application/json"})
        assert_problem(streamed, 413)
        v1 = client.post("/v1/models/m:predict", content=b"[" + b"0," * 20_000 + b"0]")
        assert v1.status_code == 413 and "error" in v1.json()
        v2 = client.post("/v2/models/m/infer", content=chunks())  # streamed to the route, refused while it reads
        assert v2.status_code == 413 and "MAAS_MAX_REQUEST_MB" in v2.json()["error"]
        assert_problem(client.post("/predict", content=chunks()), 413)
        assert client.post("/train", json=iris_spec()).status_code == 202


def test_a_full_queue_answers_429_until_a_job_leaves_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=0, prewarm=False, max_queued=2)
    with TestClient(create_app(settings)) as client:
        first = client.post("/train", json=iris_spec()).json()
        client.post("/train", json=iris_spec())
        body = assert_problem(client.post("/train", json=iris_spec()), 429)
        assert body["code"] == "queue_full" and "MAAS_MAX_QUEUED" in body["detail"]
        client.post(f"/jobs/{first['id']}/cancel")
        assert client.post("/train", json=iris_spec()).status_code == 202

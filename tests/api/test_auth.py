"""API keys and roles: who may call what (API.md's Auth section), on a real app with a real trained model."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.support import iris_spec

ADMIN, PREDICT = "admin-secret-1", "predict-secret-2"
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture
def secured(trained_registry: Path, tmp_path: Path) -> Iterator[TestClient]:
    data_dir = tmp_path / "secured"
    shutil.copytree(trained_registry, data_dir)
    settings = Settings(data_dir=data_dir, workers=0, prewarm=False, api_keys=f"{ADMIN}:admin,{PREDICT}:predict")
    with TestClient(create_app(settings)) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# (method, path, json body, expected status for an admin key, for a predict key)
MATRIX = [
    ("GET", "/jobs", None, 200, 200),
    ("GET", "/models", None, 200, 200),
    ("GET", "/models/iris-mlp/versions/1", None, 200, 200),
    ("GET", "/models/iris-mlp/versions/1/artifact", None, 200, 200),
    ("GET", "/datasets", None, 200, 200),
    ("POST", "/predict", {"model": "iris-mlp", "instances": [ROW]}, 200, 200),
    ("POST", "/v1/models/iris-mlp:predict", {"instances": [ROW]}, 200, 200),
    ("GET", "/v1/models/iris-mlp", None, 200, 200),
    (
        "POST",
        "/v2/models/iris-mlp/infer",
        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": ROW}]},
        200,
        200,
    ),
    ("GET", "/v2/models/iris-mlp", None, 200, 200),
    ("POST", "/train", iris_spec(), 202, 403),
    ("POST", "/jobs/unknown/cancel", None, 404, 403),
    ("PUT", "/models/iris-mlp/aliases/production", {"version": 1}, 200, 403),
    ("DELETE", "/models/iris-mlp/aliases/nope", None, 404, 403),
    ("DELETE", "/models/iris-mlp/versions/9", None, 404, 403),
    ("DELETE", "/datasets/00000000-0000-4000-8000-000000000000", None, 404, 403),
]


@pytest.mark.parametrize(("method", "path", "body", "as_admin", "as_predict"), MATRIX)
def test_role_matrix(
    secured: TestClient, method: str, path: str, body: dict | None, as_admin: int, as_predict: int
) -> None:
    for key, expected in ((ADMIN, as_admin), (PREDICT, as_predict)):
        response = secured.request(method, path, json=body, headers=bearer(key))
        assert response.status_code == expected, (key, response.text)
        if expected == 403:
            problem = response.json()
            assert problem["status"] == 403 and "admin" in problem["detail"]
    anonymous = secured.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    wrong = secured.request(method, path, json=body, headers=bearer("not-a-key"))
    assert wrong.status_code == 401


def test_protocol_endpoints_answer_auth_errors_in_their_own_format(secured: TestClient) -> None:
    v1 = secured.post("/v1/models/iris-mlp:predict", json={"instances": [ROW]})
    v2 = secured.post("/v2/models/iris-mlp/infer", json={"inputs": []})
    assert v1.status_code == v2.status_code == 401
    assert "error" in v1.json() and "error" in v2.json()
    native = secured.get("/jobs")
    assert native.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/v2/health/live", "/v2/health/ready"])
def test_health_readiness_and_metrics_stay_open(secured: TestClient, path: str) -> None:
    assert secured.get(path).status_code == 200


def test_x_api_key_header_works_too(secured: TestClient) -> None:
    assert secured.get("/jobs", headers={"X-API-Key": PREDICT}).status_code == 200
    assert secured.post("/train", json=iris_spec(), headers={"X-API-Key": PREDICT}).status_code == 403


def test_keys_never_reach_the_logs_or_the_settings_repr(
    trained_registry: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path / "d", workers=0, prewarm=False, api_keys=f"{ADMIN}:admin")
    assert ADMIN not in repr(settings) and ADMIN not in str(settings.model_dump())
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings)) as client:
        client.get("/jobs", headers=bearer(ADMIN))
        client.get("/jobs", headers=bearer(ADMIN + "x"))
        client.get("/nowhere", headers=bearer(ADMIN))
    assert ADMIN not in caplog.text


def test_open_mode_warns_at_start(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="maas"), TestClient(create_app(settings)) as client:
        assert client.get("/jobs").status_code == 200
    assert "MAAS_API_KEYS is not set" in caplog.text


def test_malformed_key_configuration_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KEY:ROLE"):
        create_app(Settings(data_dir=tmp_path, workers=0, api_keys="just-a-key"))
    with pytest.raises(ValueError, match="KEY:ROLE"):
        create_app(Settings(data_dir=tmp_path, workers=0, api_keys="k:root"))

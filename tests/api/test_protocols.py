"""Serving protocols are declared once (app/api/protocols): what auth, the errors answered before routing, the
status table and the app's fast path derive from those descriptors, checked on the real app."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, Request, Response
from fastapi.testclient import TestClient

from app import errors
from app.api.deps import ServingDep
from app.api.fastpath import direct
from app.api.problems import status_for
from app.api.protocols import NATIVE, OIP, PROTOCOLS, TFSERVING, Protocol
from app.api.protocols.envelopes import error_envelope
from app.main import create_app
from app.serving.codecs import tfserving
from app.settings import Settings

ADMIN, PREDICT = "admin-key", "predict-key"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data", workers=0, prewarm=False, api_keys=f"{ADMIN}:admin,{PREDICT}:predict"
    )
    with TestClient(create_app(settings)) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "iris-mlp", template)


PREDICTION_PATHS = [concrete(path) for protocol in PROTOCOLS for path in protocol.prediction_paths]


@pytest.mark.parametrize("path", PREDICTION_PATHS)
def test_every_protocols_prediction_paths_are_open_to_a_predict_key(secured: TestClient, path: str) -> None:
    response = secured.post(path, content=b"{}", headers=bearer(PREDICT))
    assert response.status_code in (404, 422)  # no such model / not a native request: the route answered
    assert "needs 'admin'" not in response.text
    assert secured.post(path, content=b"{}").status_code == 401


def test_the_descriptors_declare_the_protocols_known_prediction_paths() -> None:
    expected = {"/predict", "/v1/models/iris-mlp:predict", "/v2/models/iris-mlp/versions/iris-mlp/infer"}
    assert expected <= set(PREDICTION_PATHS)


@pytest.mark.parametrize("path", ["/train", "/v1/models/iris-mlp:classify", "/v2/repository/index"])
def test_other_writes_still_need_an_admin_key(secured: TestClient, path: str) -> None:
    response = secured.post(path, json={}, headers=bearer(PREDICT))
    assert response.status_code == 403 and "needs 'admin'" in response.text
    assert secured.post(path, json={}, headers=bearer(ADMIN)).status_code != 403


@pytest.mark.parametrize("protocol", [TFSERVING, OIP], ids=lambda p: p.name)
def test_errors_before_routing_use_the_envelope_of_the_protocol_owning_the_path(
    secured: TestClient, protocol: Protocol
) -> None:
    response = secured.get(f"{protocol.prefix}/models/iris-mlp")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert response.json() == {"error": "an API key is required: send 'Authorization: Bearer KEY'"}
    response = secured.delete(f"{protocol.prefix}/models/iris-mlp", headers=bearer(PREDICT))
    assert response.status_code == 403 and list(response.json()) == ["error"]


@pytest.mark.parametrize("path", ["/jobs", "/predict", "/v3/models/x", "/v2x"])
def test_other_paths_answer_errors_before_routing_as_problem_documents(secured: TestClient, path: str) -> None:
    response = secured.get(path)
    assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401 and response.json()["code"] == "unauthorized"


def test_one_status_table_with_the_protocols_overrides() -> None:
    invalid, malformed, missing = errors.InvalidInput(), errors.MalformedBody(), errors.ModelNotFound()
    assert [status_for(invalid, p) for p in (NATIVE, TFSERVING, OIP)] == [422, 400, 400]
    assert [status_for(malformed, p) for p in PROTOCOLS] == [400] * len(PROTOCOLS)
    assert [status_for(missing, p) for p in PROTOCOLS] == [404] * len(PROTOCOLS)


def _broken_protocol(monkeypatch: pytest.MonkeyPatch, router: APIRouter, paths: tuple[str, ...]) -> Protocol:
    """A protocol whose routes module is `router`'s, added to the app's list for this test."""
    module = types.ModuleType("broken_protocol_routes")
    module.router = router  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    protocol = Protocol(
        name="broken",
        prefix="/v9",
        prediction_paths=paths,
        envelope=error_envelope,
        status_overrides={},
        codec=tfserving,
        routes=module.__name__,
    )
    monkeypatch.setattr("app.main.PROTOCOLS", (*PROTOCOLS, protocol))
    return protocol


def test_a_direct_endpoint_without_serving_fails_create_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    router = APIRouter(prefix="/v9")

    @router.post("/models/{name}:go")
    @direct
    async def go(name: str, request: Request) -> Response:
        return Response(name)

    _broken_protocol(monkeypatch, router, ("/v9/models/{name}:go",))
    with pytest.raises(TypeError, match=r"go is marked @direct but takes no parameter 'serving'"):
        create_app(Settings(data_dir=tmp_path, workers=0))


def test_undeclared_direct_routes_fail_create_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    router = APIRouter(prefix="/v9")

    @router.post("/models/{name}:go")
    @direct
    async def go(name: str, request: Request, serving: ServingDep) -> Response:
        return Response(name)

    _broken_protocol(monkeypatch, router, ())
    with pytest.raises(TypeError, match=r"'broken' declares prediction paths \[\] but its @direct routes are"):
        create_app(Settings(data_dir=tmp_path, workers=0))

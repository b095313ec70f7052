"""CORS for browser tus clients (Uppy, tus-js-client) through the real app: with MAAS_CORS_ORIGINS the listed
origins' preflights are answered and the tus headers exposed, before API keys and the open-mode guard; without it
no answer carries a CORS header, as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.api.test_uploads_tus import CHUNK, GOOD, TUS, metadata

APP_ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://evil.example"
TUS_CLIENT_HEADERS = "tus-resumable,upload-length,upload-metadata,upload-offset,content-type,x-http-method-override"


def preflight(
    client: TestClient, path: str, method: str, *, origin: str = APP_ORIGIN, headers: str = ""
) -> httpx.Response:
    request = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=request)


def creation(origin: str = APP_ORIGIN, **extra: str) -> dict[str, str]:
    return {**TUS, "Origin": origin, "Upload-Length": "100", "Upload-Metadata": metadata(**GOOD), **extra}


@pytest.fixture
def cors_client(settings: Settings) -> Iterator[TestClient]:
    cors = settings.model_copy(update={"cors_origins": f" {APP_ORIGIN}/ , http://localhost:3000"})
    with TestClient(create_app(cors)) as client:
        yield client


def test_without_cors_origins_no_answer_has_cors_headers(client: TestClient) -> None:
    answers = [
        client.options("/uploads", headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}),
        client.post("/uploads", headers=creation()),
        client.get("/datasets", headers={"Origin": APP_ORIGIN}),
    ]
    assert [a.status_code for a in answers] == [204, 201, 200]  # the first is tus' own OPTIONS, not a preflight
    for answer in answers:
        assert not [name for name in answer.headers if name.lower().startswith("access-control-")]


def test_a_listed_origin_may_create_and_resume_uploads_and_read_the_tus_headers(cors_client: TestClient) -> None:
    for path, method in (("/uploads", "POST"), ("/uploads/some-id", "PATCH"), ("/uploads/some-id", "HEAD")):
        answer = preflight(cors_client, path, method, headers=TUS_CLIENT_HEADERS)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        assert method in answer.headers["Access-Control-Allow-Methods"].split(", ")
        allowed = {h.lower() for h in answer.headers["Access-Control-Allow-Headers"].split(", ")}
        assert set(TUS_CLIENT_HEADERS.split(",")) <= allowed
    assert preflight(cors_client, "/uploads", "POST", origin="http://localhost:3000").status_code == 200

    created = cors_client.post("/uploads", headers=creation())
    assert created.status_code == 201
    assert created.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = set(created.headers["Access-Control-Expose-Headers"].split(", "))
    assert {"Location", "Upload-Offset", "Upload-Length", "Upload-Expires", "Tus-Resumable"} <= exposed
    assert {"Tus-Version", "Tus-Extension", "Tus-Max-Size"} <= exposed
    patched = cors_client.patch(
        created.headers["Location"],
        content=b"x" * 10,
        headers={**TUS, "Origin": APP_ORIGIN, "Content-Type": CHUNK, "Upload-Offset": "0"},
    )
    assert patched.status_code == 204
    assert (patched.headers["Access-Control-Allow-Origin"], patched.headers["Upload-Offset"]) == (APP_ORIGIN, "10")


def test_an_origin_not_listed_gets_no_allow_origin(cors_client: TestClient) -> None:
    answer = preflight(cors_client, "/uploads", "POST", origin=OTHER_ORIGIN, headers=TUS_CLIENT_HEADERS)
    assert answer.status_code == 400
    assert "origin" in answer.text
    assert "Access-Control-Allow-Origin" not in answer.headers
    created = cors_client.post("/uploads", headers=creation(OTHER_ORIGIN))  # the browser hides it from the page
    assert "Access-Control-Allow-Origin" not in created.headers


def test_a_header_tus_does_not_use_is_refused_at_preflight(cors_client: TestClient) -> None:
    answer = preflight(cors_client, "/uploads", "POST", headers="tus-resumable,upload-concat")
    assert answer.status_code == 400  # concatenation is no extension of this server
    assert "headers" in answer.text


def test_an_overridden_patch_from_a_page_is_preflighted_as_the_post_it_is(cors_client: TestClient) -> None:
    answer = preflight(cors_client, "/uploads/some-id", "POST", headers=TUS_CLIENT_HEADERS)
    assert answer.status_code == 200
    location = cors_client.post("/uploads", headers=creation()).headers["Location"]
    headers = {**TUS, "Origin": APP_ORIGIN, "Content-Type": CHUNK, "Upload-Offset": "0"}
    patched = cors_client.post(location, content=b"x" * 10, headers={**headers, "X-HTTP-Method-Override": "PATCH"})
    assert patched.status_code == 204, patched.text
    assert patched.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    refused = cors_client.post(location, headers={**headers, "X-HTTP-Method-Override": "PUT"})
    assert refused.status_code == 400  # the override's own refusal, readable by the page
    assert refused.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_open_mode_still_refuses_foreign_hosts_and_form_bodies_from_listed_origins(cors_client: TestClient) -> None:
    rebound = cors_client.get("/datasets", headers={"Origin": APP_ORIGIN, "Host": "evil.example"})
    assert rebound.status_code == 400
    assert "MAAS_ALLOWED_HOSTS" in rebound.json()["detail"]
    assert rebound.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    form = cors_client.post("/train", content=b"{}", headers={"Origin": APP_ORIGIN, "Content-Type": "text/plain"})
    assert form.status_code == 415
    assert "application/json" in form.json()["detail"]


def test_with_api_keys_a_preflight_needs_no_key_but_the_request_does(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", workers=0, prewarm=False, api_keys="adm:admin", cors_origins=APP_ORIGIN
    )
    with TestClient(create_app(settings)) as client:
        answer = preflight(client, "/uploads", "POST", headers=f"authorization,{TUS_CLIENT_HEADERS}")
        assert answer.status_code == 200
        assert "authorization" in answer.headers["Access-Control-Allow-Headers"].lower()
        assert "x-api-key" in answer.headers["Access-Control-Allow-Headers"].lower()
        keyless = client.post("/uploads", headers=creation())
        assert keyless.status_code == 401
        assert keyless.headers["Access-Control-Allow-Origin"] == APP_ORIGIN  # the page can tell the user why
        with_key = client.post("/uploads", headers=creation(Authorization="Bearer adm"))
        assert with_key.status_code == 201
        assert with_key.headers["Access-Control-Allow-Origin"] == APP_ORIGIN

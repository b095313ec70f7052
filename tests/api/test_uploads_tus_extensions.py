"""The tus extensions and core features that stock clients lean on, through the real app: X-HTTP-Method-Override
(clients behind GET/POST-only proxies) and creation-with-upload (tus-js-client's `uploadDataDuringCreation`);
expiration is tests/api/test_uploads_expiry.py's."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_uploads_tus import CHUNK, GOOD, TUS, create, metadata, offset, parquet_bytes, patch


def override(client: TestClient, location: str, method: str, body: bytes = b"", **headers: str) -> Any:
    return client.post(location, content=body, headers={**TUS, "X-HTTP-Method-Override": method, **headers})


def test_a_post_overridden_to_patch_appends_and_one_to_delete_terminates(client: TestClient) -> None:
    data = parquet_bytes()
    half = len(data) // 2
    location = create(client, len(data))
    response = override(client, location, "PATCH", data[:half], **{"Content-Type": CHUNK, "Upload-Offset": "0"})
    assert response.status_code == 204, response.text
    assert response.headers["Upload-Offset"] == str(half)
    assert offset(client, location) == half
    wrong = override(client, location, "PATCH", data[half:], **{"Content-Type": CHUNK, "Upload-Offset": "0"})
    assert wrong.status_code == 409
    assert f"resume at {half}" in wrong.json()["detail"]
    done = override(client, location, "patch", data[half:], **{"Content-Type": CHUNK, "Upload-Offset": str(half)})
    assert done.status_code == 204, done.text
    record = client.get(f"/datasets/{location.rsplit('/', 1)[-1]}").json()
    assert record["file_sha256"] == hashlib.sha256(data).hexdigest()

    other = create(client, 100)
    assert override(client, other, "DELETE").status_code == 204
    assert client.head(other, headers=TUS).status_code == 404
    assert client.get(f"/datasets/{other.rsplit('/', 1)[-1]}").status_code == 404


def test_an_override_to_another_method_is_400_naming_the_ones_allowed(client: TestClient) -> None:
    location = create(client, 100)
    response = override(client, location, "PUT", b"x")
    assert response.status_code == 400
    assert "PATCH" in response.json()["detail"] and "'PUT'" in response.json()["detail"]
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert offset(client, location) == 0


def test_an_overridden_patch_is_not_held_to_the_request_body_cap(capped_client: TestClient) -> None:
    data = parquet_bytes()
    assert len(data) > 0.01 * 2**20
    location = create(capped_client, len(data))
    response = override(capped_client, location, "PATCH", data, **{"Content-Type": CHUNK, "Upload-Offset": "0"})
    assert response.status_code == 204, response.text
    assert offset(capped_client, location) == len(data)


def create_with(client: TestClient, length: int, body: bytes, **headers: str) -> Any:
    headers = {**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(**GOOD), **headers}
    return client.post("/uploads", content=body, headers=headers)


def test_a_creation_with_the_whole_file_is_one_request_and_the_dataset_is_profiled(client: TestClient) -> None:
    data = parquet_bytes()
    response = create_with(client, len(data), data, **{"Content-Type": CHUNK})
    assert response.status_code == 201, response.text
    assert response.headers["Upload-Offset"] == str(len(data))
    location = response.headers["Location"]
    assert offset(client, location) == len(data)
    record = client.get(f"/datasets/{location.rsplit('/', 1)[-1]}").json()
    assert record["status"] in ("profiling", "ready")
    assert (record["bytes"], record["file_sha256"]) == (len(data), hashlib.sha256(data).hexdigest())


def test_a_creation_with_the_first_bytes_resumes_with_patches(capped_client: TestClient) -> None:
    """Not held to the request body cap, as PATCH is not."""
    client = capped_client
    data = parquet_bytes()
    first = len(data) // 2
    assert first > 0.01 * 2**20
    response = create_with(client, len(data), data[:first], **{"Content-Type": CHUNK})
    assert response.status_code == 201, response.text
    location = response.headers["Location"]
    assert int(response.headers["Upload-Offset"]) == first == offset(client, location)
    dataset_id = location.rsplit("/", 1)[-1]
    assert client.get(f"/datasets/{dataset_id}").json()["status"] == "uploading"
    assert patch(client, location, first, data[first:]).status_code == 204
    assert client.get(f"/datasets/{dataset_id}").json()["file_sha256"] == hashlib.sha256(data).hexdigest()


def test_a_creation_body_of_the_wrong_type_or_past_upload_length_creates_nothing(client: TestClient) -> None:
    wrong_type = create_with(client, 10, b"0123456789", **{"Content-Type": "application/octet-stream"})
    assert wrong_type.status_code == 415
    assert CHUNK in wrong_type.json()["detail"]
    too_long = create_with(client, 10, b"0123456789X", **{"Content-Type": CHUNK})
    assert too_long.status_code == 413
    assert "Upload-Length of 10" in too_long.json()["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: found out only once the bytes run past Upload-Length
        yield b"01234"
        yield b"56789X"

    headers = {**TUS, "Upload-Length": "10", "Upload-Metadata": metadata(**GOOD), "Content-Type": CHUNK}
    streamed = client.post("/uploads", content=chunked(), headers=headers)
    assert streamed.status_code == 413, streamed.text
    assert "Upload-Length of 10" in streamed.json()["detail"]
    assert client.get("/datasets").json() == []


def test_a_creation_without_a_body_needs_no_content_type(client: TestClient) -> None:
    response = create_with(client, 100, b"", **{"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.headers["Upload-Offset"] == "0"

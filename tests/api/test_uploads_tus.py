"""Resumable uploads (tus 1.0: core, creation, termination) through the real app: what a tus client sees and
what the dataset record says once the last byte is in."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"


def parquet_bytes(rows: int = 3000) -> bytes:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4)).astype("float32")
    table = pa.table({**{f"f{i}": x[:, i] for i in range(4)}, "label": (x[:, 0] > 0).astype("int64")})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def metadata(**fields: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in fields.items())


GOOD = {"filename": "train.parquet", "name": "big-table", "target": "label", "task": "classification"}


def create(client: TestClient, length: int, **fields: str) -> str:
    response = client.post(
        "/uploads", headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(**(fields or GOOD))}
    )
    assert response.status_code == 201, response.text
    assert response.headers["Tus-Resumable"] == "1.0.0"
    return response.headers["Location"]


def patch(client: TestClient, location: str, offset: int, body: bytes, **headers: str) -> Any:
    return client.patch(
        location, content=body, headers={**TUS, "Content-Type": CHUNK, "Upload-Offset": str(offset), **headers}
    )


def upload_in_chunks(client: TestClient, location: str, data: bytes, chunk: int) -> None:
    for start in range(0, len(data), chunk):
        response = patch(client, location, start, data[start : start + chunk])
        assert response.status_code == 204, response.text
        assert int(response.headers["Upload-Offset"]) == min(start + chunk, len(data))


def offset(client: TestClient, location: str) -> int:
    response = client.head(location, headers=TUS)
    assert response.status_code == 200
    return int(response.headers["Upload-Offset"])


def test_options_advertise_version_extensions_and_max_size(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, max_upload_gb=2)
    with TestClient(create_app(settings)) as client:
        response = client.options("/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    extensions = {"creation", "creation-with-upload", "termination", "expiration"}
    assert set(response.headers["Tus-Extension"].split(",")) == extensions
    assert int(response.headers["Tus-Max-Size"]) == 2 * 2**30


def test_chunked_upload_becomes_a_profiling_dataset_with_the_files_sha256(client: TestClient) -> None:
    data = parquet_bytes()
    location = create(client, len(data))
    dataset_id = location.rsplit("/", 1)[-1]
    assert client.get(f"/datasets/{dataset_id}").json()["status"] == "uploading"
    assert [d["id"] for d in client.get("/datasets").json() if d["status"] == "uploading"] == [dataset_id]
    head = client.head(location, headers=TUS)
    assert (head.headers["Upload-Offset"], head.headers["Upload-Length"]) == ("0", str(len(data)))
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Upload-Metadata"] == metadata(**GOOD)

    upload_in_chunks(client, location, data, chunk=len(data) // 3 + 1)

    record = client.get(f"/datasets/{dataset_id}").json()
    assert record["status"] in ("profiling", "ready")
    assert (record["name"], record["format"], record["target"], record["source"]) == (
        "big-table",
        "parquet",
        "label",
        None,
    )
    assert record["file_sha256"] == hashlib.sha256(data).hexdigest()
    assert record["bytes"] == len(data)
    assert [Path(url.removeprefix("file://")).read_bytes() == data for url in record["files"]] == [True]
    assert offset(client, location) == len(data)
    profile_jobs = [j for j in client.get("/jobs").json() if j["spec"].get("dataset", {}).get("id") == dataset_id]
    assert len(profile_jobs) == 1


def test_an_upload_resumes_in_a_new_server_process_with_the_same_sha256(settings: Settings) -> None:
    data = parquet_bytes()
    half = len(data) // 2
    with TestClient(create_app(settings)) as first:
        location = create(first, len(data))
        assert patch(first, location, 0, data[:half]).status_code == 204
    with TestClient(create_app(settings)) as second:  # no running hash: the bytes on disk are hashed again
        assert offset(second, location) == half
        assert patch(second, location, half, data[half:]).status_code == 204
        record = second.get(f"/datasets/{location.rsplit('/', 1)[-1]}").json()
    assert record["file_sha256"] == hashlib.sha256(data).hexdigest()


def test_a_patch_cut_off_mid_body_keeps_what_arrived(client: TestClient) -> None:
    data = parquet_bytes()
    location = create(client, len(data))
    arrived = data[:1000]
    messages: list[dict[str, Any]] = [{"type": "http.request", "body": arrived, "more_body": True}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(_message: dict[str, Any]) -> None:
        pass

    headers = {
        **TUS,
        "Host": "testserver",
        "Content-Type": CHUNK,
        "Upload-Offset": "0",
        "Content-Length": str(len(data)),
    }
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PATCH",
        "scheme": "http",
        "path": location,
        "raw_path": location.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)

    assert offset(client, location) == len(arrived)
    assert patch(client, location, len(arrived), data[len(arrived) :]).status_code == 204
    record = client.get(f"/datasets/{location.rsplit('/', 1)[-1]}").json()
    assert record["file_sha256"] == hashlib.sha256(data).hexdigest()


def test_a_wrong_offset_is_409_and_changes_nothing(client: TestClient) -> None:
    data = parquet_bytes()
    location = create(client, len(data))
    assert patch(client, location, 0, data[:100]).status_code == 204
    for wrong in (0, 50, 200):
        response = patch(client, location, wrong, data[wrong : wrong + 100])
        assert response.status_code == 409
        assert "resume at 100" in response.json()["detail"]
    assert offset(client, location) == 100


def test_a_patch_must_be_offset_octet_stream(client: TestClient) -> None:
    location = create(client, 10)
    response = patch(client, location, 0, b"0123456789", **{"Content-Type": "application/octet-stream"})
    assert response.status_code == 415
    assert CHUNK in response.json()["detail"]
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert offset(client, location) == 0


@pytest.mark.parametrize("version", [None, "0.2.2"])
def test_another_tus_version_is_412_with_the_supported_one(client: TestClient, version: str | None) -> None:
    headers = {"Upload-Length": "10", "Upload-Metadata": metadata(**GOOD)}
    if version:
        headers["Tus-Resumable"] = version
    response = client.post("/uploads", headers=headers)
    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"
    assert "Tus-Resumable: 1.0.0" in response.json()["detail"]
    assert client.get("/datasets").json() == []


@pytest.mark.parametrize(
    ("fields", "key", "says"),
    [
        ({"name": "t", "target": "label"}, "filename", "'filename'"),
        ({**GOOD, "filename": "train.npz"}, "filename", ".parquet or .csv"),
        ({**GOOD, "filename": "train"}, "filename", ".parquet or .csv"),
        ({k: v for k, v in GOOD.items() if k != "name"}, "name", "'name'"),
        ({**GOOD, "name": "Big Table!"}, "name", "invalid dataset name"),
        ({k: v for k, v in GOOD.items() if k != "target"}, "target", "label column"),
        ({**GOOD, "task": "clustering"}, "task", "classification"),
    ],
)
def test_metadata_that_cannot_make_a_dataset_is_422_before_anything_exists(
    client: TestClient, fields: dict[str, str], key: str, says: str
) -> None:
    response = client.post("/uploads", headers={**TUS, "Upload-Length": "100", "Upload-Metadata": metadata(**fields)})
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["Upload-Metadata", key]
    assert client.get("/datasets").json() == []


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"Upload-Metadata": metadata(**GOOD)}, "Upload-Length header is required"),
        ({"Upload-Length": "-5", "Upload-Metadata": metadata(**GOOD)}, "non-negative integer"),
        ({"Upload-Defer-Length": "1", "Upload-Metadata": metadata(**GOOD)}, "not supported"),
        ({"Upload-Length": "10", "Upload-Metadata": "filename not*base64"}, "base64"),
    ],
)
def test_malformed_creation_headers_are_400(client: TestClient, headers: dict[str, str], says: str) -> None:
    response = client.post("/uploads", headers={**TUS, **headers})
    assert response.status_code == 400
    assert says in response.json()["detail"]


def test_uploads_past_the_limit_are_413(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, max_upload_gb=1000 / 2**30)
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/uploads", headers={**TUS, "Upload-Length": "1001", "Upload-Metadata": metadata(**GOOD)}
        )
        assert response.status_code == 413
        assert "MAAS_MAX_UPLOAD_GB" in response.json()["detail"]
        assert client.get("/datasets").json() == []

        location = create(client, 100)
        assert patch(client, location, 0, b"x" * 60).status_code == 204
        response = patch(client, location, 60, b"x" * 41)  # one byte past Upload-Length
        assert response.status_code == 413
        assert "Upload-Length of 100" in response.json()["detail"]
        assert offset(client, location) == 60


def test_chunks_are_not_held_to_the_request_body_cap(capped_client: TestClient) -> None:
    data = parquet_bytes()
    assert len(data) > 0.01 * 2**20
    location = create(capped_client, len(data))
    assert patch(capped_client, location, 0, data).status_code == 204


def test_termination_removes_the_upload_and_its_dataset(client: TestClient) -> None:
    data = parquet_bytes()
    location = create(client, len(data))
    assert patch(client, location, 0, data[:500]).status_code == 204
    response = client.delete(location, headers=TUS)
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert client.head(location, headers=TUS).status_code == 404
    assert patch(client, location, 500, data[500:]).status_code == 404
    assert client.delete(location, headers=TUS).status_code == 404
    assert client.get(f"/datasets/{location.rsplit('/', 1)[-1]}").status_code == 404


def test_unknown_uploads_are_404(client: TestClient) -> None:
    for path in ("/uploads/7d1bcb3e-1d5e-4c0e-9a33-0c5c0b8a8f5e", "/uploads/..%2F..%2Fetc"):
        assert client.head(path, headers=TUS).status_code == 404
        assert patch(client, path, 0, b"x").status_code == 404


def test_uploads_onto_s3_resume_in_a_new_process_to_the_files_sha256(tmp_path: Path, s3_bucket: str) -> None:
    """Multipart parts of 8 MiB from PATCHes of 3 MiB: each PATCH leaves a tail object that the next one extends."""
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, datasets_location=f"{s3_bucket}/datasets")
    data = np.random.default_rng(2).bytes(20 * 2**20 + 12345)
    chunk = 3 * 2**20
    with TestClient(create_app(settings)) as first:
        location = create(first, len(data))
        dataset_id = location.rsplit("/", 1)[-1]
        assert first.get(f"/datasets/{dataset_id}").json()["status"] == "uploading"
        upload_in_chunks(first, location, data[: 4 * chunk], chunk)
        assert patch(first, location, 0, data[:10]).status_code == 409
    with TestClient(create_app(settings)) as second:  # no running hash: the assembled object is read back
        assert offset(second, location) == 4 * chunk
        for start in range(4 * chunk, len(data), chunk):
            assert patch(second, location, start, data[start : start + chunk]).status_code == 204
        record = second.get(f"/datasets/{dataset_id}").json()
        assert offset(second, location) == len(data)
    assert record["status"] == "profiling"
    assert (record["bytes"], record["file_sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert record["files"] == [f"{s3_bucket}/datasets/{dataset_id}/data.parquet"]
    import fsspec

    with fsspec.open(record["files"][0], "rb") as f:
        assert f.read() == data


def test_an_unfinished_s3_upload_is_terminated_and_its_parts_aborted(tmp_path: Path, s3_bucket: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, datasets_location=f"{s3_bucket}/datasets")
    data = np.random.default_rng(3).bytes(9 * 2**20)
    with TestClient(create_app(settings)) as client:
        location = create(client, len(data) + 1)
        assert patch(client, location, 0, data).status_code == 204
        assert client.delete(location, headers=TUS).status_code == 204
        assert client.head(location, headers=TUS).status_code == 404
        assert client.get("/datasets").json() == []
        uploads = client.app.state.uploads  # type: ignore[attr-defined]
        bucket = s3_bucket.removeprefix("s3://")
        assert uploads.fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []) == []


def test_uploads_are_for_admin_keys_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, api_keys="adm:admin,pred:predict")
    with TestClient(create_app(settings)) as client:
        admin, predict = {"Authorization": "Bearer adm"}, {"Authorization": "Bearer pred"}
        assert client.options("/uploads", headers=predict).status_code == 403
        assert client.post("/uploads", headers={**TUS, **predict, "Upload-Length": "10"}).status_code == 403
        response = client.post(
            "/uploads", headers={**TUS, **admin, "Upload-Length": "10", "Upload-Metadata": metadata(**GOOD)}
        )
        assert response.status_code == 201
        assert client.head(response.headers["Location"], headers={**TUS, **predict}).status_code == 403
        assert client.head(response.headers["Location"], headers={**TUS, **admin}).status_code == 200

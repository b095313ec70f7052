"""tus' expiration extension through the real app: Upload-Expires on creation and PATCH, 410 Gone for an upload
come back to too late, and the sweep at start-up and in the API process. No test waits for time to pass: an
upload's last write is its partial file's mtime, moved back here, and the sweep takes `now`."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.uploads.expiry import Expiry
from tests.api.test_uploads_tus import CHUNK, GOOD, TUS, create, metadata, offset, parquet_bytes, patch

DAY_S = 24 * 3600


def upload_id(location: str) -> str:
    return location.rsplit("/", 1)[-1]


def part_file(settings: Settings, location: str) -> Path:
    return Path(settings.datasets_location) / upload_id(location) / "data.parquet.part"


def last_written(settings: Settings, location: str, *, seconds_ago: float) -> None:
    """As if the upload last received bytes `seconds_ago`."""
    then = time.time() - seconds_ago
    os.utime(part_file(settings, location), (then, then))


def asgi_scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """An HTTP request as the server hands it to the app, for a test that feeds the body itself."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"Host": "testserver", **headers}.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def expires(response: Any) -> float:
    return parsedate_to_datetime(response.headers["Upload-Expires"]).timestamp()


def listed(client: TestClient) -> list[str]:
    return [dataset["id"] for dataset in client.get("/datasets").json()]


def test_creation_and_each_unfinished_patch_say_when_the_upload_expires(client: TestClient) -> None:
    options = client.options("/uploads")
    assert "expiration" in options.headers["Tus-Extension"].split(",")
    data = parquet_bytes()
    before = int(time.time()) - 1  # a file's mtime may lag the clock by a tick
    created = client.post(
        "/uploads", headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": metadata(**GOOD)}
    )
    assert created.status_code == 201, created.text
    assert created.headers["Upload-Expires"].endswith(" GMT")
    assert before + DAY_S <= expires(created) <= time.time() + DAY_S
    location = created.headers["Location"]

    half = patch(client, location, 0, data[:1000])
    assert half.status_code == 204
    assert expires(half) >= expires(created)
    assert expires(client.head(location, headers=TUS)) == expires(half)

    done = patch(client, location, 1000, data[1000:])
    assert done.status_code == 204
    assert "Upload-Expires" not in done.headers  # a finished upload never expires
    assert "Upload-Expires" not in client.head(location, headers=TUS).headers


def test_an_upload_come_back_to_too_late_is_410_and_removed_with_its_dataset(client: TestClient) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    data = parquet_bytes()
    location = create(client, len(data))
    assert patch(client, location, 0, data[:1000]).status_code == 204
    last_written(settings, location, seconds_ago=DAY_S - 60)  # a minute left: still resumable
    assert offset(client, location) == 1000
    last_written(settings, location, seconds_ago=DAY_S + 60)

    gone = client.head(location, headers=TUS)  # a HEAD answer has no body: the PATCH test reads the problem
    assert gone.status_code == 410
    assert gone.headers["Tus-Resumable"] == "1.0.0"
    assert upload_id(location) not in listed(client)
    assert not part_file(settings, location).parent.exists()
    assert client.head(location, headers=TUS).status_code == 404  # removed: no longer known


def test_a_patch_to_an_expired_upload_is_410_saying_when_and_to_start_again(client: TestClient) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    data = parquet_bytes()
    location = create(client, len(data))
    assert patch(client, location, 0, data[:1000]).status_code == 204
    last_written(settings, location, seconds_ago=DAY_S + 60)
    moved = os.stat(part_file(settings, location)).st_mtime

    response = patch(client, location, 1000, data[1000:])
    assert response.status_code == 410, response.text
    body = response.json()
    assert body["code"] == "upload_expired"
    assert time.strftime("%d %b %Y", time.gmtime(moved + DAY_S)) in body["detail"]
    assert "MAAS_UPLOAD_EXPIRY_HOURS" in body["detail"] and "start a new upload" in body["detail"]
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert upload_id(location) not in listed(client)
    assert client.get(f"/datasets/{upload_id(location)}").status_code == 404


def test_a_restart_sweeps_expired_uploads_and_keeps_the_others_resumable(settings: Settings) -> None:
    data = parquet_bytes()
    with TestClient(create_app(settings)) as first:
        stale, fresh, finished = (create(first, len(data)) for _ in range(3))
        for location in (stale, fresh):
            assert patch(first, location, 0, data[:1000]).status_code == 204
        assert patch(first, finished, 0, data).status_code == 204
    last_written(settings, stale, seconds_ago=DAY_S + 60)
    finished_file = part_file(settings, finished).with_suffix("")
    os.utime(finished_file, (time.time() - 10 * DAY_S,) * 2)

    with TestClient(create_app(settings)) as second:
        assert set(listed(second)) == {upload_id(fresh), upload_id(finished)}
        assert offset(second, fresh) == 1000
        assert patch(second, fresh, 1000, data[1000:]).status_code == 204
        record = second.get(f"/datasets/{upload_id(fresh)}").json()
        assert record["file_sha256"] == hashlib.sha256(data).hexdigest()
        assert second.head(stale, headers=TUS).status_code == 404
    assert finished_file.read_bytes() == data


def test_with_expiry_off_nothing_expires_or_is_announced(settings: Settings) -> None:
    settings = settings.model_copy(update={"upload_expiry_hours": 0})
    data = parquet_bytes()
    with TestClient(create_app(settings)) as client:
        assert "expiration" not in client.options("/uploads").headers["Tus-Extension"]
        created = client.post(
            "/uploads", headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": metadata(**GOOD)}
        )
        assert "Upload-Expires" not in created.headers
        location = created.headers["Location"]
        response = patch(client, location, 0, data[:1000])
        assert "Upload-Expires" not in response.headers
        last_written(settings, location, seconds_ago=365 * DAY_S)
        assert offset(client, location) == 1000
    with TestClient(create_app(settings)) as again:
        assert offset(again, location) == 1000


def test_the_sweep_removes_only_what_has_expired(client: TestClient) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    uploads = client.app.state.uploads  # type: ignore[attr-defined]
    data = parquet_bytes()
    old, new = create(client, len(data)), create(client, len(data))
    last_written(settings, old, seconds_ago=DAY_S + 60)
    expiry = Expiry(settings.upload_expiry_hours)

    assert expiry.sweep(uploads, now=time.time()) == [upload_id(old)]
    assert listed(client) == [upload_id(new)]
    assert expiry.sweep(uploads, now=time.time()) == []
    assert expiry.sweep(uploads, now=time.time() + DAY_S + 60) == [upload_id(new)]
    assert listed(client) == []


def test_the_sweep_leaves_an_upload_that_a_patch_is_writing_to(client: TestClient) -> None:
    """The PATCH holds the partial file's lock while its body arrives; the sweep takes the same lock, so an
    upload being written to is not deleted under it, however old its last write looks."""
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    uploads = client.app.state.uploads  # type: ignore[attr-defined]
    data = parquet_bytes()
    location = create(client, len(data))
    writing, release = threading.Event(), threading.Event()
    sent: list[dict[str, Any]] = []
    body = [data[:1000], data[1000:]]

    async def receive() -> dict[str, Any]:
        if len(body) == 1:  # the first chunk is written: the PATCH holds the lock
            writing.set()
            await anyio.to_thread.run_sync(release.wait)
        chunk = body.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(body)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = {**TUS, "Content-Type": CHUNK, "Upload-Offset": "0", "Content-Length": str(len(data))}
    assert client.portal is not None
    done = client.portal.start_task_soon(client.app, asgi_scope("PATCH", location, headers), receive, send)
    assert writing.wait(timeout=30)
    last_written(settings, location, seconds_ago=DAY_S + 60)  # the bytes so far look old
    assert Expiry(settings.upload_expiry_hours).sweep(uploads, now=time.time() + DAY_S) == []
    release.set()
    done.result(timeout=30)

    assert sent[0]["status"] == 204
    record = client.get(f"/datasets/{upload_id(location)}").json()
    assert record["file_sha256"] == hashlib.sha256(data).hexdigest()


def test_an_expired_upload_on_s3_is_swept_and_its_parts_aborted(tmp_path: Path, s3_bucket: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, datasets_location=f"{s3_bucket}/datasets")
    data = np.random.default_rng(4).bytes(9 * 2**20)
    with TestClient(create_app(settings)) as client:
        uploads = client.app.state.uploads  # type: ignore[attr-defined]
        location = create(client, len(data) + 1)
        response = patch(client, location, 0, data)
        assert response.status_code == 204
        assert expires(response) == expires(client.head(location, headers=TUS))
        expiry = Expiry(settings.upload_expiry_hours)
        assert expiry.sweep(uploads, now=time.time()) == []
        assert expiry.sweep(uploads, now=expires(response) + 1) == [upload_id(location)]
        assert client.head(location, headers=TUS).status_code == 404
        assert listed(client) == []
        bucket = s3_bucket.removeprefix("s3://")
        assert uploads.fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []) == []

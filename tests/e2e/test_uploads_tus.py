"""Resumable uploads against a real `maas serve`: the stock tus client (tuspy) in chunks, and an upload cut off
half-way by a SIGKILLed server that resumes, after a restart, from the offset HEAD reports."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tusclient.client import TusClient

from tests.e2e.server import Server

TUS = {"Tus-Resumable": "1.0.0"}
METADATA = {"filename": "train.parquet", "name": "resumed", "target": "label", "task": "classification"}


def encoded(fields: dict[str, str]) -> str:
    """Upload-Metadata as the tus spec writes it (for requests sent without tuspy)."""
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in fields.items())


def parquet_bytes(rows: int) -> bytes:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, 8)).astype("float32")
    table = pa.table({**{f"f{i}": x[:, i] for i in range(8)}, "label": (x[:, 0] + x[:, 1] > 0).astype("int64")})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=4096)
    return buffer.getvalue()


def tus_upload(server: Server, data: bytes, *, chunk: int, url: str | None = None) -> str:
    """Upload with tuspy (resuming `url` from its HEAD offset when given); the dataset's id."""
    uploader = TusClient(f"{server.url}/uploads").uploader(
        file_stream=io.BytesIO(data), chunk_size=chunk, metadata=METADATA, url=url
    )
    uploader.upload()
    assert uploader.url is not None
    return uploader.url.rsplit("/", 1)[-1]


def dataset(server: Server, dataset_id: str) -> dict[str, Any]:
    response = server.http.get(f"/datasets/{dataset_id}")
    assert response.status_code == 200, response.text
    return response.json()


def head_offset(server: Server, location: str) -> int:
    response = server.http.head(location, headers=TUS)
    assert response.status_code == 200, response.text
    return int(response.headers["Upload-Offset"])


def wait_for_offset(server: Server, location: str, done: Callable[[int], bool], timeout: float = 60) -> int:
    """HEAD the upload until `done(offset)`; that offset."""
    deadline = time.monotonic() + timeout
    while not done(seen := head_offset(server, location)):
        assert time.monotonic() < deadline, f"HEAD still says {seen} bytes\n{server.log()}"
        time.sleep(0.05)
    return seen


def wait_for_status(server: Server, dataset_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (record := dataset(server, dataset_id))["status"] in ("uploading", "profiling"):
        assert time.monotonic() < deadline, f"dataset still {record['status']}\n{server.log()}"
        time.sleep(0.2)
    return record


def test_tuspy_uploads_in_chunks_and_the_dataset_is_profiled(server: Server) -> None:
    data = parquet_bytes(20_000)
    dataset_id = tus_upload(server, data, chunk=len(data) // 5 + 1)
    assert dataset(server, dataset_id)["file_sha256"] == hashlib.sha256(data).hexdigest()
    record = wait_for_status(server, dataset_id)
    assert record["status"] == "ready", record["error"]
    assert (record["rows"], record["feature_shape"], record["classes"]) == (20_000, [8], ["0", "1"])
    assert record["file_sha256"] == hashlib.sha256(data).hexdigest()
    assert Path(record["files"][0].removeprefix("file://")).read_bytes() == data


@pytest.mark.parametrize("where", ["local", "s3"])
def test_an_upload_cut_off_by_a_killed_server_resumes_to_the_same_sha256(
    tmp_path: Path, where: str, request: pytest.FixtureRequest
) -> None:
    """Locally every byte that arrived is kept; on S3 the parts sent (8 MiB each) are, and the rest is sent again."""
    data = np.random.default_rng(4).bytes(20 * 2**20 + 777)
    half = len(data) // 2
    env = {"MAAS_WORKERS": "0", "MAAS_PREWARM": "false"}
    if where == "s3":
        env["MAAS_DATASETS_LOCATION"] = f"{request.getfixturevalue('s3_bucket')}/datasets"
    first = Server(tmp_path / "data", tmp_path / "first.log", **env)
    try:
        created = first.http.post(
            "/uploads", headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": encoded(METADATA)}
        )
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        with socket.create_connection(("127.0.0.1", first.port)) as sock:  # a PATCH whose body stops half-way
            head = (
                f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n\r\n"
            )
            sock.sendall(head.encode() + data[:half])
            stored = wait_for_offset(first, location, (lambda n: n == half) if where == "local" else bool)
            os.killpg(first.proc.pid, signal.SIGKILL)  # mid-request: nothing is shut down cleanly
    finally:
        first.stop()

    second = Server(tmp_path / "data", tmp_path / "second.log", **env)
    try:
        assert 0 < head_offset(second, location) == stored <= half
        resumed = tus_upload(second, data, chunk=len(data), url=f"{second.url}{location}")
        uninterrupted = tus_upload(second, data, chunk=len(data) // 3 + 1)
        digests = {dataset(second, i)["file_sha256"] for i in (resumed, uninterrupted)}
        assert digests == {hashlib.sha256(data).hexdigest()}
        assert dataset(second, resumed)["status"] == "profiling"  # queued: this server has no worker
    finally:
        second.stop()

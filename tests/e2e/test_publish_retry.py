"""A publish whose storage fails keeps the training: it is tried again, then the job goes back to the queue with
its checkpoints and the next attempt only publishes; staging folders a crash left behind are swept at start.

The registry's disk is filled on cue by MAAS_FAILPOINT=registry_full[:N] (every publish, or each process's
first N, raise ENOSPC inside the registry): these tests run as root, for whom a read-only folder is no
obstacle, and mounting a small filesystem needs privileges a test must not assume.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from app.registry.retry import is_transient
from tests.e2e.server import MAAS, TERMINAL, Server, maas_env
from tests.support import iris_spec

HOUR = 3600


def staging(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "registry" / ".staging").iterdir())


def test_a_publish_that_fails_twice_is_retried_in_place_and_publishes_once(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "server.log", MAAS_FAILPOINT="registry_full:2")
    try:
        done = server.wait_finished(server.train(iris_spec(epochs=1, model_name="retried"))["id"])
        assert done["attempts"] == 1 and done["model"] == {"name": "retried", "version": 1}
        assert [v["version"] for v in server.http.get("/models/retried").json()["versions"]] == [1]
        log = server.log_path.read_text()
        assert "No space left on device (MAAS_FAILPOINT=registry_full)" in log and "try 3 of 5" in log
        assert staging(data_dir) == [], "each failed try's staged copy of the model was removed"
    finally:
        server.stop()


@dataclass
class FullDisk:
    """A server whose every publish fails, and the two jobs it was given at once: `full-disk` (one retry) and
    `freed` (five). Two job slots run them side by side, so that their publishes' waits between tries overlap."""

    server: Server
    data_dir: Path
    log_dir: Path
    jobs: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullDisk]:
    home = tmp_path_factory.mktemp("full-disk")
    server = Server(
        home / "data", home / "full.log", MAAS_FAILPOINT="registry_full", MAAS_SHUTDOWN_GRACE_S="1", MAAS_WORKERS="2"
    )
    try:
        jobs = {
            "full-disk": server.train(iris_spec(epochs=2, model_name="full-disk", max_retries=1)),
            "freed": server.train(iris_spec(epochs=2, model_name="freed", max_retries=5)),
        }
        yield FullDisk(server=server, data_dir=home / "data", log_dir=home, jobs=jobs)
    finally:
        server.stop()


def test_a_publish_that_keeps_failing_is_requeued_with_its_checkpoints_then_fails_saying_why(
    full_disk: FullDisk,
) -> None:
    server, data_dir, job = full_disk.server, full_disk.data_dir, full_disk.jobs["full-disk"]
    checkpoints = data_dir / "jobs" / job["id"] / "checkpoints"
    second = server.wait_for(job["id"], lambda j: j["attempts"] == 2 or j["status"] == "failed")
    assert second["attempts"] == 2 and second["error"] is None, "requeued, not failed, after the first attempt"
    done = server.wait_for(job["id"], lambda j: j["status"] == "failed", timeout=120)
    assert done["attempts"] == 2
    assert done["resumed_from"]["epoch"] == 2, "the second attempt resumed after the last epoch: no retraining"
    assert len(done["metrics"]["history"]["loss"]) == 2
    assert done["error"]["type"] == "StorageUnavailable"
    message = done["error"]["message"]
    assert "failed 5 times in a row" in message and "No space left on device" in message
    assert "full-disk" in message and "no retries left" in message
    assert not checkpoints.exists(), "a failed job's checkpoints are removed"
    assert server.http.get("/models/full-disk").status_code == 404
    assert staging(data_dir) == []


def test_once_the_disk_has_room_again_the_requeued_job_only_publishes(full_disk: FullDisk) -> None:
    server, data_dir, job = full_disk.server, full_disk.data_dir, full_disk.jobs["freed"]
    before = server.wait_for(job["id"], lambda j: j["attempts"] >= 2)
    assert (data_dir / "jobs" / job["id"] / "checkpoints").is_dir(), "kept across the requeue"
    server.wait_for(full_disk.jobs["full-disk"]["id"], lambda j: j["status"] in TERMINAL)  # the other test's job
    server.stop()

    server = Server(data_dir, full_disk.log_dir / "freed.log")
    try:
        done = server.wait_finished(job["id"])
        assert done["model"] == {"name": "freed", "version": 1} and done["resumed_from"]["epoch"] == 2
        assert done["metrics"]["history"]["loss"] == before["metrics"]["history"]["loss"], "trained once"
        model = server.http.get("/models/freed").json()
        assert [(v["version"], v["job_id"]) for v in model["versions"]] == [(1, job["id"])]
        assert not (data_dir / "jobs" / job["id"] / "checkpoints").exists(), "gone once the version is recorded"
    finally:
        server.stop()


def make_entry(folder: Path, name: str, *, age_s: float) -> Path:
    entry = folder / name
    (entry / "saved_model").mkdir(parents=True)
    (entry / "saved_model" / "model.keras").write_bytes(b"partial")
    stamp = time.time() - age_s
    for path in (entry / "saved_model" / "model.keras", entry / "saved_model", entry):
        os.utime(path, (stamp, stamp))
    return entry


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_stale_staging_folders_are_swept_at_start_and_fresh_ones_kept(
    command: str, data_dir: Path, tmp_path: Path
) -> None:
    folders = [data_dir / "registry" / ".staging", data_dir / "datasets" / ".staging"]
    stale = [make_entry(folder, "crashed", age_s=2 * HOUR) for folder in folders]
    fresh = [make_entry(folder, "in-flight", age_s=60) for folder in folders]
    touched = make_entry(folders[0], "old-but-written-to", age_s=2 * HOUR)
    (touched / "saved_model" / "variables").write_bytes(b"just now")  # another process is still publishing
    if command == "worker":
        env = maas_env(data_dir, MAAS_PREWARM="false")
        result = subprocess.run([MAAS, "worker", "--burst"], env=env, capture_output=True, timeout=120)
        assert result.returncode == 0, result.stderr.decode()
    else:
        Server(data_dir, tmp_path / "server.log").stop()
    assert not any(entry.exists() for entry in stale)
    assert all(entry.is_dir() for entry in [*fresh, touched])


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EIO, "Input/output error"), True),
        (TimeoutError("read timed out"), True),
        (ConnectionResetError(errno.ECONNRESET, "reset by peer"), True),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), True),
        (ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"), True),
        (
            ClientError({"Error": {"Code": "NoSuchBucket"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "PutObject"),
            False,
        ),
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), False),
        (ValueError("Unable to serialize the model"), False),
    ],
)
def test_storage_errors_are_told_from_errors_of_the_model(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
    try:
        raise RuntimeError("export failed") from error
    except RuntimeError as wrapped:
        assert is_transient(wrapped) is transient, "judged by the error it was raised from"

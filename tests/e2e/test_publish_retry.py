"""A publish whose storage fails keeps the training: it is tried again, then the job goes back to the queue with
its checkpoints and the next attempt only publishes; staging folders a crash left behind are swept at start.

The registry's disk is filled on cue by MAAS_FAILPOINT=registry_full[:N] (every publish, or each process's
first N, raise ENOSPC inside the registry): these tests run as root, for whom a read-only folder is no
obstacle, and mounting a small filesystem needs privileges a test must not assume.
"""

from __future__ import annotations

import errno
import os
import re
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
BACKOFF_S = 0.1  # MAAS_PUBLISH_BACKOFF_S of these servers: 0.1, 0.2, 0.4, 0.8 s between tries, not 1, 2, 4, 8


def staging(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "registry" / ".staging").iterdir())


@dataclass
class Publishes:
    """The module's two servers, started together and each given its jobs at once so that they train side by
    side: `retried` fails each job process's first two publishes; `full` fails every publish, and runs its jobs
    `full-disk` (one retry) and `freed` (twenty) side by side in two slots. `freed` goes back to the queue
    again and again until the server is restarted with room on its disk, once `full-disk` has used its two
    attempts: `freed`'s twenty-one, made at the same pace, cannot run out first."""

    retried: Server
    retried_dir: Path
    retried_job: dict[str, Any]
    full: Server
    full_dir: Path
    log_dir: Path
    jobs: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def publishes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Publishes]:
    home = tmp_path_factory.mktemp("publishes")
    backoff = {"MAAS_PUBLISH_BACKOFF_S": str(BACKOFF_S)}
    full = Server(
        home / "full",
        home / "full.log",
        MAAS_FAILPOINT="registry_full",
        MAAS_SHUTDOWN_GRACE_S="1",
        MAAS_WORKERS="2",
        **backoff,
    )
    try:
        jobs = {
            "full-disk": full.train(iris_spec(epochs=2, model_name="full-disk", max_retries=1)),
            "freed": full.train(iris_spec(epochs=2, model_name="freed", max_retries=20)),
        }
        retried = Server(home / "retried", home / "retried.log", MAAS_FAILPOINT="registry_full:2", **backoff)
        try:
            retried_job = retried.train(iris_spec(epochs=1, model_name="retried"))
            yield Publishes(
                retried=retried,
                retried_dir=home / "retried",
                retried_job=retried_job,
                full=full,
                full_dir=home / "full",
                log_dir=home,
                jobs=jobs,
            )
        finally:
            retried.stop()
    finally:
        full.stop()


def test_a_publish_that_fails_twice_is_retried_in_place_and_publishes_once(publishes: Publishes) -> None:
    server = publishes.retried
    done = server.wait_finished(publishes.retried_job["id"])
    assert done["attempts"] == 1 and done["model"] == {"name": "retried", "version": 1}
    assert [v["version"] for v in server.http.get("/models/retried").json()["versions"]] == [1]
    log = server.log_path.read_text()
    assert "No space left on device (MAAS_FAILPOINT=registry_full)" in log
    waits = [(int(n), float(s)) for n, s in re.findall(r"'retried'.*; try (\d) of 5 in ([\d.]+) s", log)]
    assert [n for n, _ in waits] == [2, 3]
    for n, wait in waits:  # MAAS_PUBLISH_BACKOFF_S, doubled for each next try, stretched by up to half at random
        first = BACKOFF_S * 2 ** (n - 2)
        assert first - 0.005 <= wait <= first * 1.5 + 0.005, waits  # logged to 0.01 s
    assert staging(publishes.retried_dir) == [], "each failed try's staged copy of the model was removed"


def test_a_publish_that_keeps_failing_is_requeued_with_its_checkpoints_then_fails_saying_why(
    publishes: Publishes,
) -> None:
    server, data_dir, job = publishes.full, publishes.full_dir, publishes.jobs["full-disk"]
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
    # Ten failed tries left nothing staged: at most the one copy `freed`, publishing beside it, may hold right now.
    assert len(staging(data_dir)) <= 1


def test_once_the_disk_has_room_again_the_requeued_job_only_publishes(publishes: Publishes) -> None:
    server, data_dir, job = publishes.full, publishes.full_dir, publishes.jobs["freed"]
    before = server.wait_for(job["id"], lambda j: j["attempts"] >= 2)
    assert (data_dir / "jobs" / job["id"] / "checkpoints").is_dir(), "kept across the requeue"
    server.wait_for(publishes.jobs["full-disk"]["id"], lambda j: j["status"] in TERMINAL)  # the other test's job
    server.stop()

    server = Server(data_dir, publishes.log_dir / "freed.log")
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

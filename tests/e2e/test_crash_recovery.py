"""Break things on purpose: SIGKILL the whole service mid-training, crash between publishing and recording,
hammer predictions while a job trains. Nothing is lost, nothing is done twice."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sklearn.datasets import load_iris

from tests.e2e.server import Server
from tests.support import digits_spec, iris_spec

FAST_RECOVERY = {"MAAS_STALE_AFTER_S": "2"}  # a dead worker's jobs are requeued after 2 s, not 30


def kill_group(server: Server) -> None:
    """What a power cut does: the API, the supervisor and every job process die at once, no cleanup."""
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    server.stop()


def test_sigkill_mid_training_resumes_from_the_last_checkpoint(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "first.log", **FAST_RECOVERY)
    published = server.wait_finished(server.train(iris_spec(epochs=10))["id"])
    artifact = server.http.get("/models/iris-mlp/versions/1/artifact").content
    # No seed: a job restarted from scratch would give different losses for its first epochs. One step per call
    # keeps epochs slow enough (tens of ms on JAX otherwise) that the kill lands mid-training.
    spec = digits_spec(model_name="survivor", seed=None, fit={"epochs": 25, "batch_size": 8, "steps_per_execution": 1})
    job = server.train(spec)
    before = server.wait_for(job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 3)
    kill_group(server)

    server = Server(data_dir, tmp_path / "second.log", **FAST_RECOVERY)
    try:
        done = server.wait_finished(job["id"], timeout=300)
        # An epoch is recorded, then checkpointed: the kill may fall between the two for the last epoch seen.
        resumed_at = done["resumed_from"]["epoch"]
        assert done["attempts"] == 2 and resumed_at >= before["progress"]["epoch"] - 1 >= 2
        loss = done["metrics"]["history"]["loss"]
        assert len(loss) == 25, "no epoch missing, none doubled"
        kept = before["metrics"]["history"]["loss"][:resumed_at]
        assert loss[:resumed_at] == kept, "epochs before the checkpoint were kept, not rerun"
        assert done["model"] == {"name": "survivor", "version": 1}
        assert server.job(published["id"])["status"] == "succeeded"
        assert server.http.get("/models/iris-mlp/versions/1/artifact").content == artifact, "byte-identical"
    finally:
        server.stop()


def test_a_crash_between_publish_and_record_still_publishes_exactly_once(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "first.log", MAAS_FAILPOINT="after_publish", **FAST_RECOVERY)
    job = server.train(iris_spec(epochs=5, model_name="once", max_retries=5))
    server.wait_for(job["id"], lambda j: server.http.get("/models/once").status_code == 200, timeout=120)
    kill_group(server)

    server = Server(data_dir, tmp_path / "second.log", **FAST_RECOVERY)
    try:
        done = server.wait_finished(job["id"], timeout=180)
        assert done["model"] == {"name": "once", "version": 1}
        assert done["attempts"] >= 2
        model = server.http.get("/models/once").json()
        assert [v["version"] for v in model["versions"]] == [1] and model["versions"][0]["job_id"] == job["id"]
    finally:
        server.stop()


def test_sigterm_requeues_the_running_job_and_exits_cleanly(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "first.log", MAAS_SHUTDOWN_GRACE_S="1")
    job = server.train(digits_spec(model_name="graceful", fit={"epochs": 200, "batch_size": 8}))
    server.wait_for(job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 2)
    assert server.stop() == 0

    server = Server(data_dir, tmp_path / "second.log", MAAS_WORKERS="0")
    try:
        after = server.job(job["id"])
        assert after["status"] == "queued" and len(after["metrics"]["history"]["loss"]) >= 2
        server.http.post(f"/jobs/{job['id']}/cancel")
    finally:
        server.stop()


def test_two_hundred_predictions_while_a_job_trains_all_succeed(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "server.log")
    try:
        server.wait_finished(server.train(iris_spec(epochs=5))["id"])
        training = server.train(
            digits_spec(model_name="busy", fit={"epochs": 300, "batch_size": 8, "steps_per_execution": 1})
        )
        server.wait_for(training["id"], lambda j: j["status"] == "running")
        rows = load_iris().data.tolist()

        def predict(i: int) -> int:
            body = {"model": "iris-mlp", "instances": rows[i % 150 : i % 150 + 1]}
            with httpx.Client(base_url=server.url, timeout=60) as client:
                return client.post("/predict", json=body).status_code

        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(predict, range(200)))
        assert statuses == [200] * 200
        assert server.job(training["id"])["status"] == "running", "the job trained on while predictions were served"
        server.http.post(f"/jobs/{training['id']}/cancel")
    finally:
        server.stop()

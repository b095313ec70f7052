"""Jobs and models outlive the process; the API and workers can run apart; PostgreSQL works like SQLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

from tests.e2e.server import MaasProcess, Server, maas_env
from tests.support import digits_spec, iris_spec

IRIS = load_iris()


def predict_iris(server: Server, model: str = "iris-mlp") -> dict:
    response = server.http.post("/predict", json={"model": model, "instances": IRIS.data.tolist()})
    assert response.status_code == 200, response.text
    return response.json()


def test_restart_keeps_jobs_and_models_and_finishes_interrupted_work(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "first.log", MAAS_SHUTDOWN_GRACE_S="1")  # stopped mid-job, not after it
    try:
        done = server.wait_finished(server.train(iris_spec(epochs=30))["id"])
        before = predict_iris(server)
        sha = server.http.get("/models/iris-mlp/versions/1").json()["sha256"]
        slow = {"epochs": 40, "batch_size": 8, "steps_per_execution": 1}
        long_job = server.train(digits_spec(model_name="interrupted", fit=slow))
        server.wait_for(long_job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 1)
    finally:
        assert server.stop() == 0

    server = Server(data_dir, tmp_path / "second.log")
    try:
        assert server.job(done["id"])["status"] == "succeeded"
        assert server.http.get("/models/iris-mlp/versions/1").json()["sha256"] == sha
        assert predict_iris(server)["predictions"] == before["predictions"]
        resumed = server.wait_finished(long_job["id"], timeout=240)
        assert resumed["attempts"] == 2 and len(resumed["metrics"]["history"]["loss"]) == 40
        assert resumed["resumed_from"]["epoch"] >= 1, "it resumed from its checkpoint, not from epoch 0"
        assert resumed["model"] == {"name": "interrupted", "version": 1}
    finally:
        server.stop()


def test_api_and_burst_worker_run_apart(data_dir: Path, tmp_path: Path) -> None:
    api = Server(data_dir, tmp_path / "api.log", MAAS_WORKERS="0")
    try:
        job = api.train(iris_spec(epochs=30))
        assert api.job(job["id"])["status"] == "queued"
        worker = MaasProcess(["worker", "--burst"], maas_env(data_dir), tmp_path / "worker.log")
        assert worker.proc.wait(180) == 0, worker.log()
        worker.stop()
        finished = api.job(job["id"])
        assert finished["status"] == "succeeded", finished
        accuracy = (np.array(predict_iris(api)["classes"]) == np.array(IRIS.target_names)[IRIS.target]).mean()
        assert accuracy >= 0.8
    finally:
        api.stop()


def test_train_and_predict_on_postgresql(postgres_url: str, data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "pg.log", MAAS_DATABASE_URL=postgres_url)
    try:
        job = server.train(iris_spec(epochs=30))
        done = server.wait_finished(job["id"])
        assert len(done["metrics"]["history"]["loss"]) == 30
        assert [j["id"] for j in server.http.get("/jobs", params={"status": "succeeded"}).json()] == [job["id"]]
        assert predict_iris(server)["version"] == 1
    finally:
        server.stop()
    assert not (data_dir / "maas.db").exists(), "with a database URL, no SQLite file is written"

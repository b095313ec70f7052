"""The whole slice through real processes: train over HTTP in a worker child, publish, predict, cancel."""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.datasets import load_digits

from tests.e2e.server import Server
from tests.support import digits_spec


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_digits_mlp_trains_publishes_and_predicts_accurately(server: Server) -> None:
    job = server.train(digits_spec())
    done = server.wait_finished(job["id"])
    assert done["progress"]["epoch"] == done["progress"]["epochs"] == 10
    history = done["metrics"]["history"]
    assert len(history["loss"]) == len(history["val_accuracy"]) == 10
    assert history["loss"][-1] < history["loss"][0]
    assert done["model"] == {"name": "digits-mlp", "version": 1}

    digits = load_digits()
    body = server.http.post("/predict", json={"model": "digits-mlp", "instances": digits.data.tolist()}).json()
    assert body["version"] == 1
    accuracy = (np.array(body["classes"]) == digits.target.astype(str)).mean()
    assert accuracy >= 0.9, accuracy
    console = server.log_path.read_text(errors="replace")  # TensorFlow's native start-up notices stay out of it
    assert "oneDNN custom operations" not in console and "Could not find cuda drivers" not in console


def test_progress_shows_while_running_and_cancel_kills_the_child(server: Server) -> None:
    spec = digits_spec(model_name="digits-long", fit={"epochs": 2000, "batch_size": 8})
    job = server.train(spec)
    running = server.wait_for(job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 2)
    assert len(running["metrics"]["history"]["loss"]) >= 2 and running["progress"]["epochs"] == 2000
    pid = running["worker"]["pid"]
    assert pid is not None and not pid_gone(pid)

    started = time.monotonic()
    cancelled = server.http.post(f"/jobs/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    while not pid_gone(pid) and time.monotonic() - started < 5:
        time.sleep(0.05)
    assert pid_gone(pid), "the job's child process still runs 5 s after cancel"
    time.sleep(1)
    final = server.job(job["id"])
    assert final["status"] == "cancelled" and final["model"] is None
    assert server.http.get("/models/digits-long").status_code == 404


def test_second_job_is_version_2_and_an_alias_pins_version_1(server: Server) -> None:
    spec = digits_spec(model_name="digits-versions", fit={"epochs": 2, "batch_size": 64})
    first = server.wait_finished(server.train(spec)["id"])
    second = server.wait_finished(server.train(spec)["id"])
    assert (first["model"]["version"], second["model"]["version"]) == (1, 2)

    assert server.http.put("/models/digits-versions/aliases/production", json={"version": 1}).status_code == 200
    rows = load_digits().data[:3].tolist()
    by_alias = server.http.post("/predict", json={"model": "digits-versions", "alias": "production", "instances": rows})
    latest = server.http.post("/predict", json={"model": "digits-versions", "instances": rows})
    assert by_alias.json()["version"] == 1 and latest.json()["version"] == 2
    summary = next(m for m in server.http.get("/models").json() if m["name"] == "digits-versions")
    assert summary == {"name": "digits-versions", "latest_version": 2, "aliases": {"production": 1}, "versions": 2}


def test_a_failing_job_is_failed_with_its_reason_and_the_worker_lives_on(server: Server) -> None:
    spec = digits_spec(
        model_name="digits-diverge",
        optimizer={"name": "sgd", "learning_rate": 10.0},
        fit={"epochs": 2, "batch_size": 64},
    )
    job = server.wait_for(server.train(spec)["id"], lambda j: j["status"] in ("succeeded", "failed"))
    # A huge learning rate may diverge (NaN loss, recorded as null) but must never wedge the worker.
    assert job["status"] == "succeeded" or job["error"]["message"]
    ok = server.wait_finished(server.train(digits_spec(model_name="digits-after", fit={"epochs": 1}))["id"])
    assert ok["model"]["version"] == 1

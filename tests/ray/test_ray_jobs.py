"""Jobs through the HTTP API on a real Ray cluster: they train on a Ray worker node and publish, cancel kills the
task's process, and a job that no node can fit fails at once, saying why."""

from __future__ import annotations

import time

import pytest
from sklearn.datasets import load_iris

from tests.e2e.server import Server
from tests.ray.cluster import LoopbackCluster, process_gone
from tests.support import digits_spec, iris_spec

pytestmark = pytest.mark.ray


def test_a_job_trains_on_a_ray_worker_node_and_publishes(server: Server, cluster: LoopbackCluster) -> None:
    spec = iris_spec(epochs=40, model_name="iris-on-ray", resources={"cpus": 1})
    job = server.train(spec)
    # The task records its pid first thing, seconds before it has even imported TensorFlow.
    running = server.wait_for(job["id"], lambda j: j["status"] == "running" and j["worker"]["pid"] is not None)
    assert cluster.node_running(running["worker"]["pid"]) is cluster.workers[0], "trained by a Ray worker process"

    done = server.wait_finished(job["id"])
    assert done["model"] == {"name": "iris-on-ray", "version": 1} and done["attempts"] == 1
    assert len(done["metrics"]["history"]["loss"]) == 40
    rows = load_iris().data[:5].tolist()
    answer = server.http.post("/predict", json={"model": "iris-on-ray", "instances": rows})
    assert answer.status_code == 200 and answer.json()["version"] == 1


def test_cancel_kills_the_ray_task_and_frees_its_node(server: Server, cluster: LoopbackCluster) -> None:
    job = server.train(digits_spec(model_name="digits-cancelled", fit={"epochs": 2000, "batch_size": 8}))
    running = server.wait_for(job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 2)
    pid = running["worker"]["pid"]
    assert cluster.node_running(pid) is not None

    assert server.http.post(f"/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
    deadline = time.monotonic() + 30
    while not process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process_gone(pid), "the Ray task's process outlived the cancel"
    assert server.job(job["id"])["status"] == "cancelled"
    assert server.http.get("/models/digits-cancelled").status_code == 404
    # The node's only CPU was given back: the next job gets it and finishes.
    server.wait_finished(server.train(iris_spec(epochs=2, model_name="after-cancel"))["id"])


def test_a_job_no_node_can_fit_fails_at_once_naming_the_shortfall(server: Server) -> None:
    job = server.train(iris_spec(model_name="too-big", resources={"cpus": 64}))
    failed = server.wait_for(job["id"], lambda j: j["status"] == "failed", timeout=60)
    assert failed["error"]["type"] == "Unschedulable"
    assert "64 CPU" in failed["error"]["message"]


def test_resources_are_checked_before_anything_is_queued(server: Server) -> None:
    for resources in ({"cpus": 0}, {"gpus": -1}, {"memory_gb": 0}, {"cpus": 1, "disks": 2}):
        answer = server.http.post("/train", json=iris_spec(resources=resources))
        assert answer.status_code == 422, resources

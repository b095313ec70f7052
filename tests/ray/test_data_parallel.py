"""`resources.workers: 2` through the HTTP API on a real two-node Ray cluster: one job trains as two Ray Train
replicas (one per node) that end with identical weights, publishes one model as good as a single worker's, and
cancelling it takes every replica's process down with the job's task."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from app.client.sse import iter_events
from tests.e2e.server import Server
from tests.ray.cluster import LoopbackCluster, process_gone
from tests.support import digits_spec, iris_spec

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    """Two 1-CPU worker nodes: a 2-worker job needs both, so its replicas talk across nodes."""
    ray_cluster = LoopbackCluster()
    try:
        ray_cluster.add_worker(cpus=1)
        ray_cluster.add_worker(cpus=1)
        yield ray_cluster
    finally:
        ray_cluster.shutdown()


def train_worker_pids(cluster: LoopbackCluster) -> set[int]:
    """Live Ray Train worker processes on the cluster's worker nodes."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except (FileNotFoundError, PermissionError, NotADirectoryError, ProcessLookupError):
            continue
        if proc.name.isdigit() and b"RayTrainWorker" in cmdline and cluster.node_running(int(proc.name)):
            found.add(int(proc.name))
    return found


def iris_accuracy(server: Server, model: str) -> float:
    """What a user checks: the published model's predictions over /predict, scored against the labels."""
    iris = load_iris()
    answer = server.http.post("/predict", json={"model": model, "instances": iris.data.tolist()})
    assert answer.status_code == 200, answer.text
    return float(np.mean(np.argmax(answer.json()["predictions"], axis=1) == iris.target))


def test_cancel_stops_every_replica_of_a_data_parallel_job(server: Server, cluster: LoopbackCluster) -> None:
    spec = digits_spec(model_name="digits-dp-cancelled", fit={"epochs": 2000, "batch_size": 8})
    job = server.train({**spec, "resources": {"workers": 2}})
    running = server.wait_for(job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 2)
    replicas = train_worker_pids(cluster)
    assert len(replicas) == 2, "one Ray Train worker process per replica"
    assert {cluster.node_running(pid) for pid in replicas} == set(cluster.workers), "one replica per node"

    assert server.http.post(f"/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
    watched = [*replicas, running["worker"]["pid"]]
    deadline = time.monotonic() + 30
    while not all(process_gone(pid) for pid in watched) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(process_gone(pid) for pid in watched), "a replica or the job's task outlived the cancel"
    assert server.job(job["id"])["status"] == "cancelled"
    assert server.http.get("/models/digits-dp-cancelled").status_code == 404


def test_two_replicas_train_one_model_as_good_as_one_workers(server: Server) -> None:
    # Runs after the cancel above: it only gets both nodes' CPUs if the cancelled job's replicas gave them back.
    epochs = 20
    spec = iris_spec(epochs=epochs, model_name="iris-2-workers", resources={"workers": 2})
    done = server.wait_finished(server.train(spec)["id"])
    assert done["status"] == "succeeded", done.get("error")
    assert done["model"] == {"name": "iris-2-workers", "version": 1} and done["progress"]["epoch"] == epochs
    history = done["metrics"]["history"]
    assert len(history["loss"]) == len(history["accuracy"]) == epochs, "rank 0 recorded every epoch"
    with server.http.stream("GET", f"/jobs/{done['id']}/events") as stream:
        progress = [e.data["epoch"] for e in iter_events(stream.iter_lines()) if e.event == "progress"]
    assert progress == list(range(1, epochs + 1))
    assert server.http.get(f"/jobs/{done['id']}/tensorboard").status_code == 200
    version = server.http.get("/models/iris-2-workers/versions/1").json()
    hashes = version["replica_weights_sha256"]
    assert len(hashes) == 2 and hashes[0] == hashes[1], "the replicas ended with different weights"
    assert version["saved_model"] == "." and version["onnx"] == "model.onnx", "the usual serving exports"

    single = server.wait_finished(server.train(iris_spec(epochs=epochs, model_name="iris-1-worker"))["id"])
    assert single["status"] == "succeeded", single.get("error")
    # Same data, epochs, global batch size and seed: the same quality, up to the order of float additions.
    final, final_single = done["metrics"]["final"], single["metrics"]["final"]
    assert abs(final["loss"] - final_single["loss"]) < 0.1, (final, final_single)
    two, one = iris_accuracy(server, "iris-2-workers"), iris_accuracy(server, "iris-1-worker")
    assert two >= 0.9 and abs(two - one) <= 0.05, (two, one)


def test_more_workers_than_the_cluster_holds_fail_at_once_naming_the_shortfall(server: Server) -> None:
    job = server.train(iris_spec(model_name="too-many-workers", resources={"workers": 3}))
    failed = server.wait_for(job["id"], lambda j: j["status"] == "failed", timeout=60)
    assert failed["error"]["type"] == "Unschedulable"
    assert "fits 2 of the 3 workers" in failed["error"]["message"]


def test_a_lost_replica_node_reruns_the_job_from_rank_0s_checkpoint(server: Server, cluster: LoopbackCluster) -> None:
    # Last in this module: it swaps one of the cluster's two nodes for a fresh one.
    epochs = 6
    spec = digits_spec(model_name="digits-dp-survivor", fit={"epochs": epochs, "batch_size": 16})
    job = server.train({**spec, "resources": {"workers": 2}})
    before = server.wait_for(job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 2)
    doomed = cluster.node_running(min(train_worker_pids(cluster)))
    cluster.add_worker(cpus=1)
    cluster.remove_worker(doomed)

    done = server.wait_finished(job["id"], timeout=240)
    assert done["status"] == "succeeded", done.get("error")
    resumed_at = done["resumed_from"]["epoch"]
    assert done["attempts"] == 2 and resumed_at >= before["progress"]["epoch"] - 1 >= 1
    loss = done["metrics"]["history"]["loss"]
    assert len(loss) == epochs, "no epoch missing, none doubled"
    kept = before["metrics"]["history"]["loss"][:resumed_at]
    assert loss[: len(kept)] == kept, "checkpointed epochs were kept, not rerun"
    hashes = server.http.get("/models/digits-dp-survivor/versions/1").json()["replica_weights_sha256"]
    assert len(hashes) == 2 and hashes[0] == hashes[1]

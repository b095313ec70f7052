"""Profile and batch-prediction jobs run in a light child through a real `maas serve`: one that never imports
Keras or TensorFlow (over a GB of memory), as each child's last log line says, while training keeps its warm
child with Keras loaded."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.test_dataset_sources import table, write_parquet_parts
from tests.e2e.server import Server
from tests.support import iris_spec


def footprint(server: Server, job_id: str) -> tuple[str, int]:
    """The child's own account of a finished job: whether Keras/TensorFlow was loaded, and its peak RSS (MiB)."""
    found = re.search(
        rf"job {job_id} \(\w+\) delivered; peak RSS (\d+) MiB, Keras/TensorFlow (loaded|not loaded)",
        server.log_path.read_text(errors="replace"),
    )
    assert found is not None, server.log_path.read_text(errors="replace")
    return found.group(2), int(found.group(1))


def test_profile_and_batch_prediction_children_never_import_tensorflow(sourced: tuple[Server, Path]) -> None:
    server, sources = sourced
    write_parquet_parts(table(rows=5_000, seed=3), sources / "train", parts=2)
    body = {"name": "big", "source": f"file://{sources}/train/", "format": "parquet", "target": "label"}
    assert server.http.post("/datasets", json=body).status_code == 202
    (profile,) = server.http.get("/jobs", params={"kind": "profile"}).json()
    server.wait_finished(profile["id"])
    training = server.wait_finished(server.train(iris_spec(epochs=2))["id"])
    batch = {"model": "iris-mlp", "version": 1, "dataset": {"builtin": "iris"}, "format": "parquet"}
    predict = server.wait_finished(server.http.post("/batch-predictions", json=batch).json()["id"])

    assert predict["progress"]["rows"] == 150
    assert footprint(server, profile["id"])[0] == "not loaded"
    assert footprint(server, predict["id"])[0] == "not loaded"
    assert footprint(server, training["id"])[0] == "loaded"
    assert footprint(server, predict["id"])[1] < 1024, "the issue's target: a batch-prediction child under 1 GB"

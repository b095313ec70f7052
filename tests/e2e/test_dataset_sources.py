"""A registered source through a real `maas serve`: its profile job runs in a spawned worker child, like any job,
and the dataset it makes ready is what a user trains on (here small enough to be read into memory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.api.test_dataset_sources import table, write_parquet_parts
from tests.e2e.server import Server
from tests.support import iris_spec

ROWS = 6_000  # two Parquet parts, each a row group: enough to show the profile reads every file


def test_a_registered_source_is_profiled_by_a_worker_child(sourced: tuple[Server, Path]) -> None:
    server, sources = sourced
    frame = table(rows=ROWS, seed=3)
    write_parquet_parts(frame, sources / "train", parts=2)
    body = {"name": "big", "source": f"file://{sources}/train/", "format": "parquet", "target": "label"}
    registered = server.http.post("/datasets", json=body)
    assert registered.status_code == 202, registered.text
    (job,) = server.http.get("/jobs", params={"kind": "profile"}).json()
    done = server.wait_finished(job["id"])
    assert done["worker"]["pid"] is not None and done["progress"]["rows"] == ROWS

    info = server.http.get(registered.headers["location"]).json()
    assert (info["status"], info["rows"], info["classes"]) == ("ready", ROWS, ["cat", "dog", "eel"])
    x = frame.drop(columns="label").to_numpy(np.float32).astype(np.float64)
    np.testing.assert_allclose(info["feature_mean"], x.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(info["feature_std"], x.std(axis=0), rtol=1e-9)

    trained = server.wait_finished(
        server.train(iris_spec(epochs=1, model_name="big-mlp", dataset={"id": info["id"]}))["id"]
    )
    version = server.http.get(f"/models/big-mlp/versions/{trained['model']['version']}").json()
    assert version["input_shape"][1:] == [12] and version["classes"] == ["cat", "dog", "eel"]

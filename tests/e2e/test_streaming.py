"""Data bigger than memory, made so by MAAS_IN_MEMORY_MB=0: a Parquet source registered through `POST /datasets`
trains streamed from its files through a real `maas serve` and its worker child, to the accuracy the same table
reaches uploaded (in memory), and to the same history with its row cache as without it; a streamed job SIGKILLed
mid-training resumes to the history of an uninterrupted run; evaluations and batch predictions read the files and
answer what they answer on the upload."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.e2e.server import Server
from tests.e2e.test_crash_recovery import FAST_RECOVERY, kill_group

ROWS, FEATURES = 8_000, 24  # about 0.8 MB of Parquet in 8 row groups: more than one read unit, shard and batch
CLASSES = ["low", "mid", "high"]


def make_table(path: Path) -> pd.DataFrame:
    """A learnable three-class table: the label is a band of a linear score of the features (plus noise)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(ROWS, FEATURES)).astype(np.float32) * rng.uniform(0.5, 20, FEATURES).astype(np.float32)
    score = (x / x.std(axis=0)) @ rng.normal(size=FEATURES) + rng.normal(scale=0.5, size=ROWS)
    bands = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(FEATURES)])
    frame["label"] = np.array(CLASSES)[bands]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, row_group_size=1000)
    return frame


def spec(dataset: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "model_name": "banded",
        "dataset": dataset,
        "model": {
            "layers": [
                {"type": "dense", "units": 32, "activation": "relu"},
                {"type": "dense", "units": 3, "activation": "softmax"},
            ]
        },
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "optimizer": {"name": "adam", "learning_rate": 0.003},
        "preprocessing": {"normalize": True},
        "fit": {"epochs": 4, "batch_size": 64, "validation_split": 0.1, "test_split": 0.1},
        "seed": 11,
        **overrides,
    }


def streaming_server(data_dir: Path, log: Path, sources: Path, **env: str) -> Server:
    return Server(data_dir, log, MAAS_IN_MEMORY_MB="0", MAAS_DATASET_SOURCES=f"file://{sources}/", **env)


def register(server: Server, source: Path) -> dict[str, Any]:
    """Register the file and wait for its profile job; the dataset once ready."""
    body = {"name": "banded", "source": f"file://{source}", "format": "parquet", "target": "label"}
    response = server.http.post("/datasets", json=body)
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 120
    while (info := server.http.get(f"/datasets/{response.json()['id']}").json())["status"] == "profiling":
        assert time.monotonic() < deadline, f"still profiling\n{server.log()}"
        time.sleep(0.1)
    assert info["status"] == "ready", info
    return info


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sources")
    make_table(folder / "banded.parquet")
    return folder


@pytest.fixture(scope="module")
def streaming(tmp_path_factory: pytest.TempPathFactory, sources: Path) -> Iterator[dict[str, Any]]:
    """A server that streams every file-backed dataset, the source registered, the same file uploaded, and a
    model trained on each: their ids and jobs."""
    home = tmp_path_factory.mktemp("maas")
    server = streaming_server(home / "data", home / "server.log", sources)
    try:
        streamed = register(server, sources / "banded.parquet")
        upload = server.http.post(
            "/datasets",
            files={"file": ("banded.parquet", (sources / "banded.parquet").read_bytes())},
            data={"name": "banded-upload", "target": "label"},
        )
        assert upload.status_code == 201, upload.text
        on_files = server.train(spec({"id": streamed["id"]}))
        in_memory = server.train(spec({"id": upload.json()["id"]}, model_name="banded-memory"))
        yield {
            "server": server,
            "data_dir": home / "data",
            "streamed": streamed,
            "upload": upload.json(),
            "on_files": server.wait_finished(on_files["id"], timeout=300),
            "in_memory": server.wait_finished(in_memory["id"], timeout=300),
        }
    finally:
        server.stop()


def test_a_streamed_dataset_trains_to_the_accuracy_it_reaches_in_memory(streaming: dict[str, Any]) -> None:
    server, streamed = streaming["server"], streaming["streamed"]
    on_files, in_memory = streaming["on_files"], streaming["in_memory"]
    version = server.http.get("/models/banded/versions/1").json()

    assert len(streamed["files"]) == 1 and streamed["files"][0].endswith("/banded.parquet")
    assert f"streaming dataset {streamed['id']} from 1 files" in server.log_path.read_text(), (
        "it was read from its files"
    )
    streamed_accuracy = on_files["metrics"]["test"]["accuracy"]
    memory_accuracy = in_memory["metrics"]["test"]["accuracy"]
    assert streamed_accuracy >= 0.85 and memory_accuracy >= 0.85
    assert abs(streamed_accuracy - memory_accuracy) <= 0.03
    assert on_files["metrics"]["final"]["val_accuracy"] >= 0.85
    assert version["dataset"]["sha256"] == streamed["sha256"] and version["dataset"]["rows"] == ROWS
    assert version["classes"] == sorted(CLASSES) and version["input_shape"] == [None, FEATURES]


def row_cache_files(data_dir: Path) -> list[Path]:
    return [path for path in data_dir.rglob("*") if path.name == "row-cache" or path.suffix == ".bin"]


def test_a_streamed_job_trains_the_same_with_its_row_cache_as_without_and_leaves_none_behind(
    streaming: dict[str, Any], tmp_path: Path, sources: Path
) -> None:
    server = streaming_server(tmp_path / "data", tmp_path / "uncached.log", sources, MAAS_STREAM_CACHE="false")
    try:
        dataset = {"id": register(server, sources / "banded.parquet")["id"]}
        uncached = server.wait_finished(server.train(spec(dataset))["id"], timeout=300)
    finally:
        server.stop()
    cached = streaming["on_files"]

    assert "caching the decoded rows of dataset" in streaming["server"].log_path.read_text()
    assert "are not cached (MAAS_STREAM_CACHE is off)" in server.log_path.read_text()
    assert cached["status"] == uncached["status"] == "succeeded"
    assert cached["metrics"]["history"] == uncached["metrics"]["history"], "every epoch, validation included"
    assert cached["metrics"]["test"] == uncached["metrics"]["test"]
    assert row_cache_files(streaming["data_dir"]) == [], "the cache went with the job"


def test_what_a_streamed_dataset_cannot_do_is_a_422_before_queueing(streaming: dict[str, Any]) -> None:
    server, dataset = streaming["server"], {"id": streaming["streamed"]["id"]}
    fit = {"epochs": 2, "batch_size": 64}
    cv = server.http.post("/train", json=spec(dataset, fit=fit, cross_validation={"folds": 3}))
    auto = server.http.post("/train", json=spec(dataset, optimizer={"name": "adam", "learning_rate": "auto"}))

    assert cv.status_code == 422 and "streamed from its files" in cv.json()["detail"]
    assert ["cross_validation"] in [e["loc"] for e in cv.json()["errors"]]
    assert auto.status_code == 422 and "LR range test" in auto.json()["detail"]


def test_an_evaluation_reads_the_files_and_scores_as_on_the_upload(streaming: dict[str, Any]) -> None:
    server = streaming["server"]
    evaluations = []
    for dataset in (streaming["streamed"], streaming["upload"]):
        response = server.http.post("/models/banded/versions/1/evaluations", json={"dataset": {"id": dataset["id"]}})
        assert response.status_code == 202, response.text
        job = server.wait_finished(response.json()["id"])
        assert job["progress"]["rows"] == job["progress"]["total_rows"] == ROWS
        [evaluation] = [
            e for e in server.http.get("/models/banded/versions/1/evaluations").json() if e["job_id"] == job["id"]
        ]
        evaluations.append(evaluation)
    on_files, uploaded = evaluations

    assert on_files["dataset"]["rows"] == ROWS and on_files["dataset"]["sha256"] == streaming["streamed"]["sha256"]
    assert on_files["confusion_matrix"] == uploaded["confusion_matrix"]
    assert np.sum(on_files["confusion_matrix"]["matrix"]) == ROWS
    assert on_files["metrics"] == pytest.approx(uploaded["metrics"], rel=1e-5)
    assert on_files["metrics"]["accuracy"] >= 0.85


def test_a_batch_prediction_reads_the_files_shard_by_shard(streaming: dict[str, Any]) -> None:
    server, tables = streaming["server"], []
    for dataset in (streaming["streamed"], streaming["upload"]):
        body = {"model": "banded", "version": 1, "dataset": {"id": dataset["id"]}, "format": "parquet"}
        job = server.wait_finished(
            server.http.post("/batch-predictions", json={**body, "shard_rows": 3000}).json()["id"]
        )
        assert job["progress"]["rows"] == job["progress"]["total_rows"] == ROWS
        tables.append(pq.read_table(io.BytesIO(server.http.get(f"/jobs/{job['id']}/output").content)).to_pandas())
    on_files, uploaded = tables

    assert on_files["row"].tolist() == list(range(ROWS)), "every row once, in order"
    assert on_files["class"].tolist() == uploaded["class"].tolist()
    columns = [f"probability_{label}" for label in sorted(CLASSES)]
    np.testing.assert_allclose(on_files[columns].to_numpy(), uploaded[columns].to_numpy(), atol=1e-6)


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])  # their streamed inputs differ (app/training/streaming.py)
def test_a_streamed_job_killed_mid_training_resumes_to_the_uninterrupted_history(
    data_dir: Path, tmp_path: Path, sources: Path, backend: str
) -> None:
    server = streaming_server(data_dir, tmp_path / "first.log", sources, **FAST_RECOVERY)
    dataset = {"id": register(server, sources / "banded.parquet")["id"]}
    # One step per call and small batches keep epochs long enough for the kill to land mid-training.
    fit = {"epochs": 6, "batch_size": 32, "validation_split": 0.1, "steps_per_execution": 1}
    straight = spec(dataset, model_name="straight", fit=fit, backend=backend)
    straight = server.wait_finished(server.train(straight)["id"], timeout=300)
    job = server.train(spec(dataset, model_name="survivor", fit=fit, backend=backend))
    before = server.wait_for(job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 2)
    kill_group(server)

    server = streaming_server(data_dir, tmp_path / "second.log", sources, **FAST_RECOVERY)
    try:
        done = server.wait_finished(job["id"], timeout=300)
        resumed_at = done["resumed_from"]["epoch"]
        assert done["attempts"] == 2 and resumed_at >= before["progress"]["epoch"] - 1 >= 1
        history, expected = done["metrics"]["history"], straight["metrics"]["history"]
        assert len(history["loss"]) == 6, "no epoch missing, none doubled"
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert history[name] == pytest.approx(expected[name], rel=1e-5), name
    finally:
        server.stop()

"""Keras backends per job, through a real `maas serve`: TensorFlow and JAX each train `digits` well, a seed gives
the same metrics twice, a JAX job SIGKILLed mid-training resumes to the history an uninterrupted run has, a
JAX-trained version serves from ONNX Runtime as Keras computes it, and mixed precision serves float32."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tests.e2e.server import Server
from tests.support import digits_spec

pytestmark = pytest.mark.timeout(600)  # the first test waits for the module's five jobs

ROWS = load_digits().data[:64].astype(np.float32)
#: Slow enough per epoch (one step per call, batch 8) that a kill lands mid-training, seeded so runs compare.
RESUMABLE = {"backend": "jax", "seed": 42, "fit": {"epochs": 100, "batch_size": 8, "steps_per_execution": 1}}


@pytest.fixture(scope="module")
def trained(server: Server) -> Iterator[dict[str, dict[str, Any]]]:
    """One job per case, submitted together so that they train back to back in the module's server."""
    specs = {
        "tensorflow": digits_spec(model_name="on-tf", backend="tensorflow"),
        "jax": digits_spec(model_name="on-jax", backend="jax"),
        "jax-again": digits_spec(model_name="on-jax-again", backend="jax"),
        "bfloat16": digits_spec(model_name="bf16", backend="jax", precision="mixed_bfloat16"),
        "resumable": digits_spec(model_name="uninterrupted", **RESUMABLE),
    }
    jobs = {case: server.train(spec)["id"] for case, spec in specs.items()}
    yield {case: server.wait_finished(job_id, timeout=600) for case, job_id in jobs.items()}


def version(server: Server, job: dict[str, Any]) -> dict[str, Any]:
    return server.http.get(f"/models/{job['model']['name']}/versions/{job['model']['version']}").json()


def keras_outputs(server: Server, job: dict[str, Any], tmp_path: Path) -> np.ndarray:
    """What the published `.keras` file computes, loaded here (on TensorFlow)."""
    import keras

    path = tmp_path / "model.keras"
    name, number = job["model"]["name"], job["model"]["version"]
    path.write_bytes(server.http.get(f"/models/{name}/versions/{number}/artifact").content)
    return np.asarray(keras.saving.load_model(path)(ROWS, training=False))


def served(server: Server, job: dict[str, Any]) -> np.ndarray:
    response = server.http.post("/predict", json={"model": job["model"]["name"], "instances": ROWS.tolist()})
    assert response.status_code == 200, response.text
    return np.array(response.json()["predictions"])


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_each_backend_trains_digits_well(server: Server, trained: dict, backend: str) -> None:
    job = trained[backend]
    assert job["metrics"]["final"]["val_accuracy"] >= 0.9
    seconds = job["metrics"]["epoch_seconds"]
    assert len(seconds) == len(job["metrics"]["history"]["loss"]) == 10 and min(seconds) > 0
    assert job["progress"]["samples_per_second"] > 0
    meta = version(server, job)
    assert (meta["backend"], meta["precision"]) == (backend, "float32")


def test_the_same_seed_gives_the_same_metrics(trained: dict) -> None:
    assert trained["jax"]["metrics"]["history"] == trained["jax-again"]["metrics"]["history"]


def test_a_jax_version_serves_from_onnx_runtime_as_keras_computes_it(
    server: Server, trained: dict, tmp_path: Path
) -> None:
    job = trained["jax"]
    assert version(server, job)["runtime"] == "onnxruntime"
    np.testing.assert_allclose(served(server, job), keras_outputs(server, job, tmp_path), rtol=1e-5, atol=1e-5)


def test_mixed_bfloat16_trains_and_serves_float32(server: Server, trained: dict, tmp_path: Path) -> None:
    job = trained["bfloat16"]
    assert job["metrics"]["final"]["val_accuracy"] >= 0.8
    assert version(server, job)["precision"] == "mixed_bfloat16"
    body = {"inputs": [{"name": "input", "shape": list(ROWS.shape), "datatype": "FP32", "data": ROWS.ravel().tolist()}]}
    output = server.http.post("/v2/models/bf16/infer", json=body).json()["outputs"][0]
    assert output["datatype"] == "FP32"
    probabilities = np.array(output["data"]).reshape(output["shape"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)  # a float32 softmax, not a bfloat16 one
    np.testing.assert_allclose(probabilities, keras_outputs(server, job, tmp_path), rtol=1e-5, atol=1e-5)


def test_a_sigkilled_jax_job_resumes_to_the_uninterrupted_history(
    trained: dict, data_dir: Path, tmp_path: Path
) -> None:
    recovery = {"MAAS_STALE_AFTER_S": "2"}
    server = Server(data_dir, tmp_path / "first.log", **recovery)
    job = server.train(digits_spec(model_name="survivor", **RESUMABLE))
    server.wait_for(job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 5, timeout=300)
    os.killpg(server.proc.pid, signal.SIGKILL)  # API, supervisor and the job's child die at once
    server.proc.wait(10)
    server.stop()

    server = Server(data_dir, tmp_path / "second.log", **recovery)
    try:
        done = server.wait_finished(job["id"], timeout=300)
        assert done["attempts"] == 2 and done["resumed_from"]["epoch"] >= 4
        assert done["metrics"]["history"] == trained["resumable"]["metrics"]["history"]
    finally:
        server.stop()

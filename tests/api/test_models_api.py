"""The registry and /predict over HTTP, on versions trained for real by maas' own training code."""

from __future__ import annotations

import hashlib

import numpy as np
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris

from tests.api.test_train_api import assert_problem

IRIS = load_iris()


def test_models_list_and_detail(served: TestClient) -> None:
    assert served.get("/models").json() == [{"name": "iris-mlp", "latest_version": 2, "aliases": {}, "versions": 2}]
    detail = served.get("/models/iris-mlp").json()
    assert [v["version"] for v in detail["versions"]] == [1, 2]


def test_version_metadata_says_how_to_call_and_reproduce(served: TestClient) -> None:
    meta = served.get("/models/iris-mlp/versions/1").json()
    assert meta["input_shape"] == [None, 4] and meta["output_shape"] == [None, 3]
    assert meta["classes"] == ["setosa", "versicolor", "virginica"] and meta["task"] == "classification"
    assert meta["job_id"] == "job-1" and meta["spec"]["seed"] == 7
    assert meta["dataset"]["name"] == "iris" and len(meta["dataset"]["sha256"]) == 64
    assert set(meta["framework"]) >= {"tensorflow", "keras"}
    assert "accuracy" in meta["metrics"]
    artifact = served.get("/models/iris-mlp/versions/1/artifact")
    assert artifact.status_code == 200
    assert hashlib.sha256(artifact.content).hexdigest() == meta["sha256"]


def test_predict_latest_version_and_alias(served: TestClient) -> None:
    rows = IRIS.data[:5].tolist()
    latest = served.post("/predict", json={"model": "iris-mlp", "instances": rows}).json()
    assert latest["version"] == 2 and len(latest["predictions"]) == 5
    assert served.put("/models/iris-mlp/aliases/production", json={"version": 1}).json()["aliases"] == {"production": 1}
    aliased = served.post("/predict", json={"model": "iris-mlp", "alias": "production", "instances": rows}).json()
    pinned = served.post("/predict", json={"model": "iris-mlp", "version": 1, "instances": rows}).json()
    assert aliased["version"] == 1 and aliased["predictions"] == pinned["predictions"]
    assert served.get("/models").json()[0]["aliases"] == {"production": 1}


def test_predicted_classes_are_the_datasets_label_names(served: TestClient) -> None:
    body = served.post("/predict", json={"model": "iris-mlp", "version": 1, "instances": IRIS.data.tolist()}).json()
    predicted = np.array(body["classes"])
    expected = np.array(IRIS.target_names)[IRIS.target]
    assert (predicted == expected).mean() >= 0.9
    probabilities = np.array(body["predictions"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_wrong_input_shape_names_the_expected_shape(served: TestClient) -> None:
    body = assert_problem(served.post("/predict", json={"model": "iris-mlp", "instances": [[1, 2, 3]]}), 422)
    assert "[-1, 4]" in body["detail"]
    body = assert_problem(served.post("/predict", json={"model": "iris-mlp", "instances": [["a", 1, 2, 3]]}), 422)
    assert body["code"] == "invalid_input"
    assert_problem(served.post("/predict", json={"model": "iris-mlp", "instances": []}), 422)


def test_unknown_model_version_and_alias_are_404(served: TestClient) -> None:
    rows = IRIS.data[:1].tolist()
    assert assert_problem(served.post("/predict", json={"model": "nope", "instances": rows}), 404)["code"] == (
        "model_not_found"
    )
    missing = served.post("/predict", json={"model": "iris-mlp", "version": 9, "instances": rows})
    assert assert_problem(missing, 404)["code"] == "version_not_found"
    no_alias = served.post("/predict", json={"model": "iris-mlp", "alias": "staging", "instances": rows})
    assert assert_problem(no_alias, 404)["code"] == "alias_not_found"
    assert_problem(served.get("/models/iris-mlp/versions/9"), 404)
    assert_problem(served.put("/models/iris-mlp/aliases/production", json={"version": 9}), 404)


def test_delete_version_never_reuses_its_number_and_respects_aliases(served: TestClient) -> None:
    served.put("/models/iris-mlp/aliases/production", json={"version": 2})
    assert_problem(served.delete("/models/iris-mlp/versions/2"), 409)
    assert served.delete("/models/iris-mlp/aliases/production").json()["aliases"] == {}
    assert served.delete("/models/iris-mlp/versions/2").status_code == 204
    assert_problem(served.get("/models/iris-mlp/versions/2"), 404)
    assert served.get("/models").json()[0]["latest_version"] == 1


def test_names_that_could_escape_the_registry_are_refused(served: TestClient) -> None:
    assert_problem(served.get("/models/..secret"), 422)
    assert_problem(served.get("/models/Iris-MLP/versions/1"), 422)
    assert_problem(served.put("/models/iris-mlp/aliases/Prod!", json={"version": 1}), 422)

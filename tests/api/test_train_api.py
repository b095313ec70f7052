"""POST /train and the jobs endpoints against the real app, with no workers: specs are checked, jobs queued."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import digits_spec, iris_spec

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["code"]
    return body


def test_health_and_ready_without_workers(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_train_queues_a_job_with_location(client: TestClient) -> None:
    response = client.post("/train", json=digits_spec())
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert job["status"] == "queued" and job["progress"] == {"epoch": 0, "epochs": 10, "fold": None, "folds": None}
    stored = client.get(f"/jobs/{job['id']}").json()["spec"]
    assert [layer.get("units") for layer in stored["model"]["layers"]] == [128, None, 64, 10]
    assert stored["seed"] == 42 and stored["fit"]["shuffle"] is True  # defaults are recorded, for reproduction


def test_jobs_list_newest_first_with_filters(client: TestClient) -> None:
    first = client.post("/train", json=iris_spec()).json()
    second = client.post("/train", json=digits_spec()).json()
    assert [j["id"] for j in client.get("/jobs").json()] == [second["id"], first["id"]]
    assert [j["id"] for j in client.get("/jobs", params={"model_name": "iris-mlp"}).json()] == [first["id"]]
    assert [j["id"] for j in client.get("/jobs", params={"limit": 1, "offset": 1}).json()] == [first["id"]]
    client.post(f"/jobs/{first['id']}/cancel")
    assert [j["id"] for j in client.get("/jobs", params={"status": "cancelled"}).json()] == [first["id"]]
    assert_problem(client.get("/jobs", params={"status": "sleeping"}), 422)


def test_cancel_queued_job_then_cancel_again_is_a_no_op(client: TestClient) -> None:
    job = client.post("/train", json=iris_spec()).json()
    cancelled = client.post(f"/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    again = client.post(f"/jobs/{job['id']}/cancel")
    assert again.status_code == 200 and again.json()["finished_at"] == cancelled.json()["finished_at"]


def test_unknown_job_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/jobs/nope"), 404)
    assert "nope" in body["detail"]
    assert_problem(client.post("/jobs/nope/cancel"), 404)


def test_sigmoid_head_for_ten_classes_is_refused_and_nothing_is_queued(client: TestClient) -> None:
    spec = digits_spec()
    spec["model"]["layers"][-1] = {"type": "dense", "units": 1, "activation": "sigmoid"}
    body = assert_problem(client.post("/train", json=spec), 422)
    assert body["code"] == "invalid_spec"
    assert {
        "loc": ["model", "layers", 3, "units"],
        "msg": "model output has 1 units but the dataset has 10 classes: expected 10 units for 10 classes",
    } in body["errors"]
    assert client.get("/jobs").json() == []


def test_from_logits_after_softmax_is_refused(client: TestClient) -> None:
    spec = digits_spec(loss={"name": "sparse_categorical_crossentropy", "from_logits": True})
    body = assert_problem(client.post("/train", json=spec), 422)
    assert [e["loc"] for e in body["errors"]] == [["loss", "from_logits"]]
    assert "softmax" in body["detail"]


def test_conv_on_flat_features_is_refused_with_a_hint(client: TestClient) -> None:
    spec = digits_spec()
    spec["model"]["layers"].insert(0, {"type": "conv2d", "filters": 4, "kernel_size": 3})
    body = assert_problem(client.post("/train", json=spec), 422)
    assert body["errors"][0]["loc"] == ["model", "layers", 0] and "reshape" in body["detail"]


def test_a_small_cnn_on_reshaped_digits_is_accepted(client: TestClient) -> None:
    layers = [
        {"type": "reshape", "target_shape": [8, 8, 1]},
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "activation": "relu"},
        {"type": "batch_normalization"},
        {"type": "max_pooling2d", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ]
    assert client.post("/train", json=digits_spec(model={"layers": layers})).status_code == 202


def test_unknown_names_list_the_valid_ones(client: TestClient) -> None:
    spec = digits_spec()
    spec["model"]["layers"][0]["activation"] = "rulu"
    body = assert_problem(client.post("/train", json=spec), 422)
    assert "relu" in body["detail"] and body["errors"][0]["loc"][:3] == ["model", "layers", 0]
    body = assert_problem(client.post("/train", json=digits_spec(dataset={"builtin": "cifar"})), 422)
    assert "digits" in body["detail"] and "iris" in body["detail"]
    body = assert_problem(client.post("/train", json=digits_spec(optimizer={"name": "adamax"})), 422)
    assert "sgd" in body["detail"]


def test_regression_and_classification_losses_must_fit_the_data(client: TestClient) -> None:
    body = assert_problem(client.post("/train", json=digits_spec(loss="mse", metrics=[])), 422)
    assert "sparse_categorical_crossentropy" in body["detail"]
    diabetes = digits_spec(dataset={"builtin": "diabetes"}, metrics=["accuracy"])
    body = assert_problem(client.post("/train", json=diabetes), 422)
    locs = [e["loc"] for e in body["errors"]]
    assert ["loss"] in locs and ["metrics", 0] in locs


def test_malformed_json_is_400_and_unknown_fields_are_422(client: TestClient) -> None:
    response = client.post("/train", content=b"{not json", headers={"content-type": "application/json"})
    assert assert_problem(response, 400)["code"] == "malformed_body"
    body = assert_problem(client.post("/train", json=digits_spec(epochz=3)), 422)
    assert body["errors"][0]["loc"] == ["epochz"]


def test_model_name_must_be_safe(client: TestClient) -> None:
    body = assert_problem(client.post("/train", json=digits_spec(model_name="../etc")), 422)
    assert body["errors"][0]["loc"] == ["model_name"]


def test_inline_dataset_is_validated_against_the_spec(client: TestClient) -> None:
    inline = {"inline": {"x": [[0, 1], [1, 0], [1, 1], [0, 0]], "y": ["yes", "no", "yes", "no"]}}
    spec = iris_spec(dataset=inline, fit={"epochs": 2, "batch_size": 2})
    body = assert_problem(client.post("/train", json=spec), 422)
    assert "2 classes" in body["detail"]
    spec["model"]["layers"][-1]["units"] = 2
    assert client.post("/train", json=spec).status_code == 202
    ragged = iris_spec(dataset={"inline": {"x": [[0, 1], [1]], "y": [0, 1]}})
    assert assert_problem(client.post("/train", json=ragged), 422)["errors"][0]["loc"][:3] == ["dataset", "inline", "x"]


def test_batch_size_larger_than_the_data_is_refused(client: TestClient) -> None:
    body = assert_problem(client.post("/train", json=iris_spec(fit={"epochs": 1, "batch_size": 1000})), 422)
    assert body["errors"][0]["loc"] == ["fit", "batch_size"]


def test_unknown_route_is_a_problem_too(client: TestClient) -> None:
    assert_problem(client.get("/nowhere"), 404)

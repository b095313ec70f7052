"""Sweep requests are checked before anything is queued: every search-space mistake is a 422 naming its path."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_train_api import assert_problem
from tests.support import iris_spec


def sweep(**overrides: Any) -> dict[str, Any]:
    base = iris_spec(fit={"epochs": 3, "batch_size": 16, "validation_split": 0.2})
    base.pop("model_name")
    return {
        "model_name": "iris-sweep",
        "base": base,
        "search_space": {
            "optimizer.learning_rate": {"type": "log_uniform", "low": 1e-4, "high": 0.1},
            "optimizer.name": {"type": "choice", "choices": ["adam", "sgd"]},
        },
        "trials": 4,
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        **overrides,
    }


def refused(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    problem = assert_problem(client.post("/sweeps", json=body), 422)
    assert client.get("/sweeps").json() == [] and client.get("/jobs").json() == []
    return problem


def test_a_valid_sweep_is_accepted_and_readable(client: TestClient) -> None:
    response = client.post("/sweeps", json=sweep())
    assert response.status_code == 202
    created = response.json()
    assert response.headers["location"] == f"/sweeps/{created['id']}"
    read = client.get(f"/sweeps/{created['id']}").json()
    assert read["status"] == "running" and read["trials"] == [] and read["best"] is None
    assert [s["id"] for s in client.get("/sweeps").json()] == [created["id"]]
    assert_problem(client.get("/sweeps/nope"), 404)


@pytest.mark.parametrize(
    ("space", "loc", "text"),
    [
        ({"optimizer.lr": {"type": "log_uniform", "low": 1e-4, "high": 0.1}}, ["search_space", "optimizer.lr"], "lr"),
        (
            {"model.layers[7].units": {"type": "int", "low": 4, "high": 8}},
            ["search_space", "model.layers[7].units"],
            "no item 7",
        ),
        ({"optimizer.name": {"type": "choice", "choices": []}}, ["search_space", "optimizer.name"], "at least 1"),
        (
            {"optimizer.learning_rate": {"type": "uniform", "low": 0.1, "high": 0.01}},
            ["search_space", "optimizer.learning_rate"],
            "must not exceed",
        ),
        (
            {"optimizer.name": {"type": "choice", "choices": ["adam", "adamax"]}},
            ["search_space", "optimizer.name"],
            "adamax",
        ),
        (
            {"model.layers[1].units": {"type": "int", "low": 2, "high": 5}},
            ["search_space", "model.layers[1].units"],
            "3 classes",
        ),
    ],
)
def test_search_space_mistakes_are_named(client: TestClient, space: dict, loc: list, text: str) -> None:
    problem = refused(client, sweep(search_space=space))
    assert problem["errors"][0]["loc"][: len(loc)] == loc, problem
    assert text in problem["detail"]


def test_the_objective_must_be_a_reported_metric(client: TestClient) -> None:
    problem = refused(client, sweep(objective={"metric": "val_f1", "direction": "maximize"}))
    assert problem["errors"][0]["loc"] == ["objective", "metric"] and "val_accuracy" in problem["detail"]


def test_grid_needs_choices_and_enough_points(client: TestClient) -> None:
    assert "grid" in refused(client, sweep(sampler="grid"))["detail"]
    grid = sweep(sampler="grid", search_space={"optimizer.name": {"type": "choice", "choices": ["adam", "sgd"]}})
    assert refused(client, grid)["errors"][0]["loc"] == ["trials"]


def test_an_invalid_base_spec_is_refused(client: TestClient) -> None:
    body = sweep()
    body["base"]["loss"] = "mse"
    assert refused(client, body)["errors"][0]["loc"][0] == "base"

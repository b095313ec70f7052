"""A sweep that fine-tunes: its base spec has `init_from` and no `model`, every trial starts from that one
registry version (pinned when the sweep is submitted), and the published best version names it as its parent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.server import Server
from tests.e2e.test_sweeps import start, wait_sweep
from tests.support import iris_spec


@pytest.fixture(scope="module")
def production(server: Server) -> Server:
    """iris-mlp v1, with `production` pointing at it."""
    server.wait_finished(server.train(iris_spec(epochs=10))["id"])
    assert server.http.put("/models/iris-mlp/aliases/production", json={"version": 1}).status_code == 200
    return server


def fine_tuning_sweep(**search_space: Any) -> dict[str, Any]:
    base = iris_spec(fit={"epochs": 2, "batch_size": 16, "validation_split": 0.2})
    for field in ("model", "model_name"):
        del base[field]
    return {
        "model_name": "iris-sweep-tuned",
        "base": {**base, "init_from": {"model": "iris-mlp", "alias": "production"}},
        "search_space": search_space or {"optimizer.learning_rate": {"type": "log_uniform", "low": 1e-3, "high": 1e-1}},
        "trials": 2,
        "sampler": "random",
        "seed": 1,
    }


def test_a_sweep_fine_tunes_every_trial_from_the_base_version(production: Server) -> None:
    done = wait_sweep(production, start(production, fine_tuning_sweep()))

    assert done["status"] == "succeeded", done
    assert [t["state"] for t in done["trials"]] == ["complete", "complete"]
    assert done["spec"]["base"]["init_from"] == {
        "model": "iris-mlp",
        "version": 1,
        "freeze_layers": 0,
        "reset_head": False,
    }
    version = production.http.get(f"/models/iris-sweep-tuned/versions/{done['model']['version']}").json()
    assert version["parent"] == {"name": "iris-mlp", "version": 1}
    layers = [(layer["units"], layer["activation"]) for layer in version["spec"]["model"]["layers"]]
    assert layers == [(16, "relu"), (3, "softmax")], "the trial trained v1's architecture"


def test_a_fine_tuning_sweep_over_model_fields_is_a_422_naming_the_version(production: Server) -> None:
    body = fine_tuning_sweep(**{"model.layers[0].units": {"type": "int", "low": 4, "high": 32}})
    response = production.http.post("/sweeps", json=body)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert [e["loc"] for e in problem["errors"]] == [["search_space", "model.layers[0].units"]]
    assert "iris-mlp v1" in problem["detail"] and "cannot change model fields" in problem["detail"]

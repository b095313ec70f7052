"""Hostile sweeps and event streams (issue 12): a sweep cannot reach past MAAS_MAX_PARAMS through ranges that fit
alone, a sampled trial that fails the checks never reaches a worker, and open event streams are capped."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.jobs.store import JobStore
from app.settings import Settings
from app.sweeps.driver import SweepDriver
from app.sweeps.store import SweepStore
from tests.api.test_train_api import assert_problem
from tests.support import iris_spec


def _sweep(base: dict[str, Any], space: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    base.pop("model_name")
    body = {"model_name": "iris-sweep", "base": base, "search_space": space, "trials": 4, "objective": {}}
    return {**body, "objective": {"metric": "val_loss"}, **overrides}


def test_two_unit_ranges_that_fit_alone_are_refused_together(client: TestClient) -> None:
    layers = [{"type": "dense", "units": 16, "activation": "relu"}] * 2 + [{"type": "dense", "units": 3}]
    base = iris_spec(model={"layers": layers}, fit={"epochs": 1, "batch_size": 16, "validation_split": 0.2})
    base["loss"] = {"name": "sparse_categorical_crossentropy", "from_logits": True}
    space = {f"model.layers[{i}].units": {"type": "int", "low": 4, "high": 100_000} for i in (0, 1)}

    problem = assert_problem(client.post("/sweeps", json=_sweep(base, space)), 422)

    assert problem["errors"] == [{"loc": ["search_space"], "msg": problem["errors"][0]["msg"]}]
    msg = problem["errors"][0]["msg"]
    assert "model.layers[0].units = 100000" in msg and "model.layers[1].units = 100000" in msg
    assert "10000" in msg and "more than the limit of 20000000" in msg
    assert client.get("/sweeps").json() == [] and client.get("/jobs").json() == []
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_sampled_trial_that_fails_the_checks_is_failed_and_never_queued(
    client: TestClient, settings: Settings
) -> None:
    base = iris_spec(fit={"epochs": 1, "batch_size": 16, "validation_split": 0.2})
    space = {
        "fit.validation_split": {"type": "choice", "choices": [0.2, 0.6]},
        "fit.batch_size": {"type": "choice", "choices": [16, 100]},
    }
    body = _sweep(base, space, sampler="grid", parallelism=4)
    created = client.post("/sweeps", json=body)
    assert created.status_code == 202, created.text
    sweep_id = created.json()["id"]

    store = JobStore(settings.resolved_database_url)
    try:
        SweepDriver(settings, store, SweepStore(store.engine)).advance_all()
    finally:
        store.close()

    trials = client.get(f"/sweeps/{sweep_id}").json()["trials"]
    failed = [t for t in trials if t["state"] == "fail"]
    assert len(trials) == 4 and len(failed) == 1
    assert failed[0]["params"] == {"fit.validation_split": 0.6, "fit.batch_size": 100}
    assert failed[0]["job_id"] is None
    assert failed[0]["error"] == "batch_size 100 is larger than the 60 training rows"
    jobs = client.get("/jobs", params={"sweep_id": sweep_id}).json()
    assert sorted((j["spec"]["fit"]["validation_split"], j["spec"]["fit"]["batch_size"]) for j in jobs) == [
        (0.2, 16),
        (0.2, 100),
        (0.6, 16),
    ]
    assert client.get("/healthz").json() == {"status": "ok"}

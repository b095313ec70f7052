"""`resources.workers`: data-parallel training is a Ray feature, refused before anything is queued elsewhere, and
what it cannot do yet (cross-validation, the LR range test, gradient clipping, fewer rows per batch than workers)
is named at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.api.test_spec_validation import refused
from tests.api.test_sweeps_api import refused as refused_sweep
from tests.api.test_sweeps_api import sweep
from tests.support import iris_spec


def test_workers_need_the_ray_executor(client: TestClient) -> None:
    body = refused(client, iris_spec(resources={"workers": 2}))
    assert body["errors"] == [{"loc": ["resources", "workers"], "msg": body["detail"]}]
    assert "MAAS_EXECUTOR=ray" in body["detail"]


def test_one_worker_is_the_ordinary_local_job(client: TestClient) -> None:
    assert client.post("/train", json=iris_spec(resources={"workers": 1})).status_code == 202


@pytest.mark.parametrize("workers", [0, 65, 1.5])
def test_worker_counts_out_of_range_are_refused(client: TestClient, workers: object) -> None:
    refused(client, iris_spec(resources={"workers": workers}))


@pytest.mark.parametrize(
    ("overrides", "loc", "text"),
    [
        ({"cross_validation": {"folds": 3}}, ["cross_validation"], "cross-validation"),
        ({"optimizer": {"name": "adam", "learning_rate": "auto"}}, ["optimizer", "learning_rate"], "auto"),
        ({"fit": {"epochs": 2, "batch_size": 2}}, ["fit", "batch_size"], "no rows"),
        ({"optimizer": {"name": "sgd", "clipnorm": 1.0}}, ["optimizer", "clipnorm"], "across workers"),
    ],
)
def test_what_data_parallel_training_cannot_do_is_named(tmp_path: Path, overrides: dict, loc: list, text: str) -> None:
    # Settings only: with no job slots, the API never starts Ray, whatever the executor.
    settings = Settings(data_dir=tmp_path / "data", workers=0, prewarm=False, executor="ray")
    with TestClient(create_app(settings)) as client:
        body = refused(client, iris_spec(resources={"workers": 3}, **overrides))
    assert any(e["loc"] == loc and text in e["msg"] for e in body["errors"]), body["errors"]


def test_a_sweep_of_data_parallel_trials_needs_the_ray_executor_too(client: TestClient) -> None:
    body = sweep()
    body["base"]["resources"] = {"workers": 2}
    problem = refused_sweep(client, body)
    assert any(
        e["loc"] == ["base", "resources", "workers"] and "MAAS_EXECUTOR=ray" in e["msg"] for e in problem["errors"]
    )

"""The speed fields of a training spec (backend, precision, steps per execution, gradient accumulation): each
mistake is a 422 naming its field and nothing is queued; good values are accepted and kept on the job."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.test_spec_validation import refused
from tests.support import iris_spec


@pytest.mark.parametrize(
    ("overrides", "loc", "text"),
    [
        ({"backend": "torch"}, ["backend"], "'tensorflow' or 'jax'"),
        ({"precision": "float16"}, ["precision"], "'mixed_bfloat16'"),
        ({"fit": {"steps_per_execution": 0}}, ["fit", "steps_per_execution"], 'integer >= 1 or "auto"'),
        ({"fit": {"steps_per_execution": "max"}}, ["fit", "steps_per_execution"], 'integer >= 1 or "auto"'),
        (
            {"optimizer": {"name": "adam", "gradient_accumulation_steps": 0}},
            ["optimizer", "gradient_accumulation_steps"],
            "greater than 0",
        ),
    ],
)
def test_bad_speed_fields_are_refused_naming_the_field(
    client: TestClient, overrides: dict, loc: list[str], text: str
) -> None:
    body = refused(client, iris_spec(**overrides))
    assert [e["loc"] for e in body["errors"]] == [loc]
    assert text in body["detail"]


def test_jax_with_data_parallel_workers_is_refused_saying_why(client: TestClient) -> None:
    body = refused(client, iris_spec(backend="jax", resources={"workers": 2}))
    assert body["errors"][0]["loc"] == ["backend"]
    assert "data-parallel" in body["detail"] and "TensorFlow" in body["detail"]


def test_speed_fields_are_accepted_and_kept_on_the_job(client: TestClient) -> None:
    spec = iris_spec(
        backend="jax",
        precision="mixed_bfloat16",
        fit={"epochs": 2, "steps_per_execution": 4},
        optimizer={"name": "adam", "gradient_accumulation_steps": 2},
    )
    job = client.post("/train", json=spec).json()
    assert (job["spec"]["backend"], job["spec"]["precision"]) == ("jax", "mixed_bfloat16")
    assert job["spec"]["fit"]["steps_per_execution"] == 4
    assert job["spec"]["optimizer"]["gradient_accumulation_steps"] == 2


def test_defaults_are_auto_float32_and_no_accumulation(client: TestClient) -> None:
    spec = client.post("/train", json=iris_spec()).json()["spec"]
    assert (spec["backend"], spec["precision"], spec["fit"]["steps_per_execution"]) == ("auto", "float32", "auto")
    assert spec["optimizer"]["gradient_accumulation_steps"] == 1

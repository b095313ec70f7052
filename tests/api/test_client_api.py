"""The async Python client against the real app (in-process through httpx's ASGI transport): numpy in and out,
problem documents as typed exceptions, specs from YAML files, datasets, jobs and their events, API keys."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
import yaml
from sklearn.datasets import load_iris

from app.client import AsyncMaasClient, Conflict, InvalidRequest, NotFound, Unauthorized
from app.main import create_app
from app.settings import Settings
from tests.support import iris_spec

Scenario = Callable[[AsyncMaasClient], Awaitable[Any]]


@pytest.fixture
def data_dir(trained_registry: Path, tmp_path: Path) -> Path:
    """A private copy of a data dir whose registry holds iris-mlp v1 (40 epochs) and v2 (5 epochs)."""
    target = tmp_path / "data"
    shutil.copytree(trained_registry, target)
    return target


def run(data_dir: Path, scenario: Scenario, api_key: str | None = None, **settings: Any) -> Any:
    """Run `scenario` with a client of an API-only app on `data_dir`, lifespan and all."""

    async def main() -> Any:
        app = create_app(Settings(data_dir=data_dir, workers=0, prewarm=False, **settings))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with AsyncMaasClient("http://maas.test", api_key=api_key, transport=transport) as client:
                return await scenario(client)

    return anyio.run(main)


def test_predict_takes_numpy_and_returns_numpy_with_class_names(data_dir: Path) -> None:
    iris = load_iris()

    async def scenario(client: AsyncMaasClient) -> Any:
        # scikit-learn hands out Fortran-ordered float64 arrays as often as not: both must just work
        return await client.predict("iris-mlp", np.asfortranarray(iris.data), version=1)

    result = run(data_dir, scenario)

    assert (result.model, result.version) == ("iris-mlp", 1)
    assert isinstance(result.predictions, np.ndarray) and result.predictions.shape == (150, 3)
    accuracy = np.mean(np.array(result.classes) == np.array(iris.target_names)[iris.target])
    assert accuracy > 0.9


def test_aliases_move_and_predictions_follow_them(data_dir: Path) -> None:
    async def scenario(client: AsyncMaasClient) -> Any:
        aliases = await client.set_alias("iris-mlp", "production", 1)
        pinned = await client.predict("iris-mlp", [[5.1, 3.5, 1.4, 0.2]], alias="production")
        latest = await client.predict("iris-mlp", [[5.1, 3.5, 1.4, 0.2]])
        remaining = await client.delete_alias("iris-mlp", "production")
        models = await client.list_models()
        version = await client.get_version("iris-mlp", 2)
        return aliases, pinned.version, latest.version, remaining, models, version

    aliases, pinned, latest, remaining, models, version = run(data_dir, scenario)

    assert aliases == {"production": 1} and remaining == {}
    assert (pinned, latest) == (1, 2)
    assert [(m["name"], m["latest_version"]) for m in models] == [("iris-mlp", 2)]
    assert version["input_shape"] == [None, 4] and version["classes"] == ["setosa", "versicolor", "virginica"]


def test_problem_documents_become_typed_exceptions(data_dir: Path) -> None:
    async def scenario(client: AsyncMaasClient) -> list[Exception]:
        caught = []
        for call in (
            client.predict("no-such-model", [[1, 2, 3, 4]]),
            client.predict("iris-mlp", [[1, 2]]),
            client.train(iris_spec(model={"layers": [{"type": "dense", "units": 1, "activation": "softmax"}]})),
            client.get_job("no-such-job"),
        ):
            with pytest.raises(Exception) as excinfo:
                await call
            caught.append(excinfo.value)
        return caught

    missing_model, wrong_shape, bad_spec, missing_job = run(data_dir, scenario)

    assert isinstance(missing_model, NotFound) and missing_model.status == 404
    assert missing_model.code == "model_not_found"
    assert isinstance(wrong_shape, InvalidRequest) and wrong_shape.status == 422
    assert "[-1, 4]" in wrong_shape.detail
    assert isinstance(bad_spec, InvalidRequest) and bad_spec.code == "invalid_spec"
    assert any(error["loc"][:2] == ["model", "layers"] for error in bad_spec.errors)
    assert isinstance(missing_job, NotFound) and missing_job.code == "job_not_found"


def test_a_spec_from_a_yaml_file_is_queued_cancelled_and_its_events_end(data_dir: Path, tmp_path: Path) -> None:
    spec_file = tmp_path / "iris.yaml"
    spec_file.write_text(yaml.safe_dump(iris_spec(3, model_name="iris-from-yaml")))

    async def scenario(client: AsyncMaasClient) -> Any:
        job = await client.train(spec_file)
        listed = await client.list_jobs(model_name="iris-from-yaml")
        cancelled = await client.cancel(job["id"])
        waited = await client.wait(job["id"], timeout=30)
        events = [event async for event in client.follow(job["id"])]
        return job, listed, cancelled, waited, events

    job, listed, cancelled, waited, events = run(data_dir, scenario)

    assert job["status"] == "queued" and job["model_name"] == "iris-from-yaml"
    assert [j["id"] for j in listed] == [job["id"]]
    assert cancelled["status"] == waited["status"] == "cancelled"
    assert [(e.event, e.data["status"]) for e in events] == [("status", "queued"), ("status", "cancelled")]
    assert events[-1].is_terminal


def test_datasets_upload_list_get_delete(data_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "flowers.csv"
    iris = load_iris()
    lines = ["a,b,c,d,species"] + [
        ",".join(map(str, row)) + f",{iris.target_names[label]}"
        for row, label in zip(iris.data, iris.target, strict=True)
    ]
    csv.write_text("\n".join(lines) + "\n")

    async def scenario(client: AsyncMaasClient) -> Any:
        info = await client.upload_dataset(csv, target="species", name="flowers")
        listed = await client.list_datasets()
        fetched = await client.get_dataset(info["id"])
        await client.delete_dataset(info["id"])
        with pytest.raises(NotFound):
            await client.get_dataset(info["id"])
        return info, listed, fetched

    info, listed, fetched = run(data_dir, scenario)

    assert (info["name"], info["rows"], info["feature_shape"]) == ("flowers", 150, [4])
    assert info["classes"] == ["setosa", "versicolor", "virginica"]
    assert [d["id"] for d in listed] == [info["id"]] and fetched == info


def test_deleting_a_dataset_a_queued_job_uses_is_a_conflict(data_dir: Path, tmp_path: Path) -> None:
    npz = tmp_path / "tiny.npz"
    np.savez(npz, x=np.random.default_rng(0).random((20, 4)), y=np.arange(20) % 2)

    async def scenario(client: AsyncMaasClient) -> Exception:
        info = await client.upload_dataset(npz, name="tiny")
        spec = iris_spec(2, dataset={"id": info["id"]})
        spec["model"]["layers"][-1]["units"] = 2
        await client.train(spec)
        with pytest.raises(Conflict) as excinfo:
            await client.delete_dataset(info["id"])
        return excinfo.value

    assert run(data_dir, scenario).status == 409


def test_the_api_key_is_sent_as_a_bearer_token(data_dir: Path) -> None:
    async def listing(client: AsyncMaasClient) -> Any:
        return await client.list_models()

    assert [m["name"] for m in run(data_dir, listing, api_key="s3cret", api_keys="s3cret:admin")] == ["iris-mlp"]
    with pytest.raises(Unauthorized) as excinfo:
        run(data_dir, listing, api_key="", api_keys="s3cret:admin")
    assert excinfo.value.status == 401
    with pytest.raises(Unauthorized):
        run(data_dir, listing, api_key="wrong", api_keys="s3cret:admin")

"""Dynamic batching seen through the HTTP API: concurrent requests of all three protocols share model calls
(counted by /metrics), each gets exactly its own rows, and a bad request in a batch fails alone.

The requests run concurrently in one event loop with the app (httpx's ASGI transport), as a busy server sees them.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from sklearn.datasets import load_iris

from app.main import create_app
from app.registry import LocalRegistry
from app.settings import Settings

X = load_iris().data.astype(np.float32)


@pytest.fixture
def app(trained_registry: Path, tmp_path: Path) -> FastAPI:
    data_dir = tmp_path / "served"
    shutil.copytree(trained_registry, data_dir)
    return create_app(Settings(data_dir=data_dir, workers=0, prewarm=False))


def request_for(i: int, row: np.ndarray) -> tuple[str, Any]:
    """Request i in one of the three protocols, all for iris-mlp version 1."""
    if i % 3 == 0:
        return "/predict", {"model": "iris-mlp", "version": 1, "instances": [row.tolist()]}
    if i % 3 == 1:
        return "/v1/models/iris-mlp/versions/1:predict", {"instances": [row.tolist()]}
    tensor = {"name": "input", "shape": [1, 4], "datatype": "FP32", "data": row.tolist()}
    return "/v2/models/iris-mlp/versions/1/infer", {"inputs": [tensor]}


def rows_of(response: httpx.Response) -> np.ndarray:
    body = response.json()
    if "outputs" in body:
        return np.array(body["outputs"][0]["data"], dtype=np.float32).reshape(-1, 3)
    return np.array(body["predictions"], dtype=np.float32)


def model_calls(metrics: str) -> int:
    match = re.search(r'^maas_batch_size_count\{model="iris-mlp",version="1"\} (\S+)$', metrics, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


async def run_concurrently(
    app: FastAPI, requests: list[tuple[str, Any]]
) -> tuple[np.ndarray, list[httpx.Response], int]:
    """Warm up, then send `requests` at once; the expected rows, the responses, and the model calls they took."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://maas", timeout=60) as client:
            whole = await client.post("/predict", json={"model": "iris-mlp", "version": 1, "instances": X.tolist()})
            before = model_calls((await client.get("/metrics")).text)
            sent = [
                client.post(url, content=body) if isinstance(body, bytes) else client.post(url, json=body)
                for url, body in requests
            ]
            responses = await asyncio.gather(*sent)
            after = model_calls((await client.get("/metrics")).text)
    return rows_of(whole), list(responses), after - before


def test_32_concurrent_requests_take_fewer_model_calls_and_each_gets_its_own_rows(app: FastAPI) -> None:
    picks = list(range(0, 150, 5))[:32] + [149, 77]
    expected, responses, calls = asyncio.run(run_concurrently(app, [request_for(i, X[p]) for i, p in enumerate(picks)]))

    assert [r.status_code for r in responses] == [200] * 32
    for pick, response in zip(picks, responses, strict=True):
        np.testing.assert_allclose(rows_of(response), expected[pick : pick + 1], rtol=1e-5, atol=1e-6)
    assert 1 <= calls < 32


def test_a_malformed_request_in_a_batch_fails_alone(app: FastAPI) -> None:
    good = [request_for(i, X[i * 7]) for i in range(16)]
    bad = [
        ("/predict", {"model": "iris-mlp", "version": 1, "instances": [[1.0, 2.0, 3.0]]}),
        ("/predict", b'{"model": "iris-mlp", "instances": [[1, 2, 3, 4]'),
        ("/v1/models/iris-mlp/versions/1:predict", {"instances": [[1.0, 2.0]]}),
        (
            "/v2/models/iris-mlp/versions/1/infer",
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "BF16", "data": [1, 2, 3, 4]}]},
        ),
    ]
    expected, responses, _ = asyncio.run(run_concurrently(app, good[:8] + bad + good[8:]))

    statuses = [r.status_code for r in responses]
    assert statuses[8:12] == [422, 400, 400, 400]
    assert statuses[:8] + statuses[12:] == [200] * 16
    for i, response in enumerate(responses[:8] + responses[12:]):
        np.testing.assert_allclose(rows_of(response), expected[i * 7 : i * 7 + 1], rtol=1e-5, atol=1e-6)


def test_a_forming_batch_waits_for_a_request_whose_body_is_still_arriving(
    trained_registry: Path, tmp_path: Path
) -> None:
    """A request whose body is still streaming in is worth waiting for (up to MAAS_BATCH_MAX_DELAY_MS): the
    complete request ahead of it waits and both share one model call."""
    data_dir = tmp_path / "served"
    shutil.copytree(trained_registry, data_dir)
    # A model folder changed within the last second is re-resolved off the event loop on every request (see
    # LocalRegistry.change_stamp); run alone, this test would start right after the fixture published.
    settled = time.time() - 60
    os.utime(data_dir / "registry" / "iris-mlp", (settled, settled))
    app = create_app(Settings(data_dir=data_dir, workers=0, prewarm=False, batch_max_delay_ms=10_000))
    body = orjson.dumps({"instances": [X[0].tolist()]})

    async def slow_body() -> AsyncIterator[bytes]:
        yield body[:10]
        await asyncio.sleep(0.3)  # the first request is complete and queued by now
        yield body[10:]

    async def scenario() -> tuple[list[httpx.Response], int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://maas", timeout=60) as client:
                await client.post("/v1/models/iris-mlp/versions/1:predict", content=body)  # loaded and warm
                before = model_calls((await client.get("/metrics")).text)
                url = "/v1/models/iris-mlp/versions/1:predict"
                responses = await asyncio.gather(client.post(url, content=body), client.post(url, content=slow_body()))
                return list(responses), model_calls((await client.get("/metrics")).text) - before

    responses, calls = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200, 200]
    assert rows_of(responses[0]).tolist() == rows_of(responses[1]).tolist()
    assert calls == 1


def publish_tensorflow_served_copy_of_version_1(data_dir: Path) -> int:
    """Version 1 again, without its ONNX export: served by the compiled TensorFlow function."""
    registry = LocalRegistry(Settings(data_dir=data_dir).resolved_registry_dir)
    staged = registry.new_staging_dir()
    source = registry.artifact_path("iris-mlp", 1).parent
    shutil.copytree(source, staged, dirs_exist_ok=True, ignore=shutil.ignore_patterns("model.onnx", "metadata.json"))
    metadata = registry.read_version("iris-mlp", 1).model_dump(exclude={"name", "version", "created_at", "sha256"})
    return registry.publish(
        "iris-mlp", staged, {**metadata, "job_id": "tf", "runtime": "tensorflow", "onnx": None}
    ).version


def test_loading_a_version_never_stalls_requests_to_a_loaded_one(app: FastAPI, tmp_path: Path) -> None:
    version = publish_tensorflow_served_copy_of_version_1(tmp_path / "served")
    rows = X[:5].tolist()

    async def scenario() -> tuple[int, np.ndarray, np.ndarray, str]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://maas", timeout=60) as client:
                onnx = rows_of(await client.post("/v1/models/iris-mlp/versions/1:predict", json={"instances": rows}))
                loading = asyncio.ensure_future(
                    client.post(f"/v1/models/iris-mlp/versions/{version}:predict", json={"instances": rows})
                )
                answered_meanwhile = 0
                for _ in range(500):  # until the load ends: a stalled loop answers none before it does
                    response = await client.post("/v1/models/iris-mlp/versions/1:predict", json={"instances": rows})
                    assert response.status_code == 200
                    if loading.done():
                        break
                    answered_meanwhile += 1
                tensorflow = rows_of(await loading)
                metrics = (await client.get("/metrics")).text
        return answered_meanwhile, onnx, tensorflow, metrics

    answered_meanwhile, onnx, tensorflow, metrics = asyncio.run(scenario())
    assert answered_meanwhile >= 5  # a TensorFlow load takes far longer than five ONNX answers
    np.testing.assert_allclose(tensorflow, onnx, rtol=1e-5, atol=1e-6)  # the fallback runtime gives the same numbers
    assert f'maas_model_loaded{{model="iris-mlp",runtime="tensorflow",version="{version}"}} 1.0' in metrics

"""Serving through a real `maas serve`: a version trained by its worker is exported (SavedModel + verified ONNX),
served by ONNX Runtime, and answered identically by /predict, TensorFlow Serving's /v1 and the stock Triton
client on /v2, with and without binary tensor data; concurrent clients share model calls."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from sklearn.datasets import load_iris
from tritonclient.utils import InferenceServerException

from tests.e2e.server import Server
from tests.support import iris_spec

X = load_iris().data[:10].astype(np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """A service whose worker trained and published `iris-mlp` version 1."""
    root = tmp_path_factory.mktemp("serving")
    server = Server(root / "data", root / "server.log", MAAS_BATCH_MAX_DELAY_MS="50")
    server.wait_finished(server.train(iris_spec(epochs=20))["id"])
    yield server, root / "data"
    server.stop()


def predict(server: Server, rows: np.ndarray) -> np.ndarray:
    body = server.http.post("/predict", json={"model": "iris-mlp", "instances": rows.tolist()}).json()
    return np.array(body["predictions"], dtype=np.float32)


def test_the_published_version_is_served_by_onnx_runtime_and_exported_for_tensorflow_serving(
    trained: tuple[Server, Path],
) -> None:
    server, data_dir = trained
    meta = server.http.get("/models/iris-mlp/versions/1").json()
    assert meta["runtime"] == "onnxruntime" and meta["onnx"] == "model.onnx" and meta["saved_model"] == "."
    assert meta["onnx_max_abs_diff"] <= 1e-5
    version_dir = data_dir / "registry" / "iris-mlp" / "1"
    assert (version_dir / "model.onnx").is_file() and (version_dir / "saved_model.pb").is_file()

    import tensorflow as tf

    serving_default = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    from_saved_model = serving_default(input=tf.constant(X))["output_0"].numpy()
    np.testing.assert_allclose(from_saved_model, predict(server, X), rtol=1e-5, atol=1e-6)


def test_tensorflow_serving_rest_answers_what_predict_does(trained: tuple[Server, Path]) -> None:
    server, _ = trained
    response = server.http.post("/v1/models/iris-mlp/versions/1:predict", json={"instances": X.tolist()})
    assert response.status_code == 200
    np.testing.assert_array_equal(np.array(response.json()["predictions"], dtype=np.float32), predict(server, X))
    assert server.http.get("/v1/models/iris-mlp").json()["model_version_status"][0]["state"] == "AVAILABLE"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_stock_triton_client_infers_with_and_without_binary_data(trained: tuple[Server, Path], binary: bool) -> None:
    server, _ = trained
    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    try:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("iris-mlp")
        metadata = client.get_model_metadata("iris-mlp")
        assert metadata["inputs"][0] == {"name": "input", "datatype": "FP32", "shape": [-1, 4]}
        tensor = triton.InferInput("input", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X, binary_data=binary)
        wanted = triton.InferRequestedOutput("output_0", binary_data=binary)
        result = client.infer("iris-mlp", [tensor], model_version="1", outputs=[wanted], request_id="e2e-1")
        assert result.get_response()["id"] == "e2e-1"
        np.testing.assert_array_equal(result.as_numpy("output_0"), predict(server, X))
        by_default = client.infer("iris-mlp", [tensor])  # no outputs named: all come back binary
        np.testing.assert_array_equal(by_default.as_numpy("output_0"), predict(server, X))

        wrong = triton.InferInput("input", [2, 2], "FP32")
        wrong.set_data_from_numpy(np.ones((2, 2), dtype=np.float32), binary_data=binary)
        with pytest.raises(InferenceServerException, match=r"\[-1, 4\]"):
            client.infer("iris-mlp", [wrong])
    finally:
        client.close()


def model_calls(server: Server) -> int:
    metrics = server.http.get("/metrics").text
    match = re.search(r'^maas_batch_size_count\{model="iris-mlp",version="1"\} (\S+)$', metrics, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


def test_32_concurrent_clients_share_model_calls_and_each_gets_its_own_rows(trained: tuple[Server, Path]) -> None:
    server, _ = trained
    expected = predict(server, load_iris().data[:32])
    bodies = [
        orjson.dumps({"model": "iris-mlp", "version": 1, "instances": [row]}) for row in load_iris().data[:32].tolist()
    ]

    async def burst() -> list[httpx.Response]:
        """32 requests really in flight together: every client sends its headers, then all bodies go at once."""
        headers_sent = 0
        all_sent = asyncio.Event()
        go = asyncio.Event()

        async def body(content: bytes) -> AsyncIterator[bytes]:
            nonlocal headers_sent
            headers_sent += 1  # httpx sends the headers before it asks for the body
            if headers_sent == len(bodies):
                all_sent.set()
            await go.wait()
            yield content

        async def release() -> None:
            await all_sent.wait()
            await asyncio.sleep(0.3)  # the server has read every request's headers and waits for its body
            go.set()

        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
            posts = [
                client.post("/predict", content=body(content), headers={"Content-Length": str(len(content))})
                for content in bodies
            ]
            responses, _ = await asyncio.gather(asyncio.gather(*posts), release())
            return responses

    before = model_calls(server)
    responses = asyncio.run(burst())
    calls = model_calls(server) - before
    for i, response in enumerate(responses):
        assert response.status_code == 200
        np.testing.assert_allclose(response.json()["predictions"], expected[i : i + 1], rtol=1e-5, atol=1e-6)
    assert 1 <= calls < 32, calls

"""The Open Inference Protocol (/v2) on versions trained for real: metadata, readiness, inference in every
accepted form (flat, nested, four datatypes, binary tensor data) with /predict's numbers, and `{"error"}`s."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris

X = load_iris().data[:6].astype(np.float32)


def native(client: TestClient, rows: np.ndarray, version: int = 1) -> np.ndarray:
    body = client.post("/predict", json={"model": "iris-mlp", "version": version, "instances": rows.tolist()}).json()
    return np.array(body["predictions"], dtype=np.float32)


def infer_body(data: Any, datatype: str = "FP32", shape: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    tensor = {"name": "input", "shape": shape or list(X.shape), "datatype": datatype, "data": data}
    return {"inputs": [tensor], **extra}


def assert_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    return body["error"]


def test_server_metadata_and_health(served: TestClient) -> None:
    meta = served.get("/v2").json()
    assert meta["name"] == "maas" and "binary_tensor_data" in meta["extensions"]
    assert served.get("/v2/health/live").status_code == 200
    assert served.get("/v2/health/ready").json() == {"ready": True}


def test_model_metadata_names_tensors_with_datatype_and_batch_dimension(served: TestClient) -> None:
    meta = served.get("/v2/models/iris-mlp").json()
    assert meta["name"] == "iris-mlp" and meta["versions"] == ["1", "2"]
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["outputs"] == [{"name": "output_0", "datatype": "FP32", "shape": [-1, 3]}]
    assert served.get("/v2/models/iris-mlp/versions/1").json()["inputs"] == meta["inputs"]


def test_model_ready_loads_the_version(served: TestClient) -> None:
    assert served.get("/v2/models/iris-mlp/ready").json() == {"name": "iris-mlp", "ready": True}
    assert served.get("/v2/models/iris-mlp/versions/1/ready").status_code == 200
    assert_error(served.get("/v2/models/iris-mlp/versions/7/ready"), 404)
    assert 'maas_model_loaded{model="iris-mlp",runtime="onnxruntime",version="1"} 1.0' in served.get("/metrics").text


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        ("FP32", X.ravel().tolist()),
        ("FP32", X.tolist()),
        ("FP64", X.astype(np.float64).ravel().tolist()),
        ("INT32", np.rint(X).astype(int).ravel().tolist()),
        ("INT64", np.rint(X).astype(int).tolist()),
    ],
)
def test_infer_flat_or_nested_in_each_datatype_matches_predict(served: TestClient, datatype: str, data: Any) -> None:
    response = served.post("/v2/models/iris-mlp/versions/1/infer", json=infer_body(data, datatype, id="req-7"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "iris-mlp" and body["model_version"] == "1" and body["id"] == "req-7"
    (output,) = body["outputs"]
    assert output["name"] == "output_0" and output["datatype"] == "FP32" and output["shape"] == [6, 3]
    rows = np.asarray(data, dtype=np.float32).reshape(X.shape)
    np.testing.assert_array_equal(np.array(output["data"], dtype=np.float32).reshape(6, 3), native(served, rows))


def test_latest_version_and_requested_outputs(served: TestClient) -> None:
    body = infer_body(X.ravel().tolist(), outputs=[{"name": "output_0"}])
    answer = served.post("/v2/models/iris-mlp/infer", json=body).json()
    assert answer["model_version"] == "2" and [o["name"] for o in answer["outputs"]] == ["output_0"]
    np.testing.assert_array_equal(
        np.array(answer["outputs"][0]["data"], np.float32).reshape(6, 3), native(served, X, 2)
    )
    unknown = infer_body(X.ravel().tolist(), outputs=[{"name": "probabilities"}])
    assert "output_0" in assert_error(served.post("/v2/models/iris-mlp/infer", json=unknown), 400)


def binary_request(rows: np.ndarray, **parameters: Any) -> tuple[bytes, dict[str, str]]:
    raw = rows.astype("<f4").tobytes()
    tensor = {
        "name": "input",
        "shape": list(rows.shape),
        "datatype": "FP32",
        "parameters": {"binary_data_size": len(raw)},
    }
    header = orjson.dumps({"inputs": [tensor], "parameters": parameters})
    return header + raw, {"Inference-Header-Content-Length": str(len(header))}


def test_binary_tensor_data_in_and_out(served: TestClient) -> None:
    body, headers = binary_request(X, binary_data_output=True)
    response = served.post("/v2/models/iris-mlp/versions/1/infer", content=body, headers=headers)
    assert response.status_code == 200, response.text
    length = int(response.headers["inference-header-content-length"])
    header = orjson.loads(response.content[:length])
    (output,) = header["outputs"]
    assert output["shape"] == [6, 3] and output["parameters"]["binary_data_size"] == 6 * 3 * 4 and "data" not in output
    values = np.frombuffer(response.content[length:], dtype="<f4").reshape(6, 3)
    np.testing.assert_array_equal(values, native(served, X))
    plain_body, plain_headers = binary_request(X)
    json_out = served.post("/v2/models/iris-mlp/versions/1/infer", content=plain_body, headers=plain_headers)
    assert "inference-header-content-length" not in json_out.headers
    np.testing.assert_array_equal(np.array(json_out.json()["outputs"][0]["data"], np.float32).reshape(6, 3), values)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (infer_body(X.ravel().tolist(), "BYTES"), "FP32"),
        (infer_body(X.ravel().tolist()[:-1]), "needs 24"),
        (infer_body([1.0] * 6, shape=[2, 3]), "[-1, 4]"),
        (infer_body(X.ravel().tolist(), "INT32"), "INT32"),
        (infer_body([[1, 2], [3]], shape=[1, 3]), "list"),
        ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}, "'input'"),
        ({"inputs": []}, "inputs"),
        (infer_body(X.ravel().tolist(), id=5), "id"),
        (infer_body([float("nan")] * 4, shape=[1, 4]), "JSON"),
    ],
)
def test_bad_infer_requests_are_400_with_an_error_message(served: TestClient, body: Any, fragment: str) -> None:
    content = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY) if "nan" not in str(body) else b'{"inputs": NaN}'
    response = served.post("/v2/models/iris-mlp/infer", content=content, headers={"content-type": "application/json"})
    assert fragment in assert_error(response, 400)


def test_bad_binary_framing_is_400(served: TestClient) -> None:
    body, _ = binary_request(X)
    for length in ("-3", "999999", "ten"):
        response = served.post(
            "/v2/models/iris-mlp/infer", content=body, headers={"Inference-Header-Content-Length": length}
        )
        assert_error(response, 400)
    header_only = len(body) - X.size * 4
    truncated = served.post(
        "/v2/models/iris-mlp/infer", content=body[:-4], headers={"Inference-Header-Content-Length": str(header_only)}
    )
    assert "binary_data_size" in assert_error(truncated, 400)


def test_unknown_model_version_and_path_are_404(served: TestClient) -> None:
    body = infer_body(X.ravel().tolist())
    assert_error(served.post("/v2/models/nope/infer", json=body), 404)
    assert_error(served.post("/v2/models/iris-mlp/versions/3/infer", json=body), 404)
    assert_error(served.get("/v2/models/nope"), 404)
    assert_error(served.get("/v2/repository/index"), 404)

"""TensorFlow Serving's REST API (/v1) on versions trained for real: same numbers as /predict, TF Serving's
payload forms, status, metadata and `{"error": ...}` answers."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris

from app.main import create_app
from app.registry import LocalRegistry
from app.settings import Settings

ROWS = load_iris().data[:5].tolist()


def native(client: TestClient, **selector: Any) -> list[list[float]]:
    response = client.post("/predict", json={"model": "iris-mlp", "instances": ROWS, **selector})
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def assert_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    return body["error"]


def test_row_format_predicts_what_predict_does_for_latest_version_and_label(served: TestClient) -> None:
    latest = served.post("/v1/models/iris-mlp:predict", json={"instances": ROWS})
    assert latest.status_code == 200 and latest.json() == {"predictions": native(served)}
    pinned = served.post("/v1/models/iris-mlp/versions/1:predict", json={"instances": ROWS}).json()
    assert pinned == {"predictions": native(served, version=1)}
    served.put("/models/iris-mlp/aliases/stable", json={"version": 1})
    labelled = served.post("/v1/models/iris-mlp/labels/stable:predict", json={"instances": ROWS}).json()
    assert labelled == pinned


def test_columnar_and_named_forms_and_signature_name(served: TestClient) -> None:
    expected = native(served, version=1)
    url = "/v1/models/iris-mlp/versions/1:predict"
    assert served.post(url, json={"inputs": ROWS}).json() == {"outputs": expected}
    assert served.post(url, json={"inputs": {"input": ROWS}}).json() == {"outputs": expected}
    named_rows = {"signature_name": "serving_default", "instances": [{"input": row} for row in ROWS]}
    assert served.post(url, json=named_rows).json() == {"predictions": expected}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"instances": ROWS, "inputs": ROWS}, "Only one of"),
        ({"rows": ROWS}, "Missing 'inputs' or 'instances'"),
        ({"signature_name": "classify", "instances": ROWS}, "classify"),
        ({"instances": [[1.0, 2.0, 3.0]]}, "[-1, 4]"),
        ({"instances": [["a", 1, 2, 3]]}, "[-1, 4]"),
        ({"instances": []}, "non-empty"),
        ({"instances": [{"x": [1, 2, 3, 4]}]}, "'input'"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_requests_are_400_with_an_error_message(served: TestClient, body: Any, fragment: str) -> None:
    assert fragment in assert_error(served.post("/v1/models/iris-mlp:predict", json=body), 400)


def test_malformed_json_is_400(served: TestClient) -> None:
    response = served.post(
        "/v1/models/iris-mlp:predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert "JSON" in assert_error(response, 400)


def test_unknown_model_version_label_and_path_are_404(served: TestClient) -> None:
    body = {"instances": ROWS}
    assert_error(served.post("/v1/models/nope:predict", json=body), 404)
    assert_error(served.post("/v1/models/iris-mlp/versions/9:predict", json=body), 404)
    assert_error(served.post("/v1/models/iris-mlp/versions/one:predict", json=body), 404)
    assert_error(served.post("/v1/models/iris-mlp/labels/canary:predict", json=body), 404)
    assert_error(served.get("/v1/models/iris-mlp/versions/9"), 404)
    assert_error(served.post("/v1/models/iris-mlp:classify", json=body), 404)


def test_model_status_lists_every_version_as_available(served: TestClient) -> None:
    ok = {"error_code": "OK", "error_message": ""}
    status = served.get("/v1/models/iris-mlp").json()
    assert status == {
        "model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": ok},
            {"version": "1", "state": "AVAILABLE", "status": ok},
        ]
    }
    assert served.get("/v1/models/iris-mlp/versions/1").json()["model_version_status"][0]["version"] == "1"
    served.put("/models/iris-mlp/aliases/stable", json={"version": 1})
    assert served.get("/v1/models/iris-mlp/labels/stable").json()["model_version_status"][0]["version"] == "1"


def test_metadata_has_a_signature_def_with_dtype_and_shape(served: TestClient) -> None:
    metadata = served.get("/v1/models/iris-mlp/versions/1/metadata").json()
    assert metadata["model_spec"] == {"name": "iris-mlp", "signature_name": "", "version": "1"}
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    (name, tensor), (out_name, out_tensor) = *signature["inputs"].items(), *signature["outputs"].items()
    assert name == "input" and tensor["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in tensor["tensor_shape"]["dim"]] == ["-1", "4"]
    assert out_name == "output_0" and [d["size"] for d in out_tensor["tensor_shape"]["dim"]] == ["-1", "3"]
    assert served.get("/v1/models/iris-mlp/metadata").json()["model_spec"]["version"] == "2"


def publish_copy_of_version_1(data_dir: Path) -> int:
    """Publish a copy of version 1 as the next version, as a worker would while the server runs."""
    registry = LocalRegistry(Settings(data_dir=data_dir).resolved_registry_dir)
    staged = registry.new_staging_dir()
    shutil.copytree(registry.artifact_path("iris-mlp", 1).parent, staged, dirs_exist_ok=True)
    metadata = registry.read_version("iris-mlp", 1).model_dump(exclude={"name", "version", "created_at", "sha256"})
    return registry.publish("iris-mlp", staged, {**metadata, "job_id": "job-copy"}).version


def test_new_versions_and_alias_moves_take_effect_without_restart(served: TestClient, tmp_path: Path) -> None:
    served.put("/models/iris-mlp/aliases/prod", json={"version": 1})
    assert served.post("/v1/models/iris-mlp/labels/prod:predict", json={"instances": ROWS}).json() == {
        "predictions": native(served, version=1)
    }

    assert publish_copy_of_version_1(tmp_path / "served") == 3
    latest = served.post("/v1/models/iris-mlp:predict", json={"instances": ROWS}).json()
    assert latest == {"predictions": native(served, version=1)}
    assert served.post("/predict", json={"model": "iris-mlp", "instances": ROWS}).json()["version"] == 3

    assert 'version="2"' not in served.get("/metrics").text
    served.put("/models/iris-mlp/aliases/prod", json={"version": 2})
    assert 'maas_model_loaded{model="iris-mlp",runtime="onnxruntime",version="2"} 1.0' in served.get("/metrics").text
    moved = served.post("/v1/models/iris-mlp/labels/prod:predict", json={"instances": ROWS}).json()
    assert moved == {"predictions": native(served, version=2)} != latest


def test_fastapis_own_routing_answers_as_the_fast_path_does(served: TestClient, tmp_path: Path) -> None:
    """Behind a path prefix (`root_path`) the prediction POSTs take FastAPI's routing, not the fast path."""
    infer = {"inputs": [{"name": "input", "shape": [5, 4], "datatype": "FP32", "data": ROWS}]}
    with TestClient(create_app(Settings(data_dir=tmp_path / "served", workers=0)), root_path="/api") as routed:
        for path, body in [
            ("/predict", {"model": "iris-mlp", "instances": ROWS}),
            ("/v1/models/iris-mlp:predict", {"instances": ROWS}),
            ("/v2/models/iris-mlp/infer", {**infer, "id": "same"}),
            ("/v1/models/iris-mlp:predict", {"instances": [[1.0]]}),
            ("/predict", {"model": "iris-mlp", "instances": [[1.0]]}),
        ]:
            fast, slow = served.post(path, json=body), routed.post(f"/api{path}", json=body)
            assert (slow.status_code, slow.json()) == (fast.status_code, fast.json())


def test_more_rows_than_max_instances_is_413_in_every_protocol(served: TestClient, tmp_path: Path) -> None:
    infer = {"inputs": [{"name": "input", "shape": [5, 4], "datatype": "FP32", "data": ROWS}]}
    with TestClient(create_app(Settings(data_dir=tmp_path / "served", workers=0, max_instances=4))) as capped:
        assert "MAAS_MAX_INSTANCES" in assert_error(
            capped.post("/v1/models/iris-mlp:predict", json={"instances": ROWS}), 413
        )
        assert "MAAS_MAX_INSTANCES" in assert_error(capped.post("/v2/models/iris-mlp/infer", json=infer), 413)
        native_response = capped.post("/predict", json={"model": "iris-mlp", "instances": ROWS})
        assert native_response.status_code == 413 and native_response.json()["code"] == "too_large"
        assert capped.post("/v1/models/iris-mlp:predict", json={"instances": ROWS[:4]}).status_code == 200

"""Payload codecs: every accepted form decodes to the same float32 batch, wrong ones say what was expected, and
responses encode the model's rows exactly (float32 survives JSON and binary alike)."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import ValidationError

from app.errors import Invalid, InvalidInput, MalformedBody, TooLarge
from app.serving.codecs import native, oip, tfserving
from tests.unit.iris_version import META, OUT

BATCH = np.array([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]], dtype=np.float32)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


# --- native -----------------------------------------------------------------------------------------------


def test_native_round_trip_with_class_labels() -> None:
    request = native.decode(dumps({"model": "iris-mlp", "alias": "prod", "instances": BATCH.tolist()}))
    np.testing.assert_array_equal(native.to_batch(request.instances, META), BATCH)
    body = orjson.loads(native.encode(META, OUT))
    assert body["model"] == "iris-mlp" and body["version"] == 3 and body["classes"] == ["setosa", "versicolor"]
    np.testing.assert_array_equal(np.array(body["predictions"], dtype=np.float32), OUT)


@pytest.mark.parametrize(
    ("instances", "fragment"),
    [
        ([[1, 2, 3]], "[-1, 4]"),
        ([[1, 2], [3, 4, 5, 6]], "rectangular"),
        ([["a", 1, 2, 3]], "numbers"),
        ([[1e39, 0, 0, 0]], "infinite"),
    ],
)
def test_native_instances_that_do_not_fit_name_the_expected_shape(instances: Any, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment.replace("[", r"\[")):
        native.to_batch(instances, META)


def test_native_envelope_errors() -> None:
    with pytest.raises(MalformedBody):
        native.decode(b'{"model": ')
    with pytest.raises(ValidationError):
        native.decode(dumps({"model": "m", "version": 1, "alias": "a", "instances": [[1, 2, 3, 4]]}))
    with pytest.raises(ValidationError):
        native.decode(dumps({"model": "m", "instances": [], "extra": 1}))


# --- TensorFlow Serving -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "columnar"),
    [
        ({"instances": BATCH.tolist()}, False),
        ({"instances": [{"input": row} for row in BATCH.tolist()], "signature_name": "serving_default"}, False),
        ({"inputs": BATCH.tolist()}, True),
        ({"inputs": {"input": BATCH.tolist()}, "signature_name": "serve"}, True),
    ],
)
def test_tfserving_row_and_columnar_forms_decode_to_one_batch(payload: dict[str, Any], columnar: bool) -> None:
    call = tfserving.decode_predict(dumps(payload), META)
    np.testing.assert_array_equal(call.batch, BATCH)
    body = orjson.loads(tfserving.encode_predict(call, OUT))
    assert list(body) == ["outputs" if columnar else "predictions"]
    np.testing.assert_array_equal(np.array(next(iter(body.values())), dtype=np.float32), OUT)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}, "Only one of"),
        ({}, "Missing"),
        ({"signature_name": "predict_images", "instances": [[1, 2, 3, 4]]}, "predict_images"),
        ({"instances": [{"images": [1, 2, 3, 4]}]}, "'input'"),
        ({"instances": [[1, 2, 3]]}, "[-1, 4]"),
    ],
)
def test_tfserving_bad_requests(payload: dict[str, Any], fragment: str) -> None:
    with pytest.raises((Invalid, MalformedBody)) as info:
        tfserving.decode_predict(dumps(payload), META)
    assert fragment in info.value.detail


def test_tfserving_metadata_and_status_are_shaped_like_tf_servings() -> None:
    signature = tfserving.model_metadata(META)["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["input"]["tensor_shape"]["dim"] == [
        {"size": "-1", "name": ""},
        {"size": "4", "name": ""},
    ]
    assert signature["outputs"]["output_0"]["dtype"] == "DT_FLOAT"
    assert [s["version"] for s in tfserving.model_status([1, 3])["model_version_status"]] == ["3", "1"]


# --- Open Inference Protocol ------------------------------------------------------------------------------


def infer_payload(data: Any, datatype: str = "FP32", shape: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "input", "shape": shape or [2, 4], "datatype": datatype, "data": data}], **extra}


@pytest.mark.parametrize(
    "payload",
    [
        infer_payload(BATCH.ravel().tolist()),
        infer_payload(BATCH.tolist()),
        infer_payload(BATCH.astype(np.float64).ravel().tolist(), "FP64"),
    ],
)
def test_oip_flat_and_nested_json_decode_to_one_batch(payload: dict[str, Any]) -> None:
    call = oip.decode_infer(dumps({**payload, "id": "abc"}), None, META)
    np.testing.assert_array_equal(call.batch, BATCH)
    assert call.id == "abc" and call.outputs == (oip.RequestedOutput("output_0", False),)


def test_oip_integer_datatypes_are_accepted_and_fractions_refused() -> None:
    ints = [[5, 3, 1, 0], [6, 2, 4, 1]]
    for datatype in ("INT32", "INT64"):
        np.testing.assert_array_equal(oip.decode_infer(dumps(infer_payload(ints, datatype)), None, META).batch, ints)
    with pytest.raises(InvalidInput, match="INT32"):
        oip.decode_infer(dumps(infer_payload(BATCH.tolist(), "INT32")), None, META)


def test_oip_binary_request_and_response_round_trip_exactly() -> None:
    raw = BATCH.astype("<f8").tobytes()
    header = dumps(
        {
            "inputs": [
                {"name": "input", "shape": [2, 4], "datatype": "FP64", "parameters": {"binary_data_size": len(raw)}}
            ],
            "outputs": [{"name": "output_0", "parameters": {"binary_data": True}}],
        }
    )
    call = oip.decode_infer(header + raw, str(len(header)), META)
    np.testing.assert_array_equal(call.batch, BATCH)
    body, json_length = oip.encode_infer(META, call, OUT)
    assert json_length is not None
    response = orjson.loads(body[:json_length])
    assert response["model_version"] == "3" and response["outputs"][0]["parameters"] == {"binary_data_size": 24}
    np.testing.assert_array_equal(np.frombuffer(body[json_length:], dtype="<f4").reshape(2, 3), OUT)


def test_oip_binary_data_output_makes_every_output_binary_unless_one_says_otherwise() -> None:
    asked = infer_payload(BATCH.tolist(), parameters={"binary_data_output": True})
    assert oip.decode_infer(dumps(asked), None, META).outputs[0].binary
    overridden = {**asked, "outputs": [{"name": "output_0", "parameters": {"binary_data": False}}]}
    call = oip.decode_infer(dumps(overridden), None, META)
    body, json_length = oip.encode_infer(META, call, OUT)
    assert json_length is None
    np.testing.assert_array_equal(np.array(orjson.loads(body)["outputs"][0]["data"], np.float32).reshape(2, 3), OUT)


@pytest.mark.parametrize(
    ("body", "header_length", "fragment"),
    [
        (dumps(infer_payload(BATCH.tolist(), "BOOL")), None, "FP32"),
        (dumps(infer_payload([1.0] * 7)), None, "needs 8"),
        (dumps(infer_payload([1.0] * 6, shape=[2, 3])), None, "[-1, 4]"),
        (dumps(infer_payload([1.0] * 8, shape=[2, -4])), None, "non-negative"),
        (
            dumps(infer_payload(BATCH.tolist(), outputs=[{"name": "output_0", "parameters": {"classification": 2}}])),
            None,
            "classification",
        ),
        (dumps(infer_payload(BATCH.tolist())) + b"\x00" * 8, "12", "JSON"),
        (dumps(infer_payload(BATCH.tolist())) + b"\x00" * 8, None, "JSON"),
        (b"[]", None, "object"),
    ],
)
def test_oip_bad_requests(body: bytes, header_length: str | None, fragment: str) -> None:
    with pytest.raises((Invalid, MalformedBody)) as info:
        oip.decode_infer(body, header_length, META)
    assert fragment in info.value.detail


def test_oip_metadata_uses_minus_one_for_the_batch_dimension() -> None:
    meta = oip.model_metadata(META, [3, 1])
    assert meta["versions"] == ["1", "3"] and meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["outputs"] == [{"name": "output_0", "datatype": "FP32", "shape": [-1, 3]}]


def test_oip_decompresses_gzip_and_deflate_bodies() -> None:
    import gzip
    import zlib

    payload = dumps(infer_payload(BATCH.tolist()))
    assert oip.decompress(gzip.compress(payload), "gzip", len(payload)) == payload
    assert oip.decompress(zlib.compress(payload), "deflate", len(payload)) == payload
    with pytest.raises(MalformedBody):
        oip.decompress(payload, "br", len(payload))
    with pytest.raises(TooLarge):
        oip.decompress(gzip.compress(payload), "gzip", len(payload) - 1)


def test_codecs_and_batcher_load_without_tensorflow_or_a_web_framework() -> None:
    """They sit on the hot path of every protocol and in the unit tier: no heavy import may creep in."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import app.serving.batcher, app.serving.codecs.native, app.serving.codecs.tfserving, app.serving.codecs.oip\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'fastapi', 'starlette', 'onnxruntime') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "[]"

"""TensorFlow Serving's REST payloads: predict in row (`instances`) or columnar (`inputs`) form, model status
and metadata, each shaped exactly as TensorFlow Serving's REST API documents them.

Every maas model has one input and one output, named as in the SavedModel exported at publish, so a client can
switch between maas and TensorFlow Serving serving that SavedModel without a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.errors import MalformedBody
from app.registry import ModelVersion
from app.serving.codecs.common import (
    INPUT_NAME,
    OUTPUT_NAME,
    check_batch,
    dumps,
    loads,
    to_array,
)

#: Signature names a request may give: Keras' export writes both, TF Serving's default is `serving_default`.
SIGNATURES = ("serving_default", "serve")


@dataclass(frozen=True)
class PredictCall:
    batch: np.ndarray
    columnar: bool


def decode_predict(body: bytes, meta: ModelVersion) -> PredictCall:
    """The batch of a `:predict` request; MalformedBody or InvalidInput (both answered 400) when it is wrong."""
    payload = loads(body)
    if not isinstance(payload, dict):
        raise MalformedBody("the request body must be a JSON object")
    signature = payload.get("signature_name") or "serving_default"
    if signature not in SIGNATURES:
        raise MalformedBody(f'Serving signature name: "{signature}" not found in signature def')
    if "instances" in payload and "inputs" in payload:
        raise MalformedBody('Only one of "instances" or "inputs" must be specified')
    if "instances" in payload:
        return PredictCall(check_batch(_rows(payload["instances"], meta), "instances", meta), columnar=False)
    if "inputs" in payload:
        value = _unwrap(payload["inputs"], "inputs")
        return PredictCall(check_batch(to_array(value, "inputs", meta), "inputs", meta), columnar=True)
    raise MalformedBody("Missing 'inputs' or 'instances' key")


def _rows(instances: Any, meta: ModelVersion) -> np.ndarray:
    """Row format: a list with one tensor per instance, or one `{"input": tensor}` object per instance."""
    if not isinstance(instances, list) or not instances:
        raise MalformedBody('"instances" must be a non-empty JSON list')
    if isinstance(instances[0], dict):
        instances = [_unwrap(row, "instances") for row in instances]
    return to_array(instances, "instances", meta)


def _unwrap(value: Any, what: str) -> Any:
    """A named tensor `{"input": x}` as `x`; anything else as it is."""
    if not isinstance(value, dict):
        return value
    if set(value) != {INPUT_NAME}:
        raise MalformedBody(f"{what} name a tensor {sorted(value)}; this model has one input, {INPUT_NAME!r}")
    return value[INPUT_NAME]


def encode_predict(call: PredictCall, outputs: np.ndarray) -> bytes:
    """Row requests get `predictions`, columnar ones `outputs`; one output, so no tensor names."""
    return dumps({"outputs" if call.columnar else "predictions": np.ascontiguousarray(outputs)})


def model_status(versions: list[int]) -> dict[str, Any]:
    """`GET /v1/models/{name}[/versions/{v}]`: every version maas can serve is AVAILABLE (loaded on first use)."""
    return {
        "model_version_status": [
            {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for v in sorted(versions, reverse=True)
        ]
    }


def _tensor_info(name: str, shape: list[int | None]) -> dict[str, Any]:
    dims = [{"size": str(-1 if d is None else d), "name": ""} for d in shape]
    return {"dtype": "DT_FLOAT", "tensor_shape": {"dim": dims, "unknown_rank": False}, "name": name}


def model_metadata(meta: ModelVersion) -> dict[str, Any]:
    """`GET .../metadata`: the `serving_default` signature, as TensorFlow Serving prints a SignatureDefMap."""
    signature = {
        "inputs": {INPUT_NAME: _tensor_info(f"serving_default_{INPUT_NAME}:0", meta.input_shape)},
        "outputs": {OUTPUT_NAME: _tensor_info("StatefulPartitionedCall:0", meta.output_shape)},
        "method_name": "tensorflow/serving/predict",
        "defaults": {},
    }
    return {
        "model_spec": {"name": meta.name, "signature_name": "", "version": str(meta.version)},
        "metadata": {"signature_def": {"signature_def": dict.fromkeys(SIGNATURES, signature)}},
    }

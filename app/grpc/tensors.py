"""Tensors of both gRPC protocols to and from numpy batches: the Open Inference Protocol's `InferInputTensor`
(typed `contents` or `raw_input_contents`) and TensorFlow's `TensorProto` (`*_val` fields or `tensor_content`).

Pure functions of messages, numpy and a version's metadata. Every batch is checked against the model's input
(`check_batch`) before it may join others, as the REST codecs do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tritonclient.grpc import service_pb2 as oip

from app.errors import InvalidInput, MalformedBody
from app.grpc import messages
from app.registry import ModelVersion
from app.serving.codecs.common import INPUT_NAME, OUTPUT_NAME, check_batch, expected_shape
from app.serving.codecs.oip import DATATYPES

#: The typed `contents` field of each supported datatype.
CONTENTS = {"FP32": "fp32_contents", "FP64": "fp64_contents", "INT32": "int_contents", "INT64": "int64_contents"}
#: TensorFlow DataType number -> (numpy dtype, `TensorProto` value field).
TF_TYPES = {
    1: (np.dtype("<f4"), "float_val"),
    2: (np.dtype("<f8"), "double_val"),
    3: (np.dtype("<i4"), "int_val"),
    9: (np.dtype("<i8"), "int64_val"),
}
DT_FLOAT = 1
#: Where a tensor's values go, for the message of a size that does not match its shape (written once, not per call).
OIP_HINTS = {
    datatype: f"{datatype} values go in raw_input_contents or contents.{field}" for datatype, field in CONTENTS.items()
}
TF_HINTS = {number: f"its values go in tensor_content or {field}" for number, (_, field) in TF_TYPES.items()}


@dataclass(slots=True)  # (not frozen: a frozen dataclass' __init__ costs a setattr call per field, per request)
class InferCall:
    id: str
    batch: np.ndarray


def decode_infer(request: Any, meta: ModelVersion) -> InferCall:
    """A `ModelInferRequest` as a float32 batch; InvalidInput or MalformedBody (INVALID_ARGUMENT) when wrong."""
    inputs = request.inputs
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:  # (each field read builds a Python object: read once)
        names = [tensor.name for tensor in inputs]
        raise InvalidInput(f"model {meta.name!r} has one input, {INPUT_NAME!r}, but the request gives {names}")
    for output in request.outputs:
        if output.name != OUTPUT_NAME:
            raise InvalidInput(
                f"model {meta.name!r} has one output, {OUTPUT_NAME!r}; the request asks for {output.name!r}"
            )
        if "classification" in output.parameters:
            raise InvalidInput("the classification extension is not supported; ask for the raw output")
    tensor = inputs[0]
    datatype = tensor.datatype
    dtype = DATATYPES.get(datatype)
    if dtype is None:
        raise InvalidInput(f"input datatype {datatype!r} is not supported; use one of {', '.join(DATATYPES)}")
    raw = request.raw_input_contents
    if len(raw) > 1:
        raise MalformedBody(f"the request has {len(raw)} raw_input_contents for one input")
    if raw:
        flat = _from_bytes(raw[0], dtype, "raw_input_contents")
    else:
        flat = _from_values(getattr(tensor.contents, CONTENTS[datatype]), dtype)
    return InferCall(request.id, _shaped(flat, list(tensor.shape), OIP_HINTS[datatype], meta))


def encode_infer(meta: ModelVersion, call: InferCall, outputs: np.ndarray) -> Any:
    """The `ModelInferResponse`, its tensor in `raw_output_contents` (as Triton answers, and `as_numpy` reads)."""
    values = np.ascontiguousarray(outputs, dtype="<f4")
    response = oip.ModelInferResponse(model_name=meta.name, model_version=str(meta.version), id=call.id)
    response.outputs.add(name=OUTPUT_NAME, datatype="FP32", shape=values.shape)
    response.raw_output_contents.append(values.tobytes())
    return response


def from_tensor_proto(tensor: Any, meta: ModelVersion) -> tuple[np.ndarray, bool]:
    """A `TensorProto` as a float32 batch, and whether its values came in `tensor_content`."""
    if tensor.dtype not in TF_TYPES:
        name = messages.DATA_TYPE.values_by_number.get(tensor.dtype)
        raise InvalidInput(
            f"input dtype {name.name if name else tensor.dtype} is not supported; use DT_FLOAT, DT_DOUBLE, DT_INT32 "
            "or DT_INT64"
        )
    dtype, field = TF_TYPES[tensor.dtype]
    if tensor.tensor_shape.unknown_rank:
        raise InvalidInput(f"input {INPUT_NAME!r} must have a known shape, {expected_shape(meta)}")
    shape = [dim.size for dim in tensor.tensor_shape.dim]
    if tensor.tensor_content:
        flat = _from_bytes(tensor.tensor_content, dtype, "tensor_content")
    else:
        flat = _from_values(getattr(tensor, field), dtype)
    return _shaped(flat, shape, TF_HINTS[tensor.dtype], meta), bool(tensor.tensor_content)


def to_tensor_proto(outputs: np.ndarray, *, as_content: bool) -> Any:
    """A DT_FLOAT `TensorProto`, in `tensor_content` or `float_val` as the request sent its input."""
    values = np.ascontiguousarray(outputs, dtype="<f4")
    tensor = messages.TensorProto(dtype=DT_FLOAT)
    tensor.tensor_shape.dim.extend(tensor.tensor_shape.Dim(size=d) for d in values.shape)
    if as_content:
        tensor.tensor_content = values.tobytes()
    else:
        tensor.float_val.extend(values.ravel().tolist())
    return tensor


def _from_bytes(data: bytes, dtype: np.dtype, what: str) -> np.ndarray:
    if len(data) % dtype.itemsize:
        raise MalformedBody(f"{what} has {len(data)} bytes, not a whole number of {dtype.itemsize}-byte values")
    return np.frombuffer(data, dtype=dtype)


def _from_values(values: Any, dtype: np.dtype) -> np.ndarray:
    with np.errstate(over="ignore"):  # too large for float32 becomes inf, refused by `check_batch`
        return np.asarray(values, dtype=dtype)


def _shaped(flat: np.ndarray, shape: list[int], hint: str, meta: ModelVersion) -> np.ndarray:
    size = 1
    for d in shape:
        if d < 0:
            raise InvalidInput(
                f"input shape {shape} has a negative dimension; model {meta.name!r} expects {expected_shape(meta)}"
            )
        size *= d
    if flat.size != size:
        raise InvalidInput(f"input {INPUT_NAME!r} has {flat.size} values but its shape {shape} needs {size} ({hint})")
    return check_batch(flat.reshape(shape), "inputs", meta)

"""The Open Inference Protocol (KServe V2, spoken by Triton, MLServer and KServe): infer requests and responses,
including Triton's binary tensor data extension, and model and server metadata.

With the extension a body is a JSON header of `Inference-Header-Content-Length` bytes followed by raw tensors,
each declared by `"parameters": {"binary_data_size": n}`; outputs are sent raw when the request asks for it per
output (`binary_data`) or for all (`binary_data_output`), which the stock `tritonclient` does by default.
"""

from __future__ import annotations

import math
import secrets
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.errors import InvalidInput, MalformedBody, TooLarge
from app.registry import ModelVersion
from app.serving.codecs.common import (
    INPUT_NAME,
    OUTPUT_NAME,
    check_batch,
    dumps,
    expected_shape,
    loads,
)

DATATYPES = {"FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8")}
_KINDS = {"FP32": "iuf", "FP64": "iuf", "INT32": "iu", "INT64": "iu"}
PLATFORMS = {"onnxruntime": "onnxruntime_onnx", "tensorflow": "tensorflow_keras"}


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary: bool


@dataclass(frozen=True)
class InferCall:
    id: str
    batch: np.ndarray
    outputs: tuple[RequestedOutput, ...]


IDENTITY = (None, "", "identity")
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """The body as sent before `Content-Encoding` (gzip or deflate, which `tritonclient` can use), inflated only
    up to `max_bytes` (TooLarge past it): a megabyte on the wire must not become a gigabyte in the server."""
    if encoding in IDENTITY:
        return body
    if encoding not in _WBITS:
        raise MalformedBody(f"unsupported Content-Encoding {encoding!r}; use gzip or deflate")
    try:
        return _inflate(body, encoding, max_bytes)
    except zlib.error as exc:
        raise MalformedBody(f"the body is not valid {encoding} data: {exc}") from exc


def _inflate(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """Each gzip member in turn (a gzip body may be several), never asking zlib for more than the cap allows."""
    chunks: list[bytes] = []
    size, rest = 0, body
    while rest:
        inflater = zlib.decompressobj(_WBITS[encoding])
        chunks.append(inflater.decompress(rest, max_bytes + 1 - size))  # max_length >= 1: 0 would mean no cap
        size += len(chunks[-1])
        if size > max_bytes:
            raise TooLarge(f"the {encoding} body inflates to more than {max_bytes} bytes (MAAS_MAX_REQUEST_MB)")
        if not inflater.eof:
            raise MalformedBody(f"the body is not valid {encoding} data: it ends before its compressed stream does")
        rest = inflater.unused_data
        if rest and encoding != "gzip":
            raise MalformedBody(f"the body is not valid {encoding} data: bytes follow its compressed stream")
    return b"".join(chunks)


def decode_infer(body: bytes, header_length: str | None, meta: ModelVersion) -> InferCall:
    """An infer request as a float32 batch; MalformedBody or InvalidInput (both answered 400) when wrong."""
    header, binary = _split(body, header_length)
    payload = loads(header)
    if not isinstance(payload, dict):
        raise MalformedBody("the inference request must be a JSON object")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise MalformedBody("'id' must be a string")
    parameters = _parameters(payload)
    return InferCall(
        id=request_id if request_id is not None else secrets.token_hex(16),  # a fifth of uuid4's cost
        batch=_input(payload.get("inputs"), binary, meta),
        outputs=_requested(payload.get("outputs"), bool(parameters.get("binary_data_output", False)), meta),
    )


def _parameters(item: dict[str, Any]) -> dict[str, Any]:
    parameters = item.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise MalformedBody("'parameters' must be an object")
    return parameters


def _split(body: bytes, header_length: str | None) -> tuple[memoryview, memoryview]:
    view = memoryview(body)
    if header_length is None:
        return view, view[:0]
    try:
        size = int(header_length)
    except ValueError:
        size = -1
    if not 0 <= size <= len(body):
        raise MalformedBody(f"Inference-Header-Content-Length {header_length!r} does not fit a {len(body)}-byte body")
    return view[:size], view[size:]


def _input(inputs: Any, binary: memoryview, meta: ModelVersion) -> np.ndarray:
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        raise MalformedBody("'inputs' must be a non-empty list of tensors")
    names = [i.get("name") for i in inputs]
    if names != [INPUT_NAME]:
        raise InvalidInput(
            f"model {meta.name!r} has one input, {INPUT_NAME!r}, but the request gives {names}",
            errors=[{"loc": ["inputs"], "msg": f"expected one input named {INPUT_NAME!r}"}],
        )
    tensor = inputs[0]
    datatype, shape = tensor.get("datatype"), tensor.get("shape")
    if datatype not in DATATYPES:
        raise InvalidInput(f"input datatype {datatype!r} is not supported; use one of {', '.join(DATATYPES)}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise MalformedBody(f"input shape must be a list of non-negative integers, got {shape!r}")
    flat = _values(tensor, datatype, binary, meta)
    if flat.size != math.prod(shape):
        raise InvalidInput(
            f"input {INPUT_NAME!r} has {flat.size} values but its shape {shape} needs {math.prod(shape)}"
        )
    return check_batch(flat.reshape(shape), "inputs", meta)


def _values(tensor: dict[str, Any], datatype: str, binary: memoryview, meta: ModelVersion) -> np.ndarray:
    """The tensor's values, flat: from the binary section, or from `data` (flat or nested, row-major)."""
    dtype = DATATYPES[datatype]
    size = _parameters(tensor).get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size != len(binary) or size % dtype.itemsize:
            raise MalformedBody(f"binary_data_size {size!r} does not match the {len(binary)} bytes after the header")
        return np.frombuffer(binary, dtype=dtype).copy()
    if len(binary):
        raise MalformedBody("the body has binary data but no input declares its binary_data_size")
    if "data" not in tensor:
        raise MalformedBody(f"input {INPUT_NAME!r} has neither 'data' nor binary data")
    try:
        # Floats convert in one step; integers are first read as they are, so that a fraction is refused, not cut.
        with np.errstate(over="ignore"):  # too large for FP32 becomes inf, refused by `check_batch`
            values = np.asarray(tensor["data"], dtype=dtype if datatype.startswith("FP") else None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"input data must be a flat or rectangular nested list of numbers ({exc})") from exc
    if values.dtype.kind not in _KINDS[datatype]:
        raise InvalidInput(f"input data must be {datatype} numbers, shaped {expected_shape(meta)}")
    try:
        return values.astype(dtype, copy=False).ravel()
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(f"input data do not fit {datatype} ({exc})") from exc


def _requested(outputs: Any, binary_default: bool, meta: ModelVersion) -> tuple[RequestedOutput, ...]:
    if not outputs:
        return (RequestedOutput(OUTPUT_NAME, binary_default),)
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise MalformedBody("'outputs' must be a list of objects")
    requested = []
    for output in outputs:
        name, parameters = output.get("name"), _parameters(output)
        if name != OUTPUT_NAME:
            raise InvalidInput(f"model {meta.name!r} has one output, {OUTPUT_NAME!r}; the request asks for {name!r}")
        if "classification" in parameters:
            raise InvalidInput("the classification extension is not supported; ask for the raw output")
        requested.append(RequestedOutput(name, bool(parameters.get("binary_data", binary_default))))
    return tuple(requested)


def encode_infer(meta: ModelVersion, call: InferCall, outputs: np.ndarray) -> tuple[bytes, int | None]:
    """The response body and, when any output is binary, the length of its JSON header."""
    values = np.ascontiguousarray(outputs, dtype="<f4")
    entries: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for output in call.outputs:
        entry: dict[str, Any] = {"name": output.name, "datatype": "FP32", "shape": list(values.shape)}
        if output.binary:
            blobs.append(values.tobytes())
            entry["parameters"] = {"binary_data_size": len(blobs[-1])}
        else:
            entry["data"] = values.ravel()
        entries.append(entry)
    header = dumps({"model_name": meta.name, "model_version": str(meta.version), "id": call.id, "outputs": entries})
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)


def model_metadata(meta: ModelVersion, versions: list[int]) -> dict[str, Any]:
    """`GET /v2/models/{name}[/versions/{v}]`: tensors with datatype and shape, -1 for the batch dimension."""
    runtime = getattr(meta, "runtime", None) or "tensorflow"
    return {
        "name": meta.name,
        "versions": [str(v) for v in sorted(versions)],
        "platform": PLATFORMS.get(runtime, runtime),
        "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": expected_shape(meta)}],
        "outputs": [
            {"name": OUTPUT_NAME, "datatype": "FP32", "shape": [-1 if d is None else d for d in meta.output_shape]}
        ],
    }


def server_metadata(version: str) -> dict[str, Any]:
    return {"name": "maas", "version": version, "extensions": ["binary_tensor_data"]}

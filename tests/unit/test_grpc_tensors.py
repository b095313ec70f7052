"""The gRPC tensor codecs on their own: ModelInferRequest / TensorProto in every supported form to the batch the
REST codecs would give, and back; wrong inputs refused with the reason."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tritonclient.grpc import service_pb2 as oip

from app.errors import InvalidInput, MalformedBody
from app.grpc import messages, tensors
from tests.unit.iris_version import META, OUT

BATCH = np.array([[5.0, 3.0, 1.0, 0.0], [6.0, 2.0, 4.0, 1.0]], dtype=np.float32)


def infer_request(datatype: str = "FP32", *, raw: bytes | None = None, shape: tuple[int, ...] = (2, 4)) -> Any:
    request = oip.ModelInferRequest(model_name="iris-mlp", id="r-1")
    tensor = request.inputs.add(name="input", datatype=datatype, shape=shape)
    if raw is not None:
        request.raw_input_contents.append(raw)
    elif datatype in tensors.CONTENTS:
        values = BATCH.astype(tensors.DATATYPES[datatype]).ravel().tolist()
        getattr(tensor.contents, tensors.CONTENTS[datatype]).extend(values)
    return request


@pytest.mark.parametrize("datatype", ["FP32", "FP64", "INT32", "INT64"])
def test_typed_and_raw_contents_of_each_datatype_decode_to_the_same_float32_batch(datatype: str) -> None:
    raw = BATCH.astype(tensors.DATATYPES[datatype]).tobytes()

    typed = tensors.decode_infer(infer_request(datatype), META)
    from_raw = tensors.decode_infer(infer_request(datatype, raw=raw), META)

    assert typed.id == "r-1"
    for call in (typed, from_raw):
        assert call.batch.dtype == np.float32
        np.testing.assert_array_equal(call.batch, BATCH)


def test_the_response_carries_the_rows_raw_as_triton_answers() -> None:
    call = tensors.decode_infer(infer_request(), META)

    response = tensors.encode_infer(META, call, OUT)

    assert (response.model_name, response.model_version, response.id) == ("iris-mlp", "3", "r-1")
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [("output_0", "FP32", [2, 3])]
    np.testing.assert_array_equal(np.frombuffer(response.raw_output_contents[0], "<f4").reshape(2, 3), OUT)


@pytest.mark.parametrize(
    ("request_", "error", "message"),
    [
        (infer_request(shape=(4, 2)), InvalidInput, r"have shape \[4, 2\] but .* expects \[-1, 4\]"),
        (infer_request(shape=(4, 4)), InvalidInput, r"8 values but its shape \[4, 4\] needs 16"),
        (infer_request("BYTES"), InvalidInput, "'BYTES' is not supported"),
        (infer_request(raw=b"12345"), MalformedBody, "5 bytes, not a whole number of 4-byte values"),
        (infer_request("INT32"), None, None),
    ],
    ids=["shape", "count", "datatype", "raw-size", "fine"],
)
def test_bad_infer_requests_are_refused_with_the_reason(
    request_: Any, error: type[Exception] | None, message: str | None
) -> None:
    if error is None:
        tensors.decode_infer(request_, META)
        return
    with pytest.raises(error, match=message):
        tensors.decode_infer(request_, META)


def test_tensor_protos_decode_from_tensor_content_or_float_val_and_answer_in_kind() -> None:
    as_content = messages.TensorProto(dtype=1, tensor_content=BATCH.tobytes())
    as_values = messages.TensorProto(dtype=1, float_val=BATCH.ravel().tolist())
    for tensor in (as_content, as_values):
        tensor.tensor_shape.dim.add(size=2)
        tensor.tensor_shape.dim.add(size=4)

    for tensor, content in ((as_content, True), (as_values, False)):
        batch, as_sent = tensors.from_tensor_proto(tensor, META)
        np.testing.assert_array_equal(batch, BATCH)
        assert as_sent is content
        answer = tensors.to_tensor_proto(OUT, as_content=content)
        assert [d.size for d in answer.tensor_shape.dim] == [2, 3] and bool(answer.tensor_content) is content


def test_a_string_tensor_proto_is_refused_naming_the_types_that_work() -> None:
    tensor = messages.TensorProto(dtype=7, string_val=[b"a"])  # DT_STRING

    with pytest.raises(InvalidInput, match="DT_STRING is not supported; use DT_FLOAT"):
        tensors.from_tensor_proto(tensor, META)
